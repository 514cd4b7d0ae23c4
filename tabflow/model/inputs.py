"""The splits as the network's inputs: float32 matrices from the preprocessor fitted on train, the head, and
class weights."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from sklearn.pipeline import Pipeline

from tabflow import settings
from tabflow.data.split import Splits
from tabflow.features.preprocessor import Layout, layout, make_preprocessor, transform
from tabflow.model.network import Head
from tabflow.task_types import task_type


@dataclass(frozen=True)
class Prepared:
    """The splits as float32 matrices, transformed by a preprocessor fitted on train only."""

    preprocessor: Pipeline
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    head: Head = Head()
    class_weight: dict[int, float] | None = None  # per class index, for an imbalanced classification target
    layout: Layout | None = None  # None: every column dense

    def sample(self, max_rows: int, seed: int) -> Prepared:
        """At most `max_rows` rows of train and of val, drawn with a seed: trials on a large table."""
        rng = np.random.default_rng(seed)

        def take(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            if len(x) <= max_rows:
                return x, y
            rows = np.sort(rng.choice(len(x), max_rows, replace=False))
            return x[rows], y[rows]

        (x_train, y_train), (x_val, y_val) = take(self.x_train, self.y_train), take(self.x_val, self.y_val)
        return replace(self, x_train=x_train, y_train=y_train, x_val=x_val, y_val=y_val)


def prepare(
    splits: Splits, max_categories: int = 1000, class_weight: str = "none", numeric: str = "realmlp"
) -> Prepared:
    pre = make_preprocessor(splits.roles, max_categories, numeric=numeric)
    x_train = np.asarray(pre.fit_transform(splits.x("train")), dtype="float32")  # fitting computes it anyway
    y_train = splits.y("train")
    classification = task_type(splits.task).classification
    head = Head(
        splits.task,
        max(len(splits.classes), 1),
        *(() if classification else (float(y_train.mean()), float(y_train.std()) or 1.0)),
    )
    weights = class_weights(y_train, len(splits.classes), class_weight) if classification else None
    return Prepared(
        preprocessor=pre,
        x_train=x_train,
        y_train=_column(y_train, head),
        x_val=transform(pre, splits.x("val")),
        y_val=_column(splits.y("val"), head),
        head=head,
        class_weight=weights,
        layout=layout(pre),
    )


def class_weights(y: np.ndarray, n_classes: int, mode: str) -> dict[int, float] | None:
    """sklearn's "balanced" weights (n / (k * count)), so each class carries the same total weight in the loss."""
    counts = np.bincount(y, minlength=n_classes)
    if mode == "none" or (mode == "auto" and counts[counts > 0].min() >= settings.IMBALANCED * counts.max()):
        return None
    return {i: float(len(y) / (n_classes * c)) for i, c in enumerate(counts) if c > 0}


def _column(y: np.ndarray, head: Head) -> np.ndarray:
    dtype = "int32" if head.task == "multiclass" else "float32"  # class indices for the sparse loss
    return y.astype(dtype).reshape(-1, 1)  # Keras wants targets shaped (n, 1)
