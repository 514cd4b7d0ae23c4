"""The fitted preprocessor: raw rows in, the network's float32 matrix out, every statistic from train alone."""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline, make_pipeline

from tabflow import settings


@dataclass(frozen=True)
class Layout:
    """What a row of the network's input holds: `dense` scaled numbers, then one integer code per categorical
    column, one-hot columns first (their code counts in `one_hot`), then embedded ones (`embedded`); each group's
    codes share one code space (see columns.Vocabulary)."""

    dense: int
    one_hot: tuple[int, ...] = ()
    embedded: tuple[int, ...] = ()

    @property
    def width(self) -> int:
        return self.dense + len(self.one_hot) + len(self.embedded)


def fit_preprocessor(
    train_x: pd.DataFrame, roles: dict[str, str], max_categories: int = 1000, one_hot: bool = False
) -> Pipeline:
    return make_preprocessor(roles, max_categories, one_hot).fit(train_x)


def make_preprocessor(
    roles: dict[str, str], max_categories: int = 1000, one_hot: bool = False, numeric: str = "robust"
) -> Pipeline:
    """Raw rows in, one float matrix out, every statistic fitted on the training split alone.

    numeric: median imputation with missing-value indicators, robust scaling (median and IQR: a few outliers
    do not squash the rest); datetime: year, month, day, weekday and hour, then as numeric; categorical, last:
    one integer code per column (tabflow.features.encoders.Vocabulary), which the network one-hot encodes or
    embeds. `one_hot` expands the codes here instead, as a sparse matrix, for the linear baselines. `numeric`
    "realmlp" scales numbers as RealMLP does instead (tabflow.features.encoders.RealScaler: a smooth clip after
    the robust scale).
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, RobustScaler

    from tabflow.features.coerce import as_float32, coerce
    from tabflow.features.encoders import DateParts, RealScaler, Vocabulary

    def numbers():
        # float32, in place: the network reads float32 anyway, and float64 copies at each step multiplied the
        # peak memory of a large fit (benchmarks/RESULTS.md, section 4)
        return [
            FunctionTransformer(as_float32),
            SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True, copy=False),
            RealScaler() if numeric == "realmlp" else RobustScaler(copy=False),
        ]

    by_role = {role: [c for c, r in roles.items() if r == role] for role in ("numeric", "categorical", "datetime")}
    parts = []
    if by_role["numeric"]:
        parts.append(("numeric", make_pipeline(*numbers()), by_role["numeric"]))
    if by_role["datetime"]:
        parts.append(("datetime", make_pipeline(DateParts(), *numbers()), by_role["datetime"]))
    if by_role["categorical"]:
        vocab = Vocabulary(max_categories, settings.MIN_COUNT, settings.ONE_HOT_MAX)
        # one-hot over the codes, not the strings: the same categories as the network's, and faster on large tables
        encoded = make_pipeline(vocab, OneHotEncoder(handle_unknown="ignore", dtype=np.float32)) if one_hot else vocab
        parts.append(("categorical", encoded, by_role["categorical"]))
    return Pipeline(
        [
            ("coerce", FunctionTransformer(coerce, kw_args={"roles": dict(roles)})),
            ("columns", ColumnTransformer(parts, remainder="drop", sparse_threshold=0.3 if one_hot else 0)),
        ]
    )


def layout(pre: Pipeline) -> Layout:
    columns = pre.named_steps["columns"]
    vocab = columns.named_transformers_.get("categorical")
    dense = sum(
        columns.output_indices_[name].stop - columns.output_indices_[name].start
        for name in ("numeric", "datetime")
        if name in columns.output_indices_
    )
    if vocab is None or not hasattr(vocab, "groups_"):
        return Layout(int(dense))
    return Layout(int(dense), vocab.tokens(0), vocab.tokens(1))


def capped_categories(pre: Pipeline) -> dict[str, dict[str, int]]:
    """Per categorical column folded into "other" while fitting: how many distinct values, over how many rows."""
    vocab = pre.named_steps["columns"].named_transformers_.get("categorical")
    return dict(getattr(vocab, "folded_", {}))


def transform(pre: Pipeline, x: pd.DataFrame) -> np.ndarray:
    """The preprocessed float32 matrix, built in chunks of rows: the transforms' float64 intermediates then
    stay a bounded size however long the table."""
    step = settings.CHUNK_ROWS
    if len(x) <= step:
        return np.asarray(pre.transform(x), dtype="float32")
    first = np.asarray(pre.transform(x.iloc[:step]), dtype="float32")
    out = np.empty((len(x), first.shape[1]), dtype="float32")
    out[:step] = first
    for start in range(step, len(x), step):
        out[start : start + step] = pre.transform(x.iloc[start : start + step])
    return out


@functools.cache
def fingerprint() -> str:
    """A digest of what the preprocessing does, from its output on a small fixed table with every role: the study
    name carries it, so no study mixes two feature encodings, and no version number needs bumping by hand."""
    rng = np.random.default_rng(0)
    n = 64
    numeric = rng.normal(size=n)
    numeric[::7] = np.nan
    frame = pd.DataFrame(
        {
            "number": numeric,
            "code": np.array(["a", "b", "c", None], dtype=object)[rng.integers(0, 4, n)],
            "many": [f"v{i % 23}" for i in range(n)],
            "when": pd.date_range("2024-01-01", periods=n, freq="37h").where(np.arange(n) % 9 != 0),
        }
    )
    roles = {"number": "numeric", "code": "categorical", "many": "categorical", "when": "datetime"}
    pre = make_preprocessor(roles, max_categories=8)
    out = np.round(np.asarray(pre.fit_transform(frame), dtype="float64"), 5)
    # repr names each step and its settings; functions print with their address, which differs per process
    digest = hashlib.sha256(re.sub(r" at 0x[0-9a-f]+", "", repr(pre)).encode())
    digest.update(out.tobytes())
    return digest.hexdigest()[:8]
