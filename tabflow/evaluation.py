"""Test-set metrics, the two baselines on the same split, and the plots."""

from __future__ import annotations

import numpy as np
from sklearn import metrics as skm

from tabflow.model import fit_preprocessor
from tabflow.splitting import Splits

METRICS = ("accuracy", "balanced_accuracy", "precision", "recall", "f1", "auc", "pr_auc", "log_loss", "brier")


def classification_metrics(y_true: np.ndarray, proba: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    """The same names everywhere (prefixed test_ / val_ by the caller), so MLflow's compare view lines up."""
    pred = (proba >= threshold).astype(int)
    clipped = np.clip(proba, 1e-7, 1 - 1e-7)
    return {
        "accuracy": skm.accuracy_score(y_true, pred),
        "balanced_accuracy": skm.balanced_accuracy_score(y_true, pred),
        "precision": skm.precision_score(y_true, pred, zero_division=0),
        "recall": skm.recall_score(y_true, pred, zero_division=0),
        "f1": skm.f1_score(y_true, pred, zero_division=0),
        "auc": skm.roc_auc_score(y_true, proba),
        "pr_auc": skm.average_precision_score(y_true, proba),
        "log_loss": skm.log_loss(y_true, clipped, labels=[0, 1]),
        "brier": skm.brier_score_loss(y_true, proba),
    }


def baseline_probabilities(splits: Splits, seed: int) -> dict[str, np.ndarray]:
    """A majority-class dummy and a logistic regression, both fitted on train and scored on test."""
    from sklearn.dummy import DummyClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    x_train, y_train, x_test = splits.x("train"), splits.y("train"), splits.x("test")
    dummy = DummyClassifier(strategy="prior").fit(x_train, y_train)
    logreg = make_pipeline(fit_preprocessor(x_train), LogisticRegression(max_iter=2000, random_state=seed))
    logreg.fit(x_train, y_train)  # refits the preprocessor on train: the same transform the network sees
    return {"dummy": dummy.predict_proba(x_test)[:, 1], "logreg": logreg.predict_proba(x_test)[:, 1]}


def plots(y_true: np.ndarray, proba: np.ndarray, classes: tuple, threshold: float = 0.5) -> dict:
    """Confusion matrix, ROC and precision-recall curves as matplotlib figures, keyed by artifact file name."""
    import matplotlib

    matplotlib.use("Agg")  # no display on servers and CI
    import matplotlib.pyplot as plt

    labels = [str(c) for c in classes]
    figures = {}
    fig, ax = plt.subplots(figsize=(4.5, 4))
    skm.ConfusionMatrixDisplay.from_predictions(y_true, (proba >= threshold).astype(int), display_labels=labels,
                                                ax=ax, colorbar=False)
    ax.set_title("Confusion matrix (test)")
    figures["confusion_matrix.png"] = fig
    fig, ax = plt.subplots(figsize=(4.5, 4))
    skm.RocCurveDisplay.from_predictions(y_true, proba, ax=ax, name="network")
    ax.set_title("ROC (test)")
    figures["roc_curve.png"] = fig
    fig, ax = plt.subplots(figsize=(4.5, 4))
    skm.PrecisionRecallDisplay.from_predictions(y_true, proba, ax=ax, name="network")
    ax.set_title("Precision-recall (test)")
    figures["pr_curve.png"] = fig
    return figures
