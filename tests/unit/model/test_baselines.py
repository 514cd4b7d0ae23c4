"""The baselines."""

import numpy as np
import pandas as pd
import pytest

from tabflow.metrics import scores
from tabflow.model.baselines import baseline_outputs


def test_baselines_score_as_expected(splits):
    y = splits.y("test")
    result = {name: scores("binary", y, p) for name, p in baseline_outputs(splits, 0).items()}
    assert result["dummy"]["auc"] == pytest.approx(0.5)
    assert result["dummy"]["accuracy"] == pytest.approx(max(y.mean(), 1 - y.mean()))
    assert result["logreg"]["auc"] > 0.97, "logistic regression is a strong baseline on this table"


def test_the_linear_baseline_sees_the_networks_category_cap():
    """data.max_categories caps the network's codes; the linear baseline must read the same preprocessing."""
    from tabflow.config import SplitConfig
    from tabflow.data import clean
    from tabflow.data.split import split

    rng = np.random.default_rng(0)
    n = 900
    city = rng.integers(0, 30, n)
    frame = pd.DataFrame({"city": [f"c{c}" for c in city], "x": rng.normal(size=n), "y": (city % 2).astype(int)})
    table = clean.clean_table(frame, "y", SplitConfig(), "d", columns={"city": "categorical"})
    splits = split(table, SplitConfig(), seed=0)
    capped = scores("binary", splits.y("test"), baseline_outputs(splits, 0, max_categories=2)["logreg"])
    full = scores("binary", splits.y("test"), baseline_outputs(splits, 0)["logreg"])
    assert full["accuracy"] > 0.95, "with every city coded, the parity of the city is learnable"
    assert capped["accuracy"] < 0.8, "with one city coded and the rest 'other', the baseline cannot learn it"
