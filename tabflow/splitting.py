"""Seeded train / val / test split: stratified by class for classification, random for regression."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from tabflow.config import SplitConfig
from tabflow.data import CleanTable


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
    frame, target = table.frame, table.target
    by_class = table.task != "regression"
    rest, test = train_test_split(frame, test_size=cfg.test, stratify=frame[target] if by_class else None,
                                  random_state=seed)
    train, val = train_test_split(rest, test_size=cfg.val / (cfg.train + cfg.val),
                                  stratify=rest[target] if by_class else None, random_state=seed)
    classes = tuple(sorted(frame[target].unique().tolist())) if by_class else ()
    return Splits(train=train.reset_index(drop=True), val=val.reset_index(drop=True),
                  test=test.reset_index(drop=True), features=table.features, target=target,
                  classes=classes, digest=table.digest, roles=table.roles, task=table.task)
