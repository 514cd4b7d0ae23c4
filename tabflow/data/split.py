"""Seeded train / val / test split (stratified, random, time or group), checked for leaks."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from tabflow.config import SplitConfig
from tabflow.data.clean import CleanTable
from tabflow.data.roles import MISSING
from tabflow.errors import ConfigError, DataError
from tabflow.task_types import task_type


@dataclass(frozen=True)
class Splits:
    """The cleaned table once, and which of its rows each split holds: no copy of the table per split."""

    frame: pd.DataFrame
    rows: dict[str, np.ndarray]  # "train" / "val" / "test" -> row positions in frame
    features: tuple[str, ...]
    target: str
    classes: tuple  # sorted labels (classes[1] is the positive class of a binary task); () for regression
    digest: str
    roles: dict[str, str]  # feature -> numeric / categorical / datetime
    task: str  # binary, multiclass or regression (tabflow.task_types)

    def part(self, name: str) -> pd.DataFrame:
        """All columns of one split, as a new frame."""
        return self.frame.take(self.rows[name]).reset_index(drop=True)

    def x(self, part: str) -> pd.DataFrame:
        return self.frame[list(self.features)].take(self.rows[part]).reset_index(drop=True)

    def y(self, part: str) -> np.ndarray:
        """Class indices into `classes` (0 / 1 for binary), or the regression target as float."""
        values = self.frame[self.target].take(self.rows[part])
        if not task_type(self.task).classification:
            return values.to_numpy(dtype="float64")
        return pd.Categorical(values, categories=list(self.classes)).codes.astype("int64")

    def class_balance(self) -> dict[str, dict[str, int]]:
        """Rows per class in each split (empty for regression), for the report."""
        if not task_type(self.task).classification:
            return {}
        counts = {part: np.bincount(self.y(part), minlength=len(self.classes)) for part in ("train", "val", "test")}
        return {
            part: {str(c): int(n) for c, n in zip(self.classes, n_by_class, strict=True)}
            for part, n_by_class in counts.items()
        }

    def sizes(self) -> dict[str, int]:
        return {part: len(rows) for part, rows in self.rows.items()}


def split(table: CleanTable, cfg: SplitConfig, seed: int) -> Splits:
    """train / val / test by the configured strategy, then checked for leaks: a failed check stops the run."""
    frame, target, task = table.frame, table.target, table.task
    spec = task_type(task)
    strategy = cfg.strategy if cfg.strategy != "auto" else spec.default_split
    if strategy in ("time", "group") and cfg.column not in frame.columns:
        raise DataError(f"split.column {cfg.column!r} is not in the table; name a column of the data file")
    if strategy == "time":
        parts = _by_time(frame, cfg)
    elif strategy == "group":
        parts = _by_group(frame, cfg, seed)
    else:
        if strategy == "stratified" and not spec.classification:
            raise ConfigError("a stratified split needs classes; use split.strategy random for regression")
        labels = frame[target].to_numpy() if strategy == "stratified" else None
        rest, test = train_test_split(np.arange(len(frame)), test_size=cfg.test, random_state=seed, stratify=labels)
        train, val = train_test_split(
            rest,
            test_size=cfg.val / (cfg.train + cfg.val),
            random_state=seed,
            stratify=labels[rest] if labels is not None else None,
        )
        parts = train, val, test
    rows = dict(zip(("train", "val", "test"), (np.asarray(p, dtype="int64") for p in parts), strict=True))
    check_leaks(frame, rows, strategy, cfg.column)
    classes = tuple(sorted(frame[target].unique().tolist())) if spec.classification else ()
    present = set(frame[target].take(rows["train"]).unique().tolist())
    missing = [c for c in classes if c not in present]
    if missing:
        raise DataError(
            f"class {missing[0]!r} has no rows in the training split; add rows of it or use a stratified split"
        )
    return Splits(
        frame,
        rows,
        features=table.features,
        target=target,
        classes=classes,
        digest=table.digest,
        roles=table.roles,
        task=task,
    )


def _by_time(frame: pd.DataFrame, cfg: SplitConfig) -> tuple[np.ndarray, ...]:
    """Oldest rows train, then val, then test; rows sharing a timestamp stay in one split."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        when = (
            frame[cfg.column]
            if pd.api.types.is_numeric_dtype(frame[cfg.column])
            else pd.to_datetime(frame[cfg.column], errors="coerce", format="mixed")
        )
    if when.isna().any():
        raise DataError(
            f"time column {cfg.column!r} has {int(when.isna().sum())} missing or unreadable value(s); "
            "fill them in or choose another split.column"
        )
    order = when.sort_values(kind="stable")
    values = order.to_numpy()
    cuts = []
    for fraction in (cfg.train, cfg.train + cfg.val):
        i = round(fraction * len(values))
        while 0 < i < len(values) and values[i] == values[i - 1]:
            i += 1  # a timestamp on the boundary goes wholly to the earlier split
        cuts.append(i)
    positions = frame.index.get_indexer(order.index)
    parts = positions[: cuts[0]], positions[cuts[0] : cuts[1]], positions[cuts[1] :]
    if min(len(p) for p in parts) == 0:
        raise DataError(
            f"time column {cfg.column!r} has too few distinct times for a "
            f"{cfg.train:g}/{cfg.val:g}/{cfg.test:g} split; use more rows or another split"
        )
    return parts


