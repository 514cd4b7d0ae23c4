"""Load, validate and clean a table. Raw frames are never mutated: every step returns a new one."""

from __future__ import annotations

import contextlib
import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from tabflow.config import BUILTIN_PREFIX, SplitConfig
from tabflow.errors import DataError

BUILTINS = ("breast_cancer",)


@dataclass(frozen=True)
class CleanTable:
    frame: pd.DataFrame
    target: str
    features: tuple[str, ...]
    digest: str  # of the raw table as loaded: names the Optuna study and tags every run
    report: dict = field(default_factory=dict)


def check_source(source: str) -> None:
    """The checks that need no reading: a known built-in, or an existing file with a known suffix."""
    if source.startswith(BUILTIN_PREFIX):
        name = source[len(BUILTIN_PREFIX):]
        if name not in BUILTINS:
            raise DataError(f"unknown built-in table {name!r}; available: "
                            + ", ".join(f"{BUILTIN_PREFIX}{b}" for b in BUILTINS))
        return
    if not Path(source).is_file():
        raise DataError(f"data file {source!r} not found; check the path or use builtin:breast_cancer")
    if Path(source).suffix.lower() not in (".csv", ".parquet", ".pq"):
        raise DataError(f"cannot read {source!r}: use a .csv or .parquet file")


def peek_columns(source: str) -> list[str] | None:
    """The column names from the header alone, so the CLI can catch a wrong --target in milliseconds."""
    check_source(source)
    if source.startswith(BUILTIN_PREFIX):
        return None
    with contextlib.suppress(Exception):  # unreadable files get their full error from load_table
        if source.lower().endswith(".csv"):
            return [str(c) for c in pd.read_csv(source, nrows=0).columns]
        import pyarrow.parquet as pq

        return list(pq.read_schema(source).names)
    return None


def load_table(source: str) -> pd.DataFrame:
    """Read a CSV or Parquet file, or a built-in demo table."""
    check_source(source)
    if source.startswith(BUILTIN_PREFIX):
        from sklearn.datasets import load_breast_cancer

        return load_breast_cancer(as_frame=True).frame  # real column names plus `target`
    suffix = Path(source).suffix.lower()
    try:
        frame = pd.read_csv(source) if suffix == ".csv" else pd.read_parquet(source)
    except pd.errors.EmptyDataError:
        raise DataError(f"data file {source!r} is empty; give a table with a header and rows") from None
    except (OSError, ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"cannot read {source!r} ({reason}); check that it is a valid {suffix[1:]} file") from None
    return frame


def digest_frame(frame: pd.DataFrame) -> str:
    """A content digest (values, column names and dtypes), stable across processes."""
    h = hashlib.sha256()
    h.update(repr([(str(c), str(t)) for c, t in frame.dtypes.items()]).encode())
    h.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return h.hexdigest()[:16]


def validate_table(frame: pd.DataFrame, target: str, split: SplitConfig) -> None:
    """The basics, each failing with what to do: rows, a target with two usable classes, features."""
    if frame.empty:
        raise DataError("the table has no rows; give a table with a header and data rows")
    require_target([str(c) for c in frame.columns], target)
    if frame.shape[1] < 2:
        raise DataError("the table has no feature columns besides the target; add feature columns")
    check_classes(frame[target].dropna(), target, split)


def require_target(columns: list[str], target: str) -> None:
    if target not in columns:
        shown = ", ".join(columns[:10]) + (", ..." if len(columns) > 10 else "")
        raise DataError(f"target column {target!r} not found; pass --target with one of: {shown}")


def check_classes(labels: pd.Series, target: str, split: SplitConfig) -> None:
    counts = labels.value_counts()
    if len(counts) == 0:
        raise DataError(f"target column {target!r} has no values; fill it in or choose another --target")
    if len(counts) < 2:
        raise DataError(f"target column {target!r} has a single class ({counts.index[0]!r}); "
                        "a classifier needs at least two: check the target or the data export")
    if len(counts) > 2:
        raise DataError(f"target column {target!r} has {len(counts)} classes; tabflow trains binary "
                        "classifiers for now: choose a two-class target")
    needed = min_rows_per_class(split)
    if counts.min() < needed:
        raise DataError(f"class {counts.idxmin()!r} of {target!r} has {counts.min()} rows; the "
                        f"{split.train:g}/{split.val:g}/{split.test:g} split needs at least {needed} per class: "
                        "add rows or change the split fractions")


def min_rows_per_class(split: SplitConfig) -> int:
    """Enough rows that a stratified split puts at least one of each class in every part."""
    return max(3, math.ceil(1 / min(split.train, split.val, split.test)))


def clean_table(frame: pd.DataFrame, target: str, split: SplitConfig, digest: str) -> CleanTable:
    """Drop rows without a target, exact duplicate rows and unusable columns; report each with counts."""
    out = frame.dropna(subset=[target])
    report: dict = {"rows_in": len(frame), "rows_missing_target": len(frame) - len(out)}
    before = len(out)
    out = out.drop_duplicates()
    report["rows_duplicate"] = before - len(out)
    features = [c for c in out.columns if c != target]
    non_numeric = [c for c in features if not _is_numeric(out[c])]
    constant = [c for c in features if c not in non_numeric and out[c].nunique(dropna=False) <= 1]
    report["columns_non_numeric_dropped"] = [str(c) for c in non_numeric]
    report["columns_constant_dropped"] = [str(c) for c in constant]
    kept = [c for c in features if c not in non_numeric and c not in constant]
    if not kept:
        raise DataError("no usable feature columns are left after dropping constant and non-numeric ones; "
                        "add numeric feature columns")
    out = out[[*kept, target]]
    floats = {c: "float64" for c in kept if out[c].dtype != "float64"}  # ints may be missing at serving
    out = out.astype(floats) if floats else out
    report["rows_out"] = len(out)
    report["missing_values"] = int(out[kept].isna().sum().sum())
    check_classes(out[target], target, split)
    return CleanTable(frame=out.reset_index(drop=True), target=target, features=tuple(kept), digest=digest,
                      report=report)


def _is_numeric(col: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col)


def describe_cleaning(report: dict) -> str:
    parts = [f"{report['rows_in']} rows in, {report['rows_out']} kept"]
    if report["rows_missing_target"]:
        parts.append(f"{report['rows_missing_target']} without a target dropped")
    if report["rows_duplicate"]:
        parts.append(f"{report['rows_duplicate']} exact duplicates dropped")
    for key, what in (("columns_constant_dropped", "constant"), ("columns_non_numeric_dropped", "non-numeric")):
        if report[key]:
            parts.append(f"{what} columns dropped: {', '.join(report[key])}")
    if report["missing_values"]:
        parts.append(f"{report['missing_values']} missing values to impute")
    return "; ".join(parts)

