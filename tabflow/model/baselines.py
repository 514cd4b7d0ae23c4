"""The baselines a user could fit in one line, on the same split and the network's preprocessing."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tabflow.data.split import Splits
from tabflow.features.preprocessor import layout, make_preprocessor
from tabflow.task_types import task_type


def baseline_outputs(splits: Splits, seed: int, max_categories: int = 1000) -> dict[str, np.ndarray]:
    """The dummy (class prior or mean), the linear model (logistic or ridge regression, categories one-hot) and
    gradient boosting (scikit-learn's HistGradientBoosting with its defaults, category codes as native
    categories), on the network's preprocessing (`max_categories` as data.max_categories sets it), each fitted on
    train and val (every row the network may learn from: its fold networks train on both) and scored on test, in
    the network's output format. Names in task_types' `baselines` order."""
    from sklearn.dummy import DummyClassifier, DummyRegressor
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline

    x_train, y_train, x_test = fit_rows(splits)
    pre = make_preprocessor(splits.roles, max_categories, one_hot=True)  # fitted inside the pipeline
    spec = task_type(splits.task)
    dummy, linear, boosting = spec.baselines
    if not spec.classification:
        models = {dummy: DummyRegressor(), linear: make_pipeline(pre, Ridge())}
        out = {name: m.fit(x_train, y_train).predict(x_test) for name, m in models.items()}
        return {**out, boosting: _boosting(splits, x_train, y_train, x_test, seed, max_categories)}
    models = {
        dummy: DummyClassifier(strategy="prior"),
        linear: make_pipeline(pre, LogisticRegression(max_iter=2000, random_state=seed)),
    }
    out = {
        name: _binary_as_one(_all_classes(m.fit(x_train, y_train), x_test, len(splits.classes)))
        for name, m in models.items()
    }
    return {**out, boosting: _boosting(splits, x_train, y_train, x_test, seed, max_categories)}


def _boosting(
    splits: Splits, x_fit: pd.DataFrame, y_fit: np.ndarray, x_raw: pd.DataFrame, seed: int, max_categories: int
) -> np.ndarray:
    """HistGradientBoosting with its defaults on the network's codes, the categories native while they fit its
    255 bins. One OpenMP thread: beside TensorFlow's thread pools, more were many times slower (../shared/STACK.md)."""
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from threadpoolctl import threadpool_limits

    pre = make_preprocessor(splits.roles, max_categories, numeric="robust")
    x_train, x_test = pre.fit_transform(x_fit), pre.transform(x_raw)
    shape = layout(pre)
    codes = [False] * shape.dense + [bool(x_train[:, i].max() < 255) for i in range(shape.dense, shape.width)]
    with threadpool_limits(limits=1, user_api="openmp"):
        if splits.task == "regression":
            model = HistGradientBoostingRegressor(random_state=seed, categorical_features=codes)
            return model.fit(x_train, y_fit).predict(x_test)
        model = HistGradientBoostingClassifier(random_state=seed, categorical_features=codes)
        model.fit(x_train, y_fit)
        return _binary_as_one(_all_classes(model, x_test, len(splits.classes)))


def fit_rows(splits: Splits) -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame]:
    """Train and val together, and the test rows."""
    x = pd.concat([splits.x("train"), splits.x("val")], ignore_index=True)
    return x, np.concatenate([splits.y("train"), splits.y("val")]), splits.x("test")


def _binary_as_one(proba: np.ndarray) -> np.ndarray:
    return proba if proba.shape[1] > 2 else proba[:, 1]  # the network's format: P(positive) for binary


def _all_classes(model, x: pd.DataFrame, k: int) -> np.ndarray:
    """predict_proba with a column for every class, also one the training split happened to lack."""
    proba = np.zeros((len(x), k))
    proba[:, model.classes_] = model.predict_proba(x)
    return proba
