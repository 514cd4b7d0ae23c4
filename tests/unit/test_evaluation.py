import numpy as np
import pytest

from tabflow.evaluation import METRICS, baseline_probabilities, classification_metrics, plots


def test_perfect_and_inverted_scores():
    y = np.array([0, 0, 1, 1])
    perfect = classification_metrics(y, np.array([0.1, 0.2, 0.8, 0.9]))
    assert perfect["auc"] == 1.0 and perfect["accuracy"] == 1.0 and perfect["f1"] == 1.0
    inverted = classification_metrics(y, np.array([0.9, 0.8, 0.2, 0.1]))
    assert inverted["auc"] == 0.0 and inverted["accuracy"] == 0.0
    assert set(perfect) == set(METRICS)


def test_baselines_score_as_expected(splits):
    y = splits.y("test")
    scores = {name: classification_metrics(y, p) for name, p in baseline_probabilities(splits, 0).items()}
    assert scores["dummy"]["auc"] == pytest.approx(0.5)
    assert scores["dummy"]["accuracy"] == pytest.approx(max(y.mean(), 1 - y.mean()))
    assert scores["logreg"]["auc"] > 0.97, "logistic regression is a strong baseline on this table"


def test_plots_are_figures():
    figures = plots(np.array([0, 1, 0, 1]), np.array([0.2, 0.7, 0.4, 0.9]), (0, 1))
    assert set(figures) == {"confusion_matrix.png", "roc_curve.png", "pr_curve.png"}
