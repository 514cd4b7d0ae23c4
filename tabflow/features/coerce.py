"""Each column in the dtype its role reads; the same functions run at training and at serving."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from tabflow.data.roles import USED

MAX_DATE_CHARS = 64  # longer text is no date


def coerce(frame: pd.DataFrame, roles: dict[str, str]) -> pd.DataFrame:
    """Each used column in the dtype its role reads: float64 numbers (ints may be missing at serving),
    strings for categories, datetimes; the same function runs at training and at serving.

    Numeric columns already stored as numbers convert as one block: a column at a time made single-row requests
    measurably slower (benchmarks/RESULTS.md, section 6)."""
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
            parts[name] = _datetimes(frame[name])
    return pd.DataFrame({n: parts[n] for n, r in roles.items() if r in USED}, index=frame.index)


def numbers(frame: pd.DataFrame, names: list[str]) -> np.ndarray:
    """The columns as one float64 matrix, text that is no number as NaN; JSON numbers need no parsing (this runs
    on every request tabflow serve answers)."""
    block = select(frame, names)
    if all(pd.api.types.is_numeric_dtype(t) for t in block.dtypes):
        return block.to_numpy(dtype="float64", na_value=np.nan)
    return coerce(block, dict.fromkeys(names, "numeric")).to_numpy(dtype="float64")


def select(frame: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """frame[names], or the frame itself when its columns are already those: on a one-row request the selection
    cost more than the rest of the contract check."""
    return frame if list(frame.columns) == names else frame[names]


def as_float32(x) -> np.ndarray:
    return np.asarray(x, dtype="float32")


def _datetimes(col: pd.Series) -> pd.Series:
    """Dates in any spelling pandas reads. Text longer than a date can be is missing: the free-format parser is
    quadratic in a cell's length. Mixed UTC offsets become UTC (naive, as a column with none)."""
    if col.dtype == object or pd.api.types.is_string_dtype(col):
        col = col.where(col.map(lambda v: not isinstance(v, str) or len(v) <= MAX_DATE_CHARS, na_action="ignore"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return pd.to_datetime(col, errors="coerce", format="mixed")
        except ValueError:  # "Mixed timezones detected"
            return pd.to_datetime(col, errors="coerce", format="mixed", utc=True).dt.tz_convert(None)


def _categories(col: pd.Series) -> pd.Series:
    """Categories as strings, one spelling per value whatever the file's dtype: 3, 3.0 and "3" are all "3".
    Vectorised for the common dtypes (a Python call per cell was most of the cleaning time on large tables);
    missing stays missing."""
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
