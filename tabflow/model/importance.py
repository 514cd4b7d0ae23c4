"""Which columns matter: permutation importance on the test rows (scikit-learn's), through the served model, so
it covers the preprocessing as well as the network."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

MAX_ROWS = 2_000  # test rows the importance is measured on: the ranking settles long before
REPEATS = 5  # shuffles per column


def permutation(
    score: Callable[[pd.DataFrame, np.ndarray], float], x: pd.DataFrame, y: np.ndarray, seed: int
) -> pd.DataFrame:
    """One row per column, most important first: the mean drop of `score` (higher is better) when the column is
    shuffled, and its spread over the shuffles."""
    from sklearn.inspection import permutation_importance

    if len(x) > MAX_ROWS:
        rows = np.random.default_rng(seed).choice(len(x), MAX_ROWS, replace=False)
        x, y = x.iloc[rows], y[rows]
    found = permutation_importance(
        _Scored(), x, y, scoring=lambda _, xs, ys: score(xs, ys), n_repeats=REPEATS, random_state=seed
    )
    table = pd.DataFrame(
        {"column": list(x.columns), "importance": found.importances_mean, "std": found.importances_std}
    )
    return table.sort_values("importance", ascending=False, kind="stable").reset_index(drop=True)


class _Scored:
    """scikit-learn wants an estimator object; the scoring function does the predicting."""

    def fit(self, *_):  # pragma: no cover - never called
        return self
