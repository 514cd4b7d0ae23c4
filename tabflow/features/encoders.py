"""tabflow's own scikit-learn transformers: category codes and date parts, fitted on the training split."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from tabflow import settings
from tabflow.data.roles import MISSING


class Vocabulary(TransformerMixin, BaseEstimator):
    """Each categorical column as an integer code, learned from the training split: 1..k for its k most
    frequent values seen at least `min_count` times (k < max_categories), 0 for the rest ("other": rare in
    training, or unseen at serving). Missing is a value like any other.

    The network one-hot encodes columns with up to `one_hot_max` codes and embeds the others. Output: the one-hot
    columns first, then the embedded ones, each group's codes offset so that the group shares one code space:
    the network then encodes a group with one layer, not one per column (per-column layers made an epoch over
    a large table several times slower; benchmarks/RESULTS.md, section 4). The matrix stays one float per column,
    not one per category.
    """

    def __init__(
        self, max_categories: int = 1000, min_count: int = settings.MIN_COUNT, one_hot_max: int = settings.ONE_HOT_MAX
    ):
        self.max_categories = max_categories
        self.min_count = min_count
        self.one_hot_max = one_hot_max

    def fit(self, x: pd.DataFrame, y=None):
        vocabularies, self.folded_ = {}, {}
        for name in x.columns:
            counts = x[name].fillna(MISSING).astype(str).value_counts()
            kept = sorted(((-n, v) for v, n in counts.items() if n >= self.min_count))[: self.max_categories - 1]
            vocabularies[name] = [v for _, v in kept]
            if len(kept) < len(counts):  # for the cleaning report: what "other" stands for, and how often
                self.folded_[str(name)] = {
                    "values": len(counts) - len(kept),
                    "rows": int(counts.sum() - sum(-n for n, _ in kept)),
                }
        self.vocabularies_ = vocabularies
        small = [c for c in x.columns if len(vocabularies[c]) + 1 <= self.one_hot_max]
        self.groups_ = (small, [c for c in x.columns if c not in small])
        return self

    def transform(self, x: pd.DataFrame) -> np.ndarray:
        cols = []
        for group in self.groups_:
            offset = 0
            for name in group:
                codes = pd.Index(self.vocabularies_[name]).get_indexer(x[name].fillna(MISSING).astype(str)) + 1
                cols.append((codes + offset).astype("float32"))  # not in the vocabulary: -1 + 1 = 0, "other"
                offset += len(self.vocabularies_[name]) + 1
        return np.column_stack(cols) if cols else np.empty((len(x), 0), dtype="float32")

    def tokens(self, group: int) -> tuple[int, ...]:
        """Codes per column ("other" included) of the one-hot (0) or embedded (1) group, in output order."""
        return tuple(len(self.vocabularies_[c]) + 1 for c in self.groups_[group])


class DateParts(TransformerMixin, BaseEstimator):
    """Datetime columns as year, month, day, weekday and hour (missing stays missing, for the imputer)."""

    PARTS = ("year", "month", "day", "day_of_week", "hour")

    def fit(self, x, y=None):
        return self

    def transform(self, x: pd.DataFrame) -> np.ndarray:
        cols = [
            getattr(pd.to_datetime(x[c], errors="coerce").dt, part).astype("float64")
            for c in x.columns
            for part in self.PARTS
        ]
        return np.column_stack(cols) if cols else np.empty((len(x), 0))


class RealScaler(TransformerMixin, BaseEstimator):
    """RealMLP's numeric scaling (pytabkit's robust_scale + smooth_clip): subtract the training median, multiply by
    1 / IQR (by 2 / (max - min) when the IQR is 0, by 0 for a constant column), then clip smoothly into (-3, 3)
    with z / sqrt(1 + (z / 3)^2): outliers keep their order but no longer dominate a layer's input.

    Unlike sklearn's RobustScaler, a column whose IQR is 0 (a rare flag, a missing-value indicator) is still scaled
    by its range, as pytabkit does, instead of being left as it is."""

    def fit(self, x, y=None):
        values = np.asarray(x)
        stats = np.empty((5, values.shape[1]))
        for j in range(values.shape[1]):  # a column at a time: a float64 copy of the whole table doubled its memory
            column = np.asarray(values[:, j], dtype="float64")
            stats[:3, j] = np.quantile(column, [0.25, 0.5, 0.75])
            stats[3:, j] = column.min(), column.max()
        median, iqr, half_range = stats[1], stats[2] - stats[0], 0.5 * (stats[4] - stats[3])
        with np.errstate(divide="ignore"):
            factor = np.where(iqr > 0, 1.0 / iqr, np.where(half_range > 0, 1.0 / half_range, 0.0))
        self.center_, self.factor_ = median.astype("float32"), factor.astype("float32")
        return self

    def transform(self, x) -> np.ndarray:
        z = np.array(x, dtype="float32")  # one float32 copy, then every step in place
        z -= self.center_
        z *= self.factor_
        return smooth_clip(z, out=z)


CLIP_INPUT = 1e18  # past this, (z / 3)^2 overflows float32 (to inf, and z / inf to 0), and the clip is 3


def smooth_clip(z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """z / sqrt(1 + (z / 3)^2): about z near 0, bounded by +-3 (RealMLP's smooth clip). With `out`, one temporary
    array instead of four."""
    if out is None:
        z = np.clip(z, -CLIP_INPUT, CLIP_INPUT)
        return z / np.sqrt(1 + (z / 3) ** 2)
    np.clip(z, -CLIP_INPUT, CLIP_INPUT, out=z)
    t = z / 3
    np.square(t, out=t)
    t += 1
    np.sqrt(t, out=t)
    return np.divide(z, t, out=out)
