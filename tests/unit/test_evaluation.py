import numpy as np
import pytest

from tabflow.evaluation import METRICS, baseline_outputs, plots, scores


def test_perfect_and_inverted_scores():
    y = np.array([0, 0, 1, 1])
    perfect = scores("binary", y, np.array([0.1, 0.2, 0.8, 0.9]))
    assert perfect["auc"] == 1.0 and perfect["accuracy"] == 1.0 and perfect["f1"] == 1.0
    inverted = scores("binary", y, np.array([0.9, 0.8, 0.2, 0.1]))
    assert inverted["auc"] == 0.0 and inverted["accuracy"] == 0.0
    assert set(perfect) == set(METRICS["binary"])


def test_multiclass_scores_use_the_probability_matrix():
    y = np.array([0, 1, 2, 2])
    proba = np.array([[0.8, 0.1, 0.1], [0.1, 0.7, 0.2], [0.2, 0.2, 0.6], [0.5, 0.1, 0.4]])
    out = scores("multiclass", y, proba)
    assert set(out) == set(METRICS["multiclass"])
    assert out["accuracy"] == 0.75 and out["auc"] == pytest.approx(1.0)
    assert out["log_loss"] == pytest.approx(-np.mean(np.log([0.8, 0.7, 0.6, 0.4])))


def test_regression_scores_are_in_the_targets_units():
    out = scores("regression", np.array([10.0, 20.0, 30.0]), np.array([12.0, 18.0, 30.0]))
    assert out["rmse"] == pytest.approx(np.sqrt(8 / 3)) and out["mae"] == pytest.approx(4 / 3)
    assert out["r2"] == pytest.approx(1 - 8 / 200)


def test_baselines_score_as_expected(splits):
    y = splits.y("test")
    result = {name: scores("binary", y, p) for name, p in baseline_outputs(splits, 0).items()}
    assert result["dummy"]["auc"] == pytest.approx(0.5)
    assert result["dummy"]["accuracy"] == pytest.approx(max(y.mean(), 1 - y.mean()))
    assert result["logreg"]["auc"] > 0.97, "logistic regression is a strong baseline on this table"


@pytest.mark.parametrize(("task", "y", "output", "files"), [
    ("binary", [0, 1, 0, 1], [0.2, 0.7, 0.4, 0.9], {"confusion_matrix.png", "roc_curve.png", "pr_curve.png"}),
    ("multiclass", [0, 1, 2], [[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8]], {"confusion_matrix.png"}),
    ("regression", [1.0, 2.0, 3.0], [1.1, 2.2, 2.7], {"actual_vs_predicted.png", "residuals.png"}),
])
def test_plots_per_task(task, y, output, files):
    assert set(plots(task, np.array(y), np.array(output), (0, 1, 2))) == files
