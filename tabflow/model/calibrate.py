"""What the served model adds after the network, all fitted on held-out rows (validation, or out-of-fold with
train.folds), never on test: temperature scaling of the probabilities, the binary label's threshold, and
split-conformal prediction intervals for regression."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from tabflow import settings

EPS = 1e-7  # probabilities are clipped here before a logit or a log, as Keras' log loss does


@dataclass(frozen=True)
class After:
    """What the served model applies after the network, and what it was fitted on."""

    temperature: float = 1.0  # classification: logits divided by it (1: off)
    threshold: float = 0.5  # binary: the label is positive at or above it
    coverage: float | None = None  # regression: the interval's nominal coverage (None: no interval)
    half_width: float | None = None  # regression: prediction ± this
    rows: int = 0  # held-out rows fitted on
    log_loss_before: float | None = None  # their log loss before and after temperature scaling
    log_loss_after: float | None = None


def fit(task: str, y: np.ndarray, output: np.ndarray, calibrate: bool, rule: Any, coverage: float | None) -> After:
    """Fit everything the served model adds, on held-out rows `y` (targets or class indices) and the network's
    `output` on them."""
    if task == "regression":
        if coverage is None:
            return After(rows=len(y))
        return After(coverage=coverage, half_width=interval(y, output, coverage), rows=len(y))
    before = log_loss(task, y, output)
    t = temperature(task, y, output) if calibrate else 1.0
    scaled = scale(task, output, t)
    cut = threshold(rule, y, scaled) if task == "binary" else 0.5
    return After(t, cut, rows=len(y), log_loss_before=before, log_loss_after=log_loss(task, y, scaled))


def scale(task: str, output: np.ndarray, temperature: float) -> np.ndarray:
    """Probabilities with their logits divided by `temperature` (1: unchanged)."""
    if temperature == 1.0:
        return output
    p = np.clip(np.asarray(output, dtype="float64"), EPS, 1 - EPS)
    if task == "binary":
        return 1.0 / (1.0 + np.exp(-np.log(p / (1 - p)) / temperature))
    z = np.log(p) / temperature
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def log_loss(task: str, y: np.ndarray, output: np.ndarray) -> float:
    p = np.clip(np.asarray(output, dtype="float64"), EPS, 1 - EPS)
    if task == "binary":
        return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))
    return float(-np.mean(np.log(p[np.arange(len(y)), y.astype(int)])))


def temperature(task: str, y: np.ndarray, output: np.ndarray, folds: int = 5, seed: int = 0) -> float:
    """The temperature that minimises the held-out rows' log loss, kept only when it also lowers their log loss
    out of sample: fitted on all but one of `folds` parts of the rows, scored on the one left out. On a few
    hundred rows the network separates, the in-sample optimum sharpens without end and test log loss suffers;
    the check catches that. Searched on [1/4, 4]; 1.0 when the gain is under 0.1% or there are fewer than
    settings.CALIBRATION_ROWS rows."""
    n = len(y)
    if n < settings.CALIBRATION_ROWS:
        return 1.0
    parts = np.random.default_rng(seed).permutation(n) % folds
    outside = 0.0
    for k in range(folds):
        fit, held = parts != k, parts == k
        t = _best_temperature(task, y[fit], output[fit])
        outside += log_loss(task, y[held], scale(task, output[held], t)) * held.sum()
    if outside / n >= log_loss(task, y, output) * (1 - 1e-3):
        return 1.0
    return _best_temperature(task, y, output)


def _best_temperature(task: str, y: np.ndarray, output: np.ndarray) -> float:
    from scipy.optimize import minimize_scalar

    bound = math.log(4.0)
    found = minimize_scalar(
        lambda t: log_loss(task, y, scale(task, output, math.exp(t))), bounds=(-bound, bound), method="bounded"
    )
    return math.exp(float(found.x))


def threshold(rule: Any, y: np.ndarray, p: np.ndarray) -> float:
    """The binary label's threshold on P(positive) by train.threshold's rule: a number as it is; "f1": the best
    F1; "youden": the best TPR - FPR; {"recall": r}: the highest threshold that keeps recall >= r; {"precision":
    q}: the lowest that reaches precision >= q (the most precise one when none does); {"cost": {"fp": a, "fn": b}}:
    the lowest total cost a·FP + b·FN. Candidates are midpoints between adjacent distinct probabilities."""
    if isinstance(rule, int | float):
        return float(rule)
    p, y = np.asarray(p, dtype="float64"), np.asarray(y).astype(int)
    cuts = _candidates(p)
    order = np.argsort(p, kind="stable")
    first = np.searchsorted(p[order], cuts, side="left")  # rows from here on (in p's order) are labelled positive
    positives_from = np.concatenate([np.cumsum(y[order][::-1])[::-1], [0]])
    tp = positives_from[first]
    fp = (len(p) - first) - tp
    fn = y.sum() - tp
    tn = (len(y) - y.sum()) - fp
    recall = tp / np.maximum(tp + fn, 1)
    precision = np.where(tp + fp > 0, tp / np.maximum(tp + fp, 1), 1.0)
    if rule == "f1":
        return float(cuts[np.argmax(2 * tp / np.maximum(2 * tp + fp + fn, 1))])
    if rule == "youden":
        return float(cuts[np.argmax(recall - fp / np.maximum(fp + tn, 1))])
    ((kind, value),) = rule.items()
    if kind == "recall":
        ok = np.flatnonzero(recall >= value)
        return float(cuts[ok.max()]) if len(ok) else float(cuts[0])
    if kind == "precision":
        ok = np.flatnonzero(precision >= value)
        return float(cuts[ok.min()]) if len(ok) else float(cuts[np.argmax(precision)])
    cost = value["fp"] * fp + value["fn"] * fn
    return float(cuts[np.argmin(cost)])


def _candidates(p: np.ndarray) -> np.ndarray:
    """Thresholds between each pair of adjacent distinct probabilities, plus one below all and one above all."""
    values = np.unique(np.asarray(p, dtype="float64"))
    mids = (values[:-1] + values[1:]) / 2
    return np.concatenate([[max(values[0] - EPS, 0.0)], mids, [min(values[-1] + EPS, 1.0)]])


def interval(y: np.ndarray, prediction: np.ndarray, coverage: float) -> float:
    """Split-conformal half-width: the ceil((n+1)·coverage)-th smallest absolute held-out residual, so that
    [prediction - w, prediction + w] holds a new row's value with probability >= coverage (rows exchangeable);
    the largest residual when there are too few rows for the level."""
    residuals = np.sort(np.abs(np.asarray(y, dtype="float64") - np.asarray(prediction, dtype="float64")))
    rank = math.ceil((len(residuals) + 1) * coverage)
    return float(residuals[min(rank, len(residuals)) - 1])
