"""The search space: one definition of every suggest, with a digest that names the study."""

from dataclasses import fields

import optuna
import pytest

from tabflow.model.network import MLPParams, default_params
from tabflow.model.search_space import SearchSpace


@pytest.mark.parametrize("task", ["binary", "regression"])
def test_space_samples_valid_params(task):
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    space = SearchSpace()
    for _ in range(20):
        params = space.sample(study.ask(), task)
        assert isinstance(params, MLPParams)
        assert space.width[0] <= params.width <= space.width[1] and space.depth[0] <= params.depth <= space.depth[1]
        assert params.weight_decay in space.weight_decay and params.activation in space.activation
        assert params.batch_size == default_params(task).batch_size, "what is not searched keeps its default"


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_the_first_trial_is_the_default_network_and_lies_in_the_space(task):
    first = SearchSpace().first_trial(task)
    assert set(first) == {f.name for f in fields(SearchSpace)}
    study = optuna.create_study()
    study.enqueue_trial(first)
    assert SearchSpace().sample(study.ask(), task) == default_params(task), "enqueued values are the defaults"


def test_the_digest_changes_with_the_space_and_only_with_it():
    assert SearchSpace().digest() == SearchSpace().digest()
    assert SearchSpace(width=(64, 1024)).digest() != SearchSpace().digest(), "a wider range is another study"
