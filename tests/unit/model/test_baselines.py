"""The baselines."""

import pytest

from tabflow.metrics import scores
from tabflow.model.baselines import baseline_outputs


def test_baselines_score_as_expected(splits):
    y = splits.y("test")
    result = {name: scores("binary", y, p) for name, p in baseline_outputs(splits, 0).items()}
    assert result["dummy"]["auc"] == pytest.approx(0.5)
    assert result["dummy"]["accuracy"] == pytest.approx(max(y.mean(), 1 - y.mean()))
    assert result["logreg"]["auc"] > 0.97, "logistic regression is a strong baseline on this table"
