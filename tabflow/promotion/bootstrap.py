"""A paired bootstrap of the challenger's gain over the champion on the same test rows.

Each resample is a row of multinomial counts, so a metric over 1,000 resamples is a handful of matrix operations,
not 1,000 calls.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from tabflow import settings
from tabflow.metrics import lower_is_better, scores


@dataclass(frozen=True)
class Interval:
    """The challenger's gain over the champion on one metric (positive: better, in either direction of metric)."""

    gain: float
    low: float
    high: float
    confidence: float

    def describe(self) -> str:
        return f"gain {self.gain:+.4f}, {self.confidence:.0%} interval [{self.low:+.4f}, {self.high:+.4f}]"


def gain(metric: str, challenger: Any, champion: Any) -> Any:
    """The challenger's gain (positive: better, whichever way the metric points); floats or arrays alike."""
    return champion - challenger if lower_is_better(metric) else challenger - champion


def bootstrap(
    task: str,
    metric: str,
    y: np.ndarray,
    challenger: np.ndarray,
    champion: np.ndarray,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Interval:
    """Percentile interval of the challenger's gain on `metric`, from paired resamples of the test rows.

    `challenger` and `champion` are network outputs (P(positive), a probability matrix, or predictions).
    """
    score = resampled_metric(task, metric, y)
    point = gain(metric, score(challenger, np.ones((1, len(y))))[0], score(champion, np.ones((1, len(y))))[0])
    gains = np.concatenate(
        [gain(metric, score(challenger, c), score(champion, c)) for c in _counts(len(y), resamples, seed)]
    )
    low, high = _percentiles(gains, confidence)
    return Interval(float(point), low, high, confidence)


def metric_interval(
    task: str, metric: str, y: np.ndarray, output: np.ndarray, resamples: int = 1000, confidence: float = 0.95
) -> tuple[float, float, float]:
    """One model's metric on the test rows and its percentile bootstrap interval: (value, low, high)."""
    score = resampled_metric(task, metric, y)
    values = np.concatenate([score(output, c) for c in _counts(len(y), resamples, seed=0)])
    return (float(score(output, np.ones((1, len(y))))[0]), *_percentiles(values, confidence))


def _counts(n: int, resamples: int, seed: int) -> Iterator[np.ndarray]:
    """Resamples of n rows as count matrices (b, n), a chunk at a time so each stays a bounded size."""
    rng = np.random.default_rng(seed)
    step = max(1, settings.CHUNK_CELLS // max(n, 1))
    for start in range(0, resamples, step):
        b = min(step, resamples - start)
        rows = rng.integers(0, n, size=(b, n), dtype="int64") + n * np.arange(b)[:, None]
        yield np.bincount(rows.ravel(), minlength=b * n).astype("int32").reshape(b, n)


def _percentiles(values: np.ndarray, confidence: float) -> tuple[float, float]:
    values = values[np.isfinite(values)]  # a resample with one class has no AUC
    if not len(values):
        return float("nan"), float("nan")
    tail = (1 - confidence) / 2
    low, high = np.quantile(values, [tail, 1 - tail])
    return float(low), float(high)


def resampled_metric(task: str, metric: str, y: np.ndarray) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """f(output, counts) -> the metric under each row of resample counts (shape (b, n) -> (b,))."""
    y = np.asarray(y)

    def mean(per_row: np.ndarray, counts: np.ndarray) -> np.ndarray:
        return counts @ per_row / counts.sum(axis=1)

    if task == "regression":
        per_row = {"rmse": lambda o: (o - y) ** 2, "mae": lambda o: np.abs(o - y)}
        if metric not in per_row:
            return _looped(task, metric, y)
        if metric == "rmse":
            return lambda o, c: np.sqrt(mean(per_row["rmse"](np.asarray(o, "float64")), c))
        return lambda o, c: mean(per_row["mae"](np.asarray(o, "float64")), c)
    if task == "binary":
        if metric == "auc":
            return lambda o, c: _weighted_auc(y == 1, np.asarray(o, "float64"), c)
        per_row = {
            "accuracy": lambda o: ((o >= 0.5) == (y == 1)).astype("float64"),
            "brier": lambda o: (o - y) ** 2,
            "log_loss": lambda o: -np.log(np.where(y == 1, np.clip(o, 1e-7, 1 - 1e-7), 1 - np.clip(o, 1e-7, 1 - 1e-7))),
        }
        if metric in per_row:
            return lambda o, c: mean(per_row[metric](np.asarray(o, "float64")), c)
        return _looped(task, metric, y)
    if metric == "auc":  # macro one-vs-rest over the classes present, as tabflow.evaluation computes it
        present = np.unique(y)

        def auc(o, c):
            p = np.clip(np.asarray(o, "float64"), 1e-7, 1)[:, present]
            p = p / p.sum(axis=1, keepdims=True)
            return np.mean([_weighted_auc(y == k, p[:, i], c) for i, k in enumerate(present)], axis=0)

        return auc
    if metric == "accuracy":
        return lambda o, c: mean((np.asarray(o).argmax(axis=1) == y).astype("float64"), c)
    if metric == "log_loss":
        return lambda o, c: mean(-np.log(_row_proba(np.asarray(o, "float64"), y)), c)
    return _looped(task, metric, y)


def _row_proba(o: np.ndarray, y: np.ndarray) -> np.ndarray:
    p = np.clip(o, 1e-7, 1)
    return (p / p.sum(axis=1, keepdims=True))[np.arange(len(y)), y]


def _weighted_auc(positive: np.ndarray, score: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """ROC AUC under each row of counts (Mann-Whitney U, ties counted half), from one sort of the scores.

    For each positive row: the negatives' count below its score (a cumulative sum in sorted order, read at the
    start of its group of tied scores) plus half those tied with it. float32 counts are exact up to 2**24 rows;
    the sums are float64.
    """
    order = np.argsort(score, kind="stable")
    s, pos = score[order], positive[order]
    c = counts[:, order].astype("float32")
    neg, hits = c * ~pos, c * pos
    cum = np.cumsum(neg, axis=1)  # negatives at or below each position
    first = np.r_[True, s[1:] != s[:-1]]
    if first.all():  # no ties: the usual case for a network's probabilities
        below, tied = cum - neg, neg
    else:
        starts = np.flatnonzero(first)
        group = np.cumsum(first) - 1
        ends = np.r_[starts[1:], len(s)]
        padded = np.concatenate([np.zeros((len(c), 1), "float32"), cum], axis=1)
        below = padded[:, starts[group]]
        tied = padded[:, ends[group]] - below
    u = (hits * (below + 0.5 * tied)).sum(axis=1, dtype="float64")
    pairs = hits.sum(axis=1, dtype="float64") * cum[:, -1].astype("float64")
    with np.errstate(invalid="ignore", divide="ignore"):
        return u / pairs


def _looped(task: str, metric: str, y: np.ndarray) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """Any other metric, one resample at a time through tabflow.evaluation (slower, exact)."""

    def score(o: np.ndarray, counts: np.ndarray) -> np.ndarray:
        out = []
        for row in counts:
            rows = np.repeat(np.arange(len(y)), row)
            out.append(scores(task, y[rows], np.asarray(o)[rows])[metric])
        return np.asarray(out)

    return score
