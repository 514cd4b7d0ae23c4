"""The plots per task."""

import numpy as np
import pytest

from tabflow.model.plots import plots, study_plots


@pytest.mark.parametrize(
    ("task", "y", "output", "files"),
    [
        (
            "binary",
            [0, 1, 0, 1],
            [0.2, 0.7, 0.4, 0.9],
            {"confusion_matrix.png", "roc_curve.png", "pr_curve.png", "reliability.png"},
        ),
        (
            "multiclass",
            [0, 1, 2],
            [[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8]],
            {"confusion_matrix.png", "reliability.png"},
        ),
        ("regression", [1.0, 2.0, 3.0], [1.1, 2.2, 2.7], {"actual_vs_predicted.png", "residuals.png"}),
    ],
)
def test_plots_per_task(task, y, output, files):
    assert set(plots(task, np.array(y), np.array(output), (0, 1, 2))) == files


def test_study_plots_have_the_history_and_with_two_trials_the_importances():
    import optuna

    study = optuna.create_study()
    study.optimize(lambda t: (t.suggest_float("x", -1, 1) - 0.2) ** 2 + t.suggest_float("y", 0, 1), n_trials=6)
    assert set(study_plots(study)) == {"optimization_history.png", "param_importances.png"}
    single = optuna.create_study()
    single.optimize(lambda t: t.suggest_float("x", -1, 1) ** 2, n_trials=1)
    assert set(study_plots(single)) == {"optimization_history.png"}, "one trial has no importances"
