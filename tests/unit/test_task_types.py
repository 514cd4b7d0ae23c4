"""Each task type is one spec: objective, gate metric, baselines, metrics and output columns."""

import numpy as np
import pytest

from tabflow.metrics import scores
from tabflow.task_types import LABEL, PREDICTION, PROBABILITY, TASK_TYPES, task_type

OUTPUTS = {
    "binary": (np.array([0, 1, 1, 0]), np.array([0.2, 0.9, 0.6, 0.4])),
    "multiclass": (np.array([0, 1, 2, 1]), np.eye(3)[[0, 1, 2, 0]] * 0.8 + 0.2 / 3),
    "regression": (np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.1, 1.9, 3.2, 3.7])),
}


@pytest.mark.parametrize("name", sorted(TASK_TYPES))
def test_each_task_scores_exactly_its_metrics_and_gates_on_one_of_them(name):
    spec = task_type(name)
    got = scores(name, *OUTPUTS[name])
    assert list(got) == list(spec.metrics), f"{name}: scores() computes the spec's metrics, in its order"
    assert spec.gate_metric in spec.metrics and spec.objective.startswith("val_"), spec
    assert spec.baselines[0] == "dummy" and len(spec.baselines) >= 2, "the dummy first, then a linear model"


def test_output_columns_per_task():
    assert task_type("binary").output_columns(("no", "yes")) == [PROBABILITY, LABEL]
    assert task_type("multiclass").output_columns(("a", "b")) == [f"{PROBABILITY}_a", f"{PROBABILITY}_b", LABEL]
    assert task_type("regression").output_columns(()) == [PREDICTION]
    assert task_type("multiclass").probability_columns(("a", "b")) == [f"{PROBABILITY}_a", f"{PROBABILITY}_b"]


def test_an_unknown_task_type_names_the_known_ones():
    with pytest.raises(ValueError, match="binary, multiclass, regression"):
        task_type("ranking")
