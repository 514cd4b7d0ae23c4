"""The test-set plots logged with every run."""

from __future__ import annotations

import numpy as np
from sklearn import metrics as skm


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
    skm.ConfusionMatrixDisplay.from_predictions(
        y_true, pred, labels=list(range(len(labels))), display_labels=labels, ax=ax, colorbar=False
    )
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
