"""The numpy forward pass of the served network: equal to Keras for every head and input group, and absent where
it has no twin."""

import keras
import numpy as np
import pytest

from tabflow.features.preprocessor import Layout
from tabflow.model import layers as tl
from tabflow.model.forward import checked, numpy_forward
from tabflow.model.network import Head, MLPParams, build_network

LAYOUT = Layout(6, (3, 4), (10, 30))  # numbers, two one-hot columns, two embedded ones (codes share one space)


def _rows(n: int, rng: np.random.Generator) -> np.ndarray:
    codes = [rng.integers(0, 3, n), 3 + rng.integers(0, 4, n), rng.integers(0, 10, n), 10 + rng.integers(0, 30, n)]
    return np.column_stack([rng.normal(size=(n, 6)) * 3, *codes]).astype("float32")


def _initialised(params: MLPParams, head: Head, seed: int, rng: np.random.Generator):
    net = build_network(params, LAYOUT, head, seed=seed, name=f"fold_{seed}")
    tl.data_init(net.stack, np.asarray(net.encoder(_rows(300, rng))), seed=seed)
    for layer in (net.skip,) if net.skip is not None else ():  # open the skip path, which starts shut
        layer.set_weights([rng.normal(size=w.shape).astype("float32") for w in layer.get_weights()])
    return net.served


@pytest.mark.parametrize(
    "head", [Head("binary"), Head("multiclass", 4), Head("regression", 1, 5.0, 2.0)], ids=lambda h: h.task
)
def test_numpy_pass_equals_keras_for_fold_networks(head):
    rng = np.random.default_rng(0)
    folds = [_initialised(MLPParams(width=32, depth=2), head, seed, rng) for seed in range(3)]
    inputs = keras.Input(shape=(LAYOUT.width,))
    model = keras.Model(inputs, keras.layers.Average()([m(inputs) for m in folds]))
    fast, x = numpy_forward(model, LAYOUT), _rows(64, rng)
    assert fast is not None and checked(fast, lambda rows: model(rows, training=False), x)
    np.testing.assert_allclose(fast(x), np.asarray(model(x, training=False)), rtol=1e-5, atol=1e-5)


def test_every_switched_off_part_still_matches():
    rng = np.random.default_rng(1)
    plain = _initialised(MLPParams(width=16, embedding=False, front_scale=False, skip=False), Head(), 0, rng)
    fast, x = numpy_forward(plain, LAYOUT), _rows(16, rng)
    np.testing.assert_allclose(fast(x), np.asarray(plain(x, training=False)), rtol=1e-5, atol=1e-5)


def test_a_batch_ensemble_has_no_numpy_pass_and_a_wrong_pass_fails_the_check():
    rng = np.random.default_rng(2)
    assert numpy_forward(_initialised(MLPParams(width=16, ensemble=2), Head(), 0, rng), LAYOUT) is None
    model = _initialised(MLPParams(width=16), Head(), 0, rng)
    fast, x = numpy_forward(model, LAYOUT), _rows(8, rng)
    assert not checked(lambda rows: fast(rows) + 0.01, lambda rows: model(rows, training=False), x)


def test_fold_networks_of_other_shapes_are_computed_apart_and_averaged():
    rng = np.random.default_rng(3)
    head = Head("regression", 1, 5.0, 2.0)
    folds = [
        _initialised(MLPParams(width=w, depth=d), head, i, rng) for i, (w, d) in enumerate([(16, 2), (32, 1), (16, 2)])
    ]
    inputs = keras.Input(shape=(LAYOUT.width,))
    model = keras.Model(inputs, keras.layers.Average()([m(inputs) for m in folds]))
    fast, x = numpy_forward(model, LAYOUT), _rows(32, rng)
    assert fast is not None and len(fast.groups) == 2
    np.testing.assert_allclose(fast(x), np.asarray(model(x, training=False)), rtol=1e-5, atol=1e-5)
