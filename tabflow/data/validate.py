"""The basics a table must meet before anything is fitted: rows, a usable target, features."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from tabflow import settings
from tabflow.config import SplitConfig
from tabflow.errors import DataError
from tabflow.task_types import task_type


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

    Text, booleans and integers with at most settings.MAX_CLASSES distinct values are classes; other numbers are a
    regression target.
    """
    if labels.empty:
        raise DataError(f"target column {target!r} has no values; fill it in or choose another --target")
    numeric = pd.api.types.is_numeric_dtype(labels) and not pd.api.types.is_bool_dtype(labels)
    if requested == "regression":
        if not numeric:
            example = labels.astype(str).iloc[0]
            raise DataError(
                f"regression target {target!r} is text (e.g. {example[:30]!r}); choose a numeric "
                "target or use --task binary / multiclass"
            )
        return "regression"
    if requested != "auto":
        return requested
    values = labels.nunique()
    if numeric and not (np.all(np.mod(labels.to_numpy(dtype="float64"), 1) == 0) and values <= settings.MAX_CLASSES):
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
    if not task_type(task).classification:
        if len(counts) < 2:
            raise DataError(
                f"regression target {target!r} is constant ({counts.index[0]!r}); choose a target that varies"
            )
        if len(labels) < 20:
            raise DataError(f"regression target {target!r} has {len(labels)} rows; add rows (20 at least)")
        return
    if len(counts) < 2:
        raise DataError(
            f"target column {target!r} has a single class ({counts.index[0]!r}); "
            "a classifier needs at least two: check the target or the data export"
        )
    if task == "binary" and len(counts) > 2:
        raise DataError(f"target column {target!r} has {len(counts)} classes; use --task multiclass (or auto)")
    needed = min_rows_per_class(split)
    if counts.min() < needed:
        raise DataError(
            f"class {counts.idxmin()!r} of {target!r} has {counts.min()} rows; the "
            f"{split.train:g}/{split.val:g}/{split.test:g} split needs at least {needed} per class: "
            "add rows or change the split fractions"
        )


def min_rows_per_class(split: SplitConfig) -> int:
    """Enough rows that a stratified split puts at least one of each class in every part."""
    return max(3, math.ceil(1 / min(split.train, split.val, split.test)))


def check_finite(frame: pd.DataFrame, columns: list[str]) -> None:
    for name in columns:
        col = frame[name]
        if pd.api.types.is_float_dtype(col):
            n = int(np.isinf(col.to_numpy()).sum())
            if n:
                raise DataError(
                    f"column {name!r} has {n} infinite value(s); replace them with finite numbers or "
                    "leave the cells empty"
                )
