"""Column roles (numeric, categorical, datetime, id, text, drop), inferred from a table or set in the config.

Roles decide which columns the model sees and how; the statistics the transforms need (medians, vocabularies,
scales) are fitted later, on the training split only (see tabflow.model.fit_preprocessor).
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from tabflow.errors import DataError

USED = ("numeric", "categorical", "datetime")  # the roles the model reads; the others are dropped
CATEGORICAL_INT_MAX = 10  # integer columns with at most this many values are codes, not quantities
ID_NAME = re.compile(r"(^|[_\W])(id|uuid|key|guid)$|^id[_\W]", re.IGNORECASE)


def infer_roles(frame: pd.DataFrame, target: str, overrides: dict[str, str], max_text_share: float
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
            raise DataError(f"column {name!r} holds numbers but {share_text:.0%} of its values are text (e.g. "
                            f"{example[:30]!r}); clean it, or set its role in data.columns (e.g. categorical)")
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
    if integral and present.nunique() <= CATEGORICAL_INT_MAX:
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


def coerce(frame: pd.DataFrame, roles: dict[str, str]) -> pd.DataFrame:
    """Each used column in the dtype its role reads: float64 numbers (ints may be missing at serving),
    strings for categories, datetimes; the same function runs at training and at serving.

    Numeric columns already stored as numbers convert as one block: a column at a time cost ~1 ms a request
    for the demo table's 30 columns when serving single rows."""
    numeric = [n for n, r in roles.items() if r == "numeric"]
    parts = {}
    if numeric:
        block = frame[numeric]
        if all(pd.api.types.is_numeric_dtype(t) for t in block.dtypes):
            parts.update(block.astype("float64").items())
        else:
            parts.update((n, pd.to_numeric(block[n], errors="coerce").astype("float64")) for n in numeric)
    for name, role in roles.items():
        if role == "categorical":
            parts[name] = _categories(frame[name])
        elif role == "datetime":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                parts[name] = pd.to_datetime(frame[name], errors="coerce", format="mixed")
    return pd.DataFrame({n: parts[n] for n, r in roles.items() if r in USED}, index=frame.index)


def numbers(frame: pd.DataFrame, names: list[str]) -> np.ndarray:
    """The columns as one float64 matrix, text that is no number as NaN; JSON numbers need no parsing (this runs
    on every request tabflow serve answers)."""
    block = frame[names]
    if all(pd.api.types.is_numeric_dtype(t) for t in block.dtypes):
        return block.to_numpy(dtype="float64", na_value=np.nan)
    return coerce(block, dict.fromkeys(names, "numeric")).to_numpy(dtype="float64")


def as_float32(x) -> np.ndarray:
    return np.asarray(x, dtype="float32")


def check_finite(frame: pd.DataFrame, columns: list[str]) -> None:
    for name in columns:
        col = frame[name]
        if pd.api.types.is_float_dtype(col):
            n = int(np.isinf(col.to_numpy()).sum())
            if n:
                raise DataError(f"column {name!r} has {n} infinite value(s); replace them with finite numbers or "
                                "leave the cells empty")


def _categories(col: pd.Series) -> pd.Series:
    """Categories as strings, one spelling per value whatever the file's dtype: 3, 3.0 and "3" are all "3".
    Vectorised for the common dtypes (a Python call per cell took 2.7 s of 7 s at 100k rows); missing stays
    missing."""
    if pd.api.types.is_float_dtype(col):
        values = col.to_numpy(dtype="float64")
        whole = np.isfinite(values) & (np.mod(values, 1) == 0)
        out = col.astype("str")
        out[whole] = col[whole].astype("int64").astype("str")
        return out
    if pd.api.types.is_object_dtype(col):  # mixed Python values: one at a time
        return col.map(_category, na_action="ignore").astype("str")
    return col.astype("str")  # strings, integers, booleans ("True" / "False")


def _category(value) -> str:
    """One spelling per category whatever the file's dtype: 3, 3.0 and "3" are all "3"."""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


MISSING = "(missing)"  # a category of its own: that a value is absent often means something


class Vocabulary(TransformerMixin, BaseEstimator):
    """Each categorical column as an integer code, learned from the training split: 1..k for its k most
    frequent values seen at least `min_count` times (k < max_categories), 0 for the rest ("other": rare in
    training, or unseen at serving). Missing is a value like any other.

    The network one-hot encodes columns with up to `one_hot_max` codes and embeds the others. Output: the one-hot
    columns first, then the embedded ones, each group's codes offset so that the group shares one code space:
    the network then encodes a group with one layer, not one per column (per-column layers made an epoch over
    a million rows 2.5x slower). The matrix stays one float per column, not one per category.
    """

    def __init__(self, max_categories: int = 1000, min_count: int = 5, one_hot_max: int = 16):
        self.max_categories = max_categories
        self.min_count = min_count
        self.one_hot_max = one_hot_max

    def fit(self, x: pd.DataFrame, y=None):
        vocabularies, self.folded_ = {}, {}
        for name in x.columns:
            counts = x[name].fillna(MISSING).astype(str).value_counts()
            kept = sorted(((-n, v) for v, n in counts.items() if n >= self.min_count))[:self.max_categories - 1]
            vocabularies[name] = [v for _, v in kept]
            if len(kept) < len(counts):  # for the cleaning report: what "other" stands for, and how often
                self.folded_[str(name)] = {"values": len(counts) - len(kept),
                                           "rows": int(counts.sum() - sum(-n for n, _ in kept))}
        self.vocabularies_ = vocabularies
        small = [c for c in x.columns if len(vocabularies[c]) + 1 <= self.one_hot_max]
        self.groups_ = (small, [c for c in x.columns if c not in small])
        return self

    def transform(self, x: pd.DataFrame) -> np.ndarray:
        cols = []
        for group in self.groups_:
            offset = 0
            for name in group:
                codes = pd.Index(self.vocabularies_[name]).get_indexer(x[name].fillna(MISSING).astype(str)) + 1
                cols.append((codes + offset).astype("float32"))  # not in the vocabulary: -1 + 1 = 0, "other"
                offset += len(self.vocabularies_[name]) + 1
        return np.column_stack(cols) if cols else np.empty((len(x), 0), dtype="float32")

    def tokens(self, group: int) -> tuple[int, ...]:
        """Codes per column ("other" included) of the one-hot (0) or embedded (1) group, in output order."""
        return tuple(len(self.vocabularies_[c]) + 1 for c in self.groups_[group])


class DateParts(TransformerMixin, BaseEstimator):
    """Datetime columns as year, month, day, weekday and hour (missing stays missing, for the imputer)."""

    PARTS = ("year", "month", "day", "day_of_week", "hour")

    def fit(self, x, y=None):
        return self

    def transform(self, x: pd.DataFrame) -> np.ndarray:
        cols = [getattr(pd.to_datetime(x[c], errors="coerce").dt, part).astype("float64")
                for c in x.columns for part in self.PARTS]
        return np.column_stack(cols) if cols else np.empty((len(x), 0))
