"""Load, validate and clean a table. Raw frames are never mutated: every step returns a new one."""

from __future__ import annotations

import contextlib
import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from tabflow.config import BUILTIN_PREFIX, SplitConfig
from tabflow.errors import DataError

BUILTINS = ("breast_cancer", "wine", "digits", "diabetes")  # scikit-learn's bundled tables: binary, 3 and 10
# classes, regression
MAX_CLASSES = 20  # an integer target with more distinct values is a quantity (regression), not classes


@dataclass(frozen=True)
class CleanTable:
    frame: pd.DataFrame
    target: str
    features: tuple[str, ...]
    digest: str  # of the raw table as loaded: names the Optuna study and tags every run
    report: dict = field(default_factory=dict)
    roles: dict[str, str] = field(default_factory=dict)  # of the features the model reads
    task: str = "binary"  # binary, multiclass or regression


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


ENCODINGS = ("utf-8-sig", "cp1252")  # UTF-8 (with or without a byte-order mark), then Excel's Western default
DELIMITERS = ",;\t|"


def peek_columns(source: str) -> list[str] | None:
    """The column names from the header alone, so the CLI can catch a wrong --target in milliseconds."""
    check_source(source)
    if source.startswith(BUILTIN_PREFIX):
        return None
    with contextlib.suppress(Exception):  # unreadable files get their full error from load_table
        if _is_csv(source):
            encoding, delimiter = sniff_csv(source)
            names = [str(c) for c in pd.read_csv(source, nrows=0, sep=delimiter, encoding=encoding).columns]
            return names if len(names) > 1 else None  # one column: load_table explains the delimiter
        import pyarrow.parquet as pq

        return list(pq.read_schema(source).names)
    return None


def load_table(source: str) -> pd.DataFrame:
    """Read a CSV or Parquet file, or a built-in demo table; unreadable input fails with what to do."""
    check_source(source)
    if source.startswith(BUILTIN_PREFIX):
        from sklearn import datasets

        loader = getattr(datasets, f"load_{source[len(BUILTIN_PREFIX):]}")
        return loader(as_frame=True).frame  # real column names plus `target`
    frame = _read_csv(source) if _is_csv(source) else _read_parquet(source)
    if frame.shape[1] == 1 and _is_csv(source):
        raise DataError(f"{source!r} parsed as a single column ({str(frame.columns[0])[:40]!r}); tabflow reads "
                        "comma-, semicolon-, tab- or pipe-separated files: re-export it with one of those")
    return frame


def _is_csv(source: str) -> bool:
    return Path(source).suffix.lower() == ".csv"


def sniff_csv(source: str) -> tuple[str, str]:
    """The encoding and delimiter, from the first 64 KiB; the full read retries other encodings if needed."""
    import csv

    with open(source, "rb") as fh:
        sample = fh.read(65536)
    if not sample.strip():
        raise DataError(f"data file {source!r} is empty; give a table with a header and rows")
    if b"\x00" in sample:
        raise DataError(f"{source!r} holds binary data, not CSV text; export the table as CSV (UTF-8) or Parquet")
    text = None
    for encoding in ENCODINGS:
        with contextlib.suppress(UnicodeDecodeError):
            text = sample[:sample.rfind(b"\n") + 1 or None].decode(encoding)
            break
    if text is None:
        raise DataError(f"{source!r} is neither UTF-8 nor Windows-1252 text; re-export it as UTF-8")
    try:
        delimiter = csv.Sniffer().sniff(text.splitlines()[0], delimiters=DELIMITERS).delimiter
    except csv.Error:
        delimiter = ","
    return encoding, delimiter


def _read_csv(source: str) -> pd.DataFrame:
    first, delimiter = sniff_csv(source)
    _refuse_duplicate_names(source, first, delimiter)
    for encoding in ENCODINGS[ENCODINGS.index(first):]:
        try:
            return pd.read_csv(source, sep=delimiter, encoding=encoding, low_memory=False)
        except UnicodeDecodeError:
            continue  # a byte past the sniffed sample; the next encoding may read it
        except pd.errors.EmptyDataError:
            raise DataError(f"data file {source!r} is empty; give a table with a header and rows") from None
        except (OSError, ValueError, pd.errors.ParserError) as exc:
            raise DataError(f"cannot read {source!r} as CSV ({_first_line(exc)}); check the export") from None
    raise DataError(f"{source!r} is neither UTF-8 nor Windows-1252 text; re-export it as UTF-8")


