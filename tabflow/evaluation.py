"""Test-set metrics per task, the baselines on the same split, and the plots."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from tabflow.model import fit_preprocessor
from tabflow.splitting import Splits

METRICS = {
    "binary": ("accuracy", "balanced_accuracy", "precision", "recall", "f1", "auc", "pr_auc", "log_loss", "brier"),
    "multiclass": ("accuracy", "balanced_accuracy", "f1", "auc", "log_loss"),
    "regression": ("rmse", "mae", "r2"),
}
BASELINES = {"binary": ("dummy", "logreg"), "multiclass": ("dummy", "logreg"), "regression": ("dummy", "ridge")}


def scores(task: str, y_true: np.ndarray, output: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    """`output` is P(positive) for binary, an (n, k) probability matrix for multiclass, predictions for
    regression. The same names everywhere (prefixed test_ / val_ by the caller), so MLflow's compare view lines up.
    """
    if task == "regression":
        return {"rmse": float(np.sqrt(skm.mean_squared_error(y_true, output))),
                "mae": skm.mean_absolute_error(y_true, output), "r2": skm.r2_score(y_true, output)}
    if task == "multiclass":
        labels = np.arange(output.shape[1])
        pred = output.argmax(axis=1)
        proba = np.clip(output, 1e-7, 1)
        proba = proba / proba.sum(axis=1, keepdims=True)
        present = np.unique(y_true)
        auc = (skm.roc_auc_score(y_true, proba[:, present] / proba[:, present].sum(axis=1, keepdims=True),
                                 multi_class="ovr", average="macro", labels=present)
               if len(present) > 2 else float("nan"))  # a class absent from test has no ROC curve
        return {"accuracy": skm.accuracy_score(y_true, pred), "balanced_accuracy": skm.balanced_accuracy_score(
                    y_true, pred), "f1": skm.f1_score(y_true, pred, average="macro", zero_division=0),
                "auc": auc, "log_loss": skm.log_loss(y_true, proba, labels=labels)}
    pred = (output >= threshold).astype(int)
    clipped = np.clip(output, 1e-7, 1 - 1e-7)
    return {
        "accuracy": skm.accuracy_score(y_true, pred),
        "balanced_accuracy": skm.balanced_accuracy_score(y_true, pred),
        "precision": skm.precision_score(y_true, pred, zero_division=0),
        "recall": skm.recall_score(y_true, pred, zero_division=0),
        "f1": skm.f1_score(y_true, pred, zero_division=0),
        "auc": skm.roc_auc_score(y_true, output),
        "pr_auc": skm.average_precision_score(y_true, output),
        "log_loss": skm.log_loss(y_true, clipped, labels=[0, 1]),
        "brier": skm.brier_score_loss(y_true, output),
    }


def baseline_outputs(splits: Splits, seed: int) -> dict[str, np.ndarray]:
    """A dummy (class prior or mean) and a linear model (logistic or ridge regression) on the network's
    preprocessing, both fitted on train and scored on test, in the network's output format."""
    from sklearn.dummy import DummyClassifier, DummyRegressor
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline

    x_train, y_train, x_test = splits.x("train"), splits.y("train"), splits.x("test")
    pre = fit_preprocessor(x_train, splits.roles, one_hot=True)  # refitted inside each pipeline: the same transform
    if splits.task == "regression":
        models = {"dummy": DummyRegressor(), "ridge": make_pipeline(pre, Ridge())}
        return {name: m.fit(x_train, y_train).predict(x_test) for name, m in models.items()}
    models = {"dummy": DummyClassifier(strategy="prior"),
              "logreg": make_pipeline(pre, LogisticRegression(max_iter=2000, random_state=seed))}
    out = {}
    for name, model in models.items():
        proba = _all_classes(model.fit(x_train, y_train), x_test, len(splits.classes))
        out[name] = proba[:, 1] if splits.task == "binary" else proba
    return out


def _all_classes(model, x: pd.DataFrame, k: int) -> np.ndarray:
    """predict_proba with a column for every class, also one the training split happened to lack."""
    proba = np.zeros((len(x), k))
    proba[:, model.classes_] = model.predict_proba(x)
    return proba


def plots(task: str, y_true: np.ndarray, output: np.ndarray, classes: tuple, threshold: float = 0.5) -> dict:
    """matplotlib figures keyed by artifact file name: confusion matrix, ROC and PR curves for binary; the
    confusion matrix for multiclass; predicted against actual and residuals for regression."""
    import matplotlib

    matplotlib.use("Agg")  # no display on servers and CI
    import matplotlib.pyplot as plt

    figures = {}
    if task == "regression":
        fig, ax = plt.subplots(figsize=(4.5, 4))
        skm.PredictionErrorDisplay.from_predictions(y_true, output, kind="actual_vs_predicted", ax=ax)
        ax.set_title("Predicted against actual (test)")
        figures["actual_vs_predicted.png"] = fig
        fig, ax = plt.subplots(figsize=(4.5, 4))
        skm.PredictionErrorDisplay.from_predictions(y_true, output, kind="residual_vs_predicted", ax=ax)
        ax.set_title("Residuals (test)")
        figures["residuals.png"] = fig
        return figures
    labels = [str(c) for c in classes]
    pred = output.argmax(axis=1) if task == "multiclass" else (output >= threshold).astype(int)
    fig, ax = plt.subplots(figsize=(4.5 + 0.3 * len(labels), 4 + 0.3 * len(labels)))
    skm.ConfusionMatrixDisplay.from_predictions(y_true, pred, labels=list(range(len(labels))),
                                                display_labels=labels, ax=ax, colorbar=False)
    ax.set_title("Confusion matrix (test)")
    figures["confusion_matrix.png"] = fig
    if task == "binary":
        fig, ax = plt.subplots(figsize=(4.5, 4))
        skm.RocCurveDisplay.from_predictions(y_true, output, ax=ax, name="network")
        ax.set_title("ROC (test)")
        figures["roc_curve.png"] = fig
        fig, ax = plt.subplots(figsize=(4.5, 4))
        skm.PrecisionRecallDisplay.from_predictions(y_true, output, ax=ax, name="network")
        ax.set_title("Precision-recall (test)")
        figures["pr_curve.png"] = fig
    return figures
