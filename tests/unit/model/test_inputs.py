"""The network's inputs: class weights and sampled rows."""

import numpy as np

from tabflow.model.inputs import class_weights, prepare


def test_class_weights_balance_only_an_imbalanced_target():
    skewed = np.array([0] * 90 + [1] * 10)
    assert class_weights(skewed, 2, "auto") == {0: 100 / 180, 1: 5.0}
    assert class_weights(np.array([0] * 60 + [1] * 40), 2, "auto") is None
    assert class_weights(np.array([0] * 60 + [1] * 40), 2, "balanced") == {0: 100 / 120, 1: 100 / 80}
    assert class_weights(skewed, 2, "none") is None


def test_trials_sample_rows_of_a_large_table_with_a_seed(splits):
    data = prepare(splits)
    small = data.sample(100, seed=1)
    assert len(small.x_train) == len(small.y_train) == 100 and len(small.x_val) == len(data.x_val) < 100
    rows = {tuple(r) for r in data.x_train.tolist()}
    assert all(tuple(r) in rows for r in small.x_train.tolist()), "a sample of train rows, not new rows"
    assert np.array_equal(small.x_train, data.sample(100, seed=1).x_train)
    assert data.sample(10_000, seed=1).x_train is data.x_train, "a small table is used whole"
