"""The metric vocabulary, defined once: each task's test metrics (tabflow.task_types), which way is better, and
how each is computed. The config, the gate, the evaluation and the summary all read it from here."""

from __future__ import annotations

import numpy as np

from tabflow.task_types import TASK_TYPES

LOWER_IS_BETTER = frozenset({"log_loss", "brier", "ece", "rmse", "mae"})
BINS = 10  # equal-width confidence bins of the expected calibration error and the reliability diagram
ALL = tuple(dict.fromkeys(m for spec in TASK_TYPES.values() for m in spec.metrics))  # every name, first seen first


def lower_is_better(metric: str) -> bool:
    return metric in LOWER_IS_BETTER


def for_task(task: str) -> tuple[str, ...]:
    return TASK_TYPES[task].metrics


def check_names(names: list[str], task: str, setting: str) -> None:
    """Each name a metric of the task, else a ValueError that lists the task's metrics."""
    from tabflow.errors import ConfigError

    known = for_task(task)
    for name in names:
        if name not in known:
            raise ConfigError(
                f"{setting} names {name!r}, which is not a {task} metric; use one of: " + ", ".join(known)
            )


def scores(task: str, y_true: np.ndarray, output: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    """`output` is P(positive) for binary, an (n, k) probability matrix for multiclass, predictions for
    regression. The same names everywhere (prefixed test_ / val_ by the caller), so MLflow's compare view lines up.
    """
    from sklearn import metrics as skm

    if task == "regression":
        return {
            "rmse": float(np.sqrt(skm.mean_squared_error(y_true, output))),
            "mae": float(skm.mean_absolute_error(y_true, output)),
            "r2": float(skm.r2_score(y_true, output)),
        }
    if task == "multiclass":
        labels = np.arange(output.shape[1])
        pred = output.argmax(axis=1)
        proba = np.clip(output, 1e-7, 1)
        proba = proba / proba.sum(axis=1, keepdims=True)
        present = np.unique(y_true)
        auc = (
            skm.roc_auc_score(
                y_true,
                proba[:, present] / proba[:, present].sum(axis=1, keepdims=True),
                multi_class="ovr",
                average="macro",
                labels=present,
            )
            if len(present) > 2
            else float("nan")
        )  # a class absent from test has no ROC curve
        out = {
            "accuracy": skm.accuracy_score(y_true, pred),
            "balanced_accuracy": skm.balanced_accuracy_score(y_true, pred),
            "f1": skm.f1_score(y_true, pred, average="macro", zero_division=0),
            "auc": auc,
            "log_loss": skm.log_loss(y_true, proba, labels=labels),
            "brier": float(np.mean(np.sum((proba - np.eye(len(labels))[y_true]) ** 2, axis=1))),
            "ece": ece(pred == y_true, proba.max(axis=1)),
        }
    else:
        pred = (output >= threshold).astype(int)
        clipped = np.clip(output, 1e-7, 1 - 1e-7)
        out = {
            "accuracy": skm.accuracy_score(y_true, pred),
            "balanced_accuracy": skm.balanced_accuracy_score(y_true, pred),
            "precision": skm.precision_score(y_true, pred, zero_division=0),
            "recall": skm.recall_score(y_true, pred, zero_division=0),
            "f1": skm.f1_score(y_true, pred, zero_division=0),
            "auc": skm.roc_auc_score(y_true, output),
            "pr_auc": skm.average_precision_score(y_true, output),
            "log_loss": skm.log_loss(y_true, clipped, labels=[0, 1]),
            "brier": skm.brier_score_loss(y_true, output),
            "ece": ece(y_true, output),
        }
    return {name: float(out[name]) for name in for_task(task)}


def ece(outcome: np.ndarray, confidence: np.ndarray, bins: int = BINS) -> float:
    """Expected calibration error: the row-weighted gap between the predicted probability and the observed rate,
    over equal-width bins of the probability. Binary: P(positive) against the label; multiclass: the top class's
    probability against whether it was right."""
    outcome, confidence = np.asarray(outcome, dtype=float), np.asarray(confidence, dtype=float)
    which = np.minimum((confidence * bins).astype(int), bins - 1)
    gaps = np.abs(np.bincount(which, outcome, bins) - np.bincount(which, confidence, bins))
    return float(gaps.sum() / max(len(outcome), 1))
