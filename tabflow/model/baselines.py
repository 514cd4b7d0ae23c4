"""The baselines a user could fit in one line, on the same split and the network's preprocessing."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tabflow.data.split import Splits
from tabflow.features.preprocessor import make_preprocessor
from tabflow.task_types import task_type


def baseline_outputs(splits: Splits, seed: int, max_categories: int = 1000) -> dict[str, np.ndarray]:
    """A dummy (class prior or mean) and a linear model (logistic or ridge regression) on the network's
    preprocessing (the same category codes, `max_categories` as data.max_categories sets them, one-hot), both
    fitted on train and scored on test, in the network's output format."""
    from sklearn.dummy import DummyClassifier, DummyRegressor
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline

    x_train, y_train, x_test = splits.x("train"), splits.y("train"), splits.x("test")
    pre = make_preprocessor(splits.roles, max_categories, one_hot=True)  # fitted inside the pipeline, on train
    spec = task_type(splits.task)
    dummy, linear = spec.baselines
    if not spec.classification:
        models = {dummy: DummyRegressor(), linear: make_pipeline(pre, Ridge())}
        return {name: m.fit(x_train, y_train).predict(x_test) for name, m in models.items()}
    models = {
        dummy: DummyClassifier(strategy="prior"),
        linear: make_pipeline(pre, LogisticRegression(max_iter=2000, random_state=seed)),
    }
    out = {}
    for name, model in models.items():
        proba = _all_classes(model.fit(x_train, y_train), x_test, len(splits.classes))
        out[name] = proba if proba.shape[1] > 2 else proba[:, 1]  # the network's format: P(positive) for binary
    return out


def _all_classes(model, x: pd.DataFrame, k: int) -> np.ndarray:
    """predict_proba with a column for every class, also one the training split happened to lack."""
    proba = np.zeros((len(x), k))
    proba[:, model.classes_] = model.predict_proba(x)
    return proba