def _refuse_duplicate_names(source: str, encoding: str, delimiter: str) -> None:
    """pandas silently renames a repeated header to `name.1`; two columns with one name are a mistake."""
    import csv

    with open(source, encoding=encoding, errors="replace", newline="") as fh:
        header = next(csv.reader(fh, delimiter=delimiter), [])
    _check_unique(source, header)


def _check_unique(source: str, names: list[str]) -> None:
    seen = pd.Series(names).value_counts()
    repeated = [f"{name!r} ({count}x)" for name, count in seen.items() if count > 1]
    if repeated:
        raise DataError(f"{source!r} has duplicate column names: {', '.join(repeated)}; rename them so each "
                        "column has its own name")


def _read_parquet(source: str) -> pd.DataFrame:
    import pyarrow.parquet as pq

    try:
        _check_unique(source, list(pq.read_schema(source).names))
        return pd.read_parquet(source)
    except DataError:
        raise
    except Exception as exc:  # pyarrow raises several types for a file that is not Parquet
        raise DataError(f"cannot read {source!r} as Parquet ({_first_line(exc)}); check that it is a Parquet "
                        "file, or save it with a .csv name if it is CSV text") from None


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__


def digest_frame(frame: pd.DataFrame) -> str:
    """A content digest (values, column names and dtypes), stable across processes."""
    h = hashlib.sha256()
    h.update(repr([(str(c), str(t)) for c, t in frame.dtypes.items()]).encode())
    h.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return h.hexdigest()[:16]


def validate_table(frame: pd.DataFrame, target: str, split: SplitConfig, task: str = "auto") -> str:
    """The basics, each failing with what to do: rows, a usable target, features. Returns the task."""
    if frame.empty:
        raise DataError("the table has no rows; give a table with a header and data rows")
    require_target([str(c) for c in frame.columns], target)
    if frame.shape[1] < 2:
        raise DataError("the table has no feature columns besides the target; add feature columns")
    task = detect_task(frame[target].dropna(), target, task)
    check_target(frame[target].dropna(), target, split, task)
    return task


def detect_task(labels: pd.Series, target: str, requested: str) -> str:
    """binary, multiclass or regression from the target column, unless --task says which.

    Text, booleans and integers with at most MAX_CLASSES distinct values are classes; other numbers are a
    regression target.
    """
    if labels.empty:
        raise DataError(f"target column {target!r} has no values; fill it in or choose another --target")
    numeric = pd.api.types.is_numeric_dtype(labels) and not pd.api.types.is_bool_dtype(labels)
    if requested == "regression":
        if not numeric:
            example = labels.astype(str).iloc[0]
            raise DataError(f"regression target {target!r} is text (e.g. {example[:30]!r}); choose a numeric "
                            "target or use --task binary / multiclass")
        return "regression"
    if requested != "auto":
        return requested
    values = labels.nunique()
    if numeric and not (np.all(np.mod(labels.to_numpy(dtype="float64"), 1) == 0) and values <= MAX_CLASSES):
        return "regression"
    return "binary" if values <= 2 else "multiclass"


def require_target(columns: list[str], target: str) -> None:
    if target not in columns:
        shown = ", ".join(columns[:10]) + (", ..." if len(columns) > 10 else "")
        raise DataError(f"target column {target!r} not found; pass --target with one of: {shown}")