def _by_group(frame: pd.DataFrame, cfg: SplitConfig, seed: int) -> tuple[np.ndarray, ...]:
    """Whole groups go to one split (rows of one customer never train and test at once)."""
    from sklearn.model_selection import GroupShuffleSplit

    groups = frame[cfg.column].astype(str).where(frame[cfg.column].notna(), MISSING)
    if groups.nunique() < 3:
        raise DataError(f"group column {cfg.column!r} has {groups.nunique()} group(s); a group split needs at least 3")
    rest_idx, test_idx = next(GroupShuffleSplit(1, test_size=cfg.test, random_state=seed).split(frame, groups=groups))
    train_idx, val_idx = next(
        GroupShuffleSplit(1, test_size=cfg.val / (cfg.train + cfg.val), random_state=seed).split(
            rest_idx, groups=groups.iloc[rest_idx]
        )
    )
    return rest_idx[train_idx], rest_idx[val_idx], test_idx


def check_leaks(frame: pd.DataFrame, rows: dict[str, np.ndarray], strategy: str, column: str | None) -> None:
    """Fail on an exact row in two splits, a group in two splits, or a time split out of order."""
    names = list(rows)
    row_hashes = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    hashes = [set(row_hashes[rows[name]].tolist()) for name in names]
    for i, j in ((0, 1), (0, 2), (1, 2)):
        shared = len(hashes[i] & hashes[j])
        if shared:
            raise DataError(
                f"{shared} identical row(s) are in both {names[i]} and {names[j]}, which leaks "
                "the answer into evaluation; remove duplicates from the data"
            )
    if strategy == "group":
        keys = [set(frame[column].take(rows[name]).astype(str)) for name in names]
        for i, j in ((0, 1), (0, 2), (1, 2)):
            if keys[i] & keys[j]:
                raise DataError(
                    f"group {min(keys[i] & keys[j])!r} is in both {names[i]} and {names[j]}; check split.column"
                )
    if strategy == "time":
        when = _time(frame[column])
        bounds = [(when.take(rows[name]).min(), when.take(rows[name]).max()) for name in names]
        if not (bounds[0][1] < bounds[1][0] and bounds[1][1] < bounds[2][0]):
            raise DataError(
                f"time order is broken: train must be older than val and val older than test in "
                f"{column!r}; check the column's values"
            )


def _time(col: pd.Series) -> pd.Series:
    return col if pd.api.types.is_numeric_dtype(col) else pd.to_datetime(col, errors="coerce", format="mixed")
