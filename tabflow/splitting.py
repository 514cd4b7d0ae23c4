"""Seeded train / val / test split: stratified by class for classification, random for regression."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from tabflow.config import SplitConfig
from tabflow.data import CleanTable
from tabflow.errors import ConfigError, DataError


@dataclass(frozen=True)
class Splits:
    train: pd.DataFrame
    val: pd.DataFrame
    test: pd.DataFrame
    features: tuple[str, ...]
    target: str
    classes: tuple  # sorted labels (classes[1] is the positive class of a binary task); () for regression
    digest: str
    roles: dict[str, str]  # feature -> numeric / categorical / datetime
    task: str = "binary"

    def x(self, part: str) -> pd.DataFrame:
        return getattr(self, part)[list(self.features)]

    def y(self, part: str) -> np.ndarray:
        """Class indices into `classes` (0 / 1 for binary), or the regression target as float."""
        values = getattr(self, part)[self.target]
        if self.task == "regression":
            return values.to_numpy(dtype="float64")
        return pd.Categorical(values, categories=list(self.classes)).codes.astype("int64")

    def class_balance(self) -> dict[str, dict[str, int]]:
        """Rows per class in each split (empty for regression), for the report."""
        if self.task == "regression":
            return {}
        counts = {part: np.bincount(self.y(part), minlength=len(self.classes)) for part in ("train", "val", "test")}
        return {part: {str(c): int(n) for c, n in zip(self.classes, n_by_class, strict=True)}
                for part, n_by_class in counts.items()}

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train), "val": len(self.val), "test": len(self.test)}


def split(table: CleanTable, cfg: SplitConfig, seed: int) -> Splits:
    """train / val / test by the configured strategy, then checked for leaks: a failed check stops the run."""
    frame, target, task = table.frame, table.target, table.task
    strategy = cfg.strategy if cfg.strategy != "auto" else ("random" if task == "regression" else "stratified")
    if strategy in ("time", "group") and cfg.column not in frame.columns:
        raise DataError(f"split.column {cfg.column!r} is not in the table; name a column of the data file")
    if strategy == "time":
        train, val, test = _by_time(frame, cfg)
    elif strategy == "group":
        train, val, test = _by_group(frame, cfg, seed)
    else:
        if strategy == "stratified" and task == "regression":
            raise ConfigError("a stratified split needs classes; use split.strategy random for regression")
        by_class = strategy == "stratified"
        rest, test = train_test_split(frame, test_size=cfg.test, stratify=frame[target] if by_class else None,
                                      random_state=seed)
        train, val = train_test_split(rest, test_size=cfg.val / (cfg.train + cfg.val),
                                      stratify=rest[target] if by_class else None, random_state=seed)
    parts = [p.reset_index(drop=True) for p in (train, val, test)]
    check_leaks(parts, list(frame.columns), strategy, cfg.column)
    classes = tuple(sorted(frame[target].unique().tolist())) if task != "regression" else ()
    missing = [c for c in classes if not (parts[0][target] == c).any()]
    if missing:
        raise DataError(f"class {missing[0]!r} has no rows in the training split; add rows of it or use a "
                        "stratified split")
    return Splits(*parts, features=table.features, target=target, classes=classes, digest=table.digest,
                  roles=table.roles, task=task)


def _by_time(frame: pd.DataFrame, cfg: SplitConfig) -> tuple[pd.DataFrame, ...]:
    """Oldest rows train, then val, then test; rows sharing a timestamp stay in one split."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        when = (frame[cfg.column] if pd.api.types.is_numeric_dtype(frame[cfg.column])
                else pd.to_datetime(frame[cfg.column], errors="coerce", format="mixed"))
    if when.isna().any():
        raise DataError(f"time column {cfg.column!r} has {int(when.isna().sum())} missing or unreadable value(s); "
                        "fill them in or choose another split.column")
    order = when.sort_values(kind="stable")
    values = order.to_numpy()
    cuts = []
    for fraction in (cfg.train, cfg.train + cfg.val):
        i = int(round(fraction * len(values)))
        while 0 < i < len(values) and values[i] == values[i - 1]:
            i += 1  # a timestamp on the boundary goes wholly to the earlier split
        cuts.append(i)
    index = order.index
    parts = frame.loc[index[:cuts[0]]], frame.loc[index[cuts[0]:cuts[1]]], frame.loc[index[cuts[1]:]]
    if min(len(p) for p in parts) == 0:
        raise DataError(f"time column {cfg.column!r} has too few distinct times for a "
                        f"{cfg.train:g}/{cfg.val:g}/{cfg.test:g} split; use more rows or another split")
    return parts


def _by_group(frame: pd.DataFrame, cfg: SplitConfig, seed: int) -> tuple[pd.DataFrame, ...]:
    """Whole groups go to one split (rows of one customer never train and test at once)."""
    from sklearn.model_selection import GroupShuffleSplit

    groups = frame[cfg.column].astype(str).where(frame[cfg.column].notna(), "(missing)")
    if groups.nunique() < 3:
        raise DataError(f"group column {cfg.column!r} has {groups.nunique()} group(s); a group split needs at "
                        "least 3")
    rest_idx, test_idx = next(GroupShuffleSplit(1, test_size=cfg.test, random_state=seed).split(frame, groups=groups))
    rest = frame.iloc[rest_idx]
    train_idx, val_idx = next(GroupShuffleSplit(1, test_size=cfg.val / (cfg.train + cfg.val), random_state=seed)
                              .split(rest, groups=groups.iloc[rest_idx]))
    return rest.iloc[train_idx], rest.iloc[val_idx], frame.iloc[test_idx]


def check_leaks(parts: list[pd.DataFrame], columns: list[str], strategy: str, column: str | None) -> None:
    """Fail on an exact row in two splits, a group in two splits, or a time split out of order."""
    names = ("train", "val", "test")
    hashes = [set(pd.util.hash_pandas_object(p[columns], index=False)) for p in parts]
    for i, j in ((0, 1), (0, 2), (1, 2)):
        shared = len(hashes[i] & hashes[j])
        if shared:
            raise DataError(f"{shared} identical row(s) are in both {names[i]} and {names[j]}, which leaks "
                            "the answer into evaluation; remove duplicates from the data")
    if strategy == "group":
        keys = [set(p[column].astype(str)) for p in parts]
        for i, j in ((0, 1), (0, 2), (1, 2)):
            if keys[i] & keys[j]:
                raise DataError(f"group {sorted(keys[i] & keys[j])[0]!r} is in both {names[i]} and {names[j]}; "
                                "check split.column")
    if strategy == "time":
        bounds = [(_time(p[column]).min(), _time(p[column]).max()) for p in parts]
        if not (bounds[0][1] < bounds[1][0] and bounds[1][1] < bounds[2][0]):
            raise DataError(f"time order is broken: train must be older than val and val older than test in "
                            f"{column!r}; check the column's values")


def _time(col: pd.Series) -> pd.Series:
    return col if pd.api.types.is_numeric_dtype(col) else pd.to_datetime(col, errors="coerce", format="mixed")
