"""Stratified, seeded train / val / test split."""

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
    classes: tuple  # sorted labels; classes[1] is the positive class
    digest: str

    def x(self, part: str) -> pd.DataFrame:
        return getattr(self, part)[list(self.features)]

    def y(self, part: str) -> np.ndarray:
        """Labels encoded as 0 / 1 in the order of `classes`."""
        return (getattr(self, part)[self.target].to_numpy() == self.classes[1]).astype("int64")

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train), "val": len(self.val), "test": len(self.test)}


def split(table: CleanTable, cfg: SplitConfig, seed: int) -> Splits:
    frame, target = table.frame, table.target
    rest, test = train_test_split(frame, test_size=cfg.test, stratify=frame[target], random_state=seed)
    train, val = train_test_split(rest, test_size=cfg.val / (cfg.train + cfg.val), stratify=rest[target],
                                  random_state=seed)
    classes = tuple(sorted(frame[target].unique().tolist()))
    return Splits(train=train.reset_index(drop=True), val=val.reset_index(drop=True),
                  test=test.reset_index(drop=True), features=table.features, target=target,
                  classes=classes, digest=table.digest)
