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
    figures["reliability.png"] = reliability(task, y_true, output, plt)
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


def reliability(task: str, y_true: np.ndarray, output: np.ndarray, plt):
    """The reliability diagram on the test rows: the observed rate against the predicted probability, in the
    bins of the expected calibration error (binary: P(positive); multiclass: the top class's probability)."""
    from sklearn.calibration import CalibrationDisplay

    from tabflow.metrics import BINS, ece

    if task == "binary":
        outcome, confidence, what = y_true, output, "P(positive)"
    else:
        outcome, confidence, what = output.argmax(axis=1) == y_true, output.max(axis=1), "top-class probability"
    fig, ax = plt.subplots(figsize=(4.5, 4))
    CalibrationDisplay.from_predictions(outcome, confidence, n_bins=BINS, ax=ax, name="network")
    ax.set_xlabel(f"predicted {what}")
    ax.set_title(f"Reliability (test), ECE {ece(outcome, confidence):.3f}")
    return fig


def importance_plot(table, metric: str, top: int = 20):
    """The permutation importances of the `top` columns, as horizontal bars with their spread."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = table.head(top).iloc[::-1]
    fig, ax = plt.subplots(figsize=(5.5, 1.2 + 0.25 * len(shown)))
    ax.barh(shown["column"].astype(str), shown["importance"], xerr=shown["std"], color="#4c72b0")
    ax.set_xlabel(f"drop in test {metric} when shuffled")
    ax.set_title("Permutation importance (test)")
    fig.tight_layout()
    return fig


def study_plots(study) -> dict:
    """Optuna's optimisation history and, with two or more finished trials, its parameter importances."""
    import contextlib
    import warnings

    import matplotlib

    matplotlib.use("Agg")
    from optuna.trial import TrialState
    from optuna.visualization import matplotlib as ovm

    figures: dict = {}
    with warnings.catch_warnings():  # Optuna marks its matplotlib plots experimental
        warnings.simplefilter("ignore")
        figures["optimization_history.png"] = ovm.plot_optimization_history(study).get_figure(root=True)
        complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if len(complete) >= 2:
            with contextlib.suppress(ValueError, RuntimeError):  # e.g. no parameter varied
                figures["param_importances.png"] = ovm.plot_param_importances(study).get_figure(root=True)
    for fig in figures.values():
        fig.set_size_inches(6, 4)
        fig.tight_layout()
    return figures
