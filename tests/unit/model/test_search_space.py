"""The search space: one definition of every suggest, with a digest that names the study."""

import optuna

from tabflow.model.network import MLPParams
from tabflow.model.search_space import SearchSpace


def test_space_samples_valid_params():
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    space = SearchSpace()
    for _ in range(20):
        params = space.sample(study.ask())
        assert isinstance(params, MLPParams)
        assert space.n_layers[0] <= params.n_layers <= space.n_layers[1]
        assert params.batch_size in space.batch_size and params.activation in space.activation


def test_the_digest_changes_with_the_space_and_only_with_it():
    assert SearchSpace().digest() == SearchSpace().digest()
    assert SearchSpace(units=(8, 256)).digest() != SearchSpace().digest(), "a wider range is another study"