def check_target(labels: pd.Series, target: str, split: SplitConfig, task: str) -> None:
    counts = labels.value_counts()
    if len(counts) == 0:
        raise DataError(f"target column {target!r} has no values; fill it in or choose another --target")
    if task == "regression":
        if len(counts) < 2:
            raise DataError(f"regression target {target!r} is constant ({counts.index[0]!r}); choose a target "
                            "that varies")
        if len(labels) < 20:
            raise DataError(f"regression target {target!r} has {len(labels)} rows; add rows (20 at least)")
        return
    if len(counts) < 2:
        raise DataError(f"target column {target!r} has a single class ({counts.index[0]!r}); "
                        "a classifier needs at least two: check the target or the data export")
    if task == "binary" and len(counts) > 2:
        raise DataError(f"target column {target!r} has {len(counts)} classes; use --task multiclass (or auto)")
    needed = min_rows_per_class(split)
    if counts.min() < needed:
        raise DataError(f"class {counts.idxmin()!r} of {target!r} has {counts.min()} rows; the "
                        f"{split.train:g}/{split.val:g}/{split.test:g} split needs at least {needed} per class: "
                        "add rows or change the split fractions")


def min_rows_per_class(split: SplitConfig) -> int:
    """Enough rows that a stratified split puts at least one of each class in every part."""
    return max(3, math.ceil(1 / min(split.train, split.val, split.test)))


def clean_table(frame: pd.DataFrame, target: str, split: SplitConfig, digest: str,
                columns: dict[str, str] | None = None, max_text_share: float = 0.05, task: str = "auto"
                ) -> CleanTable:
    """Drop rows without a target and exact duplicates, give every column a role, drop the unusable ones;
    the report says what was dropped or coerced, and why, with counts."""
    from tabflow import columns as cols

    has_target = frame[target].notna()
    out = frame if has_target.all() else frame[has_target]  # filtering copies the table: only when needed
    task = detect_task(out[target], target, task)
    report: dict = {"task": task, "rows_in": len(frame), "rows_missing_target": len(frame) - len(out)}
    duplicate = out.duplicated()
    out = out[~duplicate] if duplicate.any() else out
    report["rows_duplicate"] = int(duplicate.sum())
    cols.check_finite(out, list(out.columns))
    roles, coerced = cols.infer_roles(out, target, dict(columns or {}), max_text_share)
    features = [c for c, r in roles.items() if r in cols.USED]
    report["roles"] = {str(c): r for c, r in roles.items()}
    report["columns_dropped"] = {str(c): _why_dropped(r, c in (columns or {})) for c, r in roles.items()
                                 if r not in cols.USED}
    report["cells_coerced_to_missing"] = coerced
    if not features:
        raise DataError("no usable feature columns are left (all constant, ID-like, free text or dropped); "
                        "add feature columns or set roles in data.columns")
    # Every column stays in the frame (features are chosen by name), so a split by a dropped ID column works and
    # the leak check compares whole rows, as the duplicate drop above did.
    report["rows_out"] = len(out)
    report["missing_values"] = {str(c): int(n) for c, n in out[features].isna().sum().items() if n}
    check_target(out[target], target, split, task)
    return CleanTable(frame=out.reset_index(drop=True), target=target, features=tuple(features), digest=digest,
                      report=report, roles={c: roles[c] for c in features}, task=task)


def _why_dropped(role: str, declared: bool) -> str:
    if declared:
        return f"role {role} set in data.columns"
    return {"drop": "constant", "id": "ID-like (unique per row)", "text": "free text"}[role]


def describe_cleaning(report: dict) -> str:
    parts = [f"{report['task']}: {report['rows_in']} rows in, {report['rows_out']} kept"]
    if report["rows_missing_target"]:
        parts.append(f"{report['rows_missing_target']} without a target dropped")
    if report["rows_duplicate"]:
        parts.append(f"{report['rows_duplicate']} exact duplicates dropped")
    by_role: dict[str, list[str]] = {}
    for name, role in report["roles"].items():
        by_role.setdefault(role, []).append(name)
    used = [f"{len(by_role[r])} {r}" for r in ("numeric", "categorical", "datetime") if r in by_role]
    parts.append("features: " + ", ".join(used))
    for name, why in report["columns_dropped"].items():
        parts.append(f"column {name!r} dropped: {why}")
    for name, n in report["cells_coerced_to_missing"].items():
        parts.append(f"column {name!r}: {n} text value(s) in a numeric column read as missing")
    if report["missing_values"]:
        parts.append(f"{sum(report['missing_values'].values())} missing values to impute")
    return "; ".join(parts)
