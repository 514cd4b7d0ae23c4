"""The gate's rules from the config, checked against the task."""

import pytest

from tabflow.config import GateConfig
from tabflow.errors import ConfigError
from tabflow.promotion.judge import gate_rules


def test_the_floor_defaults_to_beating_the_dummy():
    rules = gate_rules(GateConfig(), "binary", dummy=0.5)
    assert rules.metric == "auc" and rules.floor.value == 0.5 and rules.floor.strict
    set_floor = gate_rules(GateConfig(floor=0.9, floors={"recall": 0.8}), "binary", dummy=0.5)
    assert set_floor.floor.value == 0.9 and not set_floor.floor.strict and set_floor.floors == {"recall": 0.8}


def test_a_metric_of_another_task_is_a_config_error():
    with pytest.raises(ConfigError, match=r"gate\.floors names 'recall', which is not a multiclass metric"):
        gate_rules(GateConfig(floors={"recall": 0.8}), "multiclass", dummy=0.5)
    assert gate_rules(GateConfig(), "regression", dummy=70.0).metric == "rmse"
