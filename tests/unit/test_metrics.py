"""The metric vocabulary and its scores."""

import numpy as np
import pytest

from tabflow.metrics import for_task, scores


def test_perfect_and_inverted_scores():
    y = np.array([0, 0, 1, 1])
    perfect = scores("binary", y, np.array([0.1, 0.2, 0.8, 0.9]))
    assert perfect["auc"] == 1.0 and perfect["accuracy"] == 1.0 and perfect["f1"] == 1.0
    inverted = scores("binary", y, np.array([0.9, 0.8, 0.2, 0.1]))
    assert inverted["auc"] == 0.0 and inverted["accuracy"] == 0.0
    assert set(perfect) == set(for_task("binary"))


def test_multiclass_scores_use_the_probability_matrix():
    y = np.array([0, 1, 2, 2])
    proba = np.array([[0.8, 0.1, 0.1], [0.1, 0.7, 0.2], [0.2, 0.2, 0.6], [0.5, 0.1, 0.4]])
    out = scores("multiclass", y, proba)
    assert set(out) == set(for_task("multiclass"))
    assert out["accuracy"] == 0.75 and out["auc"] == pytest.approx(1.0)
    assert out["log_loss"] == pytest.approx(-np.mean(np.log([0.8, 0.7, 0.6, 0.4])))


def test_regression_scores_are_in_the_targets_units():
    out = scores("regression", np.array([10.0, 20.0, 30.0]), np.array([12.0, 18.0, 30.0]))
    assert out["rmse"] == pytest.approx(np.sqrt(8 / 3)) and out["mae"] == pytest.approx(4 / 3)
    assert out["r2"] == pytest.approx(1 - 8 / 200)
