"""Cleaning: rows without a target and exact duplicates dropped, roles given, unusable columns dropped, with a
report that says what and why. Every step returns a new frame."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from tabflow.config import SplitConfig
from tabflow.data.roles import USED, infer_roles
from tabflow.data.validate import check_finite, check_target, detect_task
from tabflow.errors import DataError


@dataclass(frozen=True)
class CleanTable:
    frame: pd.DataFrame
    target: str
    features: tuple[str, ...]
    digest: str  # of the raw table as loaded: names the Optuna study and tags every run
    task: str  # binary, multiclass or regression (tabflow.task_types)
    report: dict = field(default_factory=dict)
    roles: dict[str, str] = field(default_factory=dict)  # of the features the model reads


def clean_table(
    frame: pd.DataFrame,
    target: str,
    split: SplitConfig,
    digest: str,
    columns: dict[str, str] | None = None,
    max_text_share: float = 0.05,
    task: str = "auto",
) -> CleanTable:
    """Drop rows without a target and exact duplicates, give every column a role, drop the unusable ones;
    the report says what was dropped or coerced, and why, with counts."""
    has_target = frame[target].notna()
    out = frame if has_target.all() else frame[has_target]  # filtering copies the table: only when needed
    task = detect_task(out[target], target, task)
    report: dict = {"task": task, "rows_in": len(frame), "rows_missing_target": len(frame) - len(out)}
    duplicate = out.duplicated()
    out = out[~duplicate] if duplicate.any() else out
    report["rows_duplicate"] = int(duplicate.sum())
    check_finite(out, list(out.columns))
    roles, coerced = infer_roles(out, target, dict(columns or {}), max_text_share)
    features = [c for c, r in roles.items() if r in USED]
    report["roles"] = {str(c): r for c, r in roles.items()}
    report["columns_dropped"] = {
        str(c): _why_dropped(r, c in (columns or {})) for c, r in roles.items() if r not in USED
    }
    report["cells_coerced_to_missing"] = coerced
    if not features:
        raise DataError(
            "no usable feature columns are left (all constant, ID-like, free text or dropped); "
            "add feature columns or set roles in data.columns"
        )
    # Every column stays in the frame (features are chosen by name), so a split by a dropped ID column works and
    # the leak check compares whole rows, as the duplicate drop above did.
    report["rows_out"] = len(out)
    report["missing_values"] = {str(c): int(n) for c, n in out[features].isna().sum().items() if n}
    check_target(out[target], target, split, task)
    return CleanTable(
        frame=out.reset_index(drop=True),
        target=target,
        features=tuple(features),
        digest=digest,
        report=report,
        roles={c: roles[c] for c in features},
        task=task,
    )


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
