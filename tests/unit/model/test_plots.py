"""The plots per task."""

import numpy as np
import pytest

from tabflow.model.plots import plots


@pytest.mark.parametrize(
    ("task", "y", "output", "files"),
    [
        ("binary", [0, 1, 0, 1], [0.2, 0.7, 0.4, 0.9], {"confusion_matrix.png", "roc_curve.png", "pr_curve.png"}),
        ("multiclass", [0, 1, 2], [[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8]], {"confusion_matrix.png"}),
        ("regression", [1.0, 2.0, 3.0], [1.1, 2.2, 2.7], {"actual_vs_predicted.png", "residuals.png"}),
    ],
)
def test_plots_per_task(task, y, output, files):
    assert set(plots(task, np.array(y), np.array(output), (0, 1, 2))) == files
