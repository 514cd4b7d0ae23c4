"""Column roles (numeric, categorical, datetime, id, text, drop), inferred from a table or set in the config.

Roles decide which columns the model sees and how; the statistics the transforms need (medians, vocabularies,
scales) are fitted later, on the training split only (tabflow.features.preprocessor).
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd

from tabflow import settings
from tabflow.errors import DataError

USED = ("numeric", "categorical", "datetime")  # the roles the model reads; the others are dropped
MISSING = "(missing)"  # a category of its own: that a value is absent often means something


ID_NAME = re.compile(r"(^|[_\W])(id|uuid|key|guid)$|^id[_\W]", re.IGNORECASE)


def infer_roles(
    frame: pd.DataFrame, target: str, overrides: dict[str, str], max_text_share: float
) -> tuple[dict[str, str], dict[str, int]]:
    """Every feature column's role, and for numeric columns stored as text the count of cells coerced to missing.

    Text in a mostly numeric column is coerced (and counted) up to `max_text_share` of its values; past that the
    column is an error, since quietly treating prices as categories would be worse.
    """
    unknown = sorted(set(overrides) - set(frame.columns))
    if unknown:
        raise DataError(f"data.columns names {unknown[0]!r}, which is not in the table; fix the name or remove it")
    roles, coerced = {}, {}
    for name in frame.columns:
        if name == target:
            continue
        if name in overrides:
            roles[name] = overrides[name]
            continue
        roles[name], bad = _infer(frame[name], str(name), max_text_share)
        if bad:
            coerced[str(name)] = bad
    return roles, coerced


def _infer(col: pd.Series, name: str, max_text_share: float) -> tuple[str, int]:
    present = col.dropna()
    if present.nunique() <= 1:
        return "drop", 0  # constant (or empty): nothing to learn from
    if pd.api.types.is_bool_dtype(col):
        return "categorical", 0
    if pd.api.types.is_datetime64_any_dtype(col):
        return "datetime", 0
    if pd.api.types.is_numeric_dtype(col):
        return _infer_number(present, name), 0
    text = present.astype(str)
    if _numbers_share(text) < 0.4:
        share_text = 1.0  # clearly text (from a sample): skip parsing a million strings as numbers
    else:
        numbers = pd.to_numeric(text, errors="coerce")
        share_text = float(numbers.isna().mean())
    if share_text < 0.5:  # mostly numbers: a numeric column with some junk in it
        if share_text > max_text_share:
            example = text[numbers.isna()].iloc[0]
            raise DataError(
                f"column {name!r} holds numbers but {share_text:.0%} of its values are text (e.g. "
                f"{example[:30]!r}); clean it, or set its role in data.columns (e.g. categorical)"
            )
        return _infer_number(numbers.dropna(), name), int(numbers.isna().sum())
    if _looks_like_dates(text):
        return "datetime", 0
    unique_share = text.nunique() / len(text)
    if unique_share > 0.95 and len(text) >= 20:
        return ("text" if text.str.contains(r"\s").mean() > 0.5 else "id"), 0
    return "categorical", 0


def _numbers_share(text: pd.Series, n: int = 2000) -> float:
    sample = text.sample(n, random_state=0) if len(text) > n else text
    return float(pd.to_numeric(sample, errors="coerce").notna().mean())


def _infer_number(present: pd.Series, name: str) -> str:
    integral = bool(np.all(np.mod(present.to_numpy(dtype="float64"), 1) == 0))
    if integral and present.nunique() == len(present) and len(present) >= 20:
        ordered = present.sort_values().to_numpy(dtype="float64")
        if ID_NAME.search(name) or np.all(np.diff(ordered) == 1):
            return "id"  # a row number or key: unique per row, it predicts nothing that generalises
    if integral and present.nunique() <= settings.CATEGORICAL_INT_MAX:
        return "categorical"
    return "numeric"


def _looks_like_dates(text: pd.Series) -> bool:
    sample = text.head(200)
    if not sample.str.contains(r"\d").all() or sample.str.len().min() < 6:
        return False
    with warnings.catch_warnings():  # "could not infer format": the fallback parse is what we test anyway
        warnings.simplefilter("ignore")
        parsed = pd.to_datetime(sample, errors="coerce", format="mixed")
    return bool(parsed.notna().mean() > 0.95)
