"""The network: its parts and their switches, seeding, the best epoch, the heads, the ensemble and the loss."""

from dataclasses import replace

import numpy as np
import pytest

from tabflow.model.inputs import Prepared, prepare
from tabflow.model.network import Head, MLPParams, build_network, default_params, fit_network, predict_proba

SMALL = MLPParams(width=16, depth=1)


def _names(model) -> set[str]:
    return {layer.name for layer in model.layers}


def test_network_shape_follows_params():
    net = build_network(MLPParams(depth=3, width=8, dropout=0.0), 5)
    dense = [layer for layer in net.served.layers if layer.name.startswith("dense_")]
    assert len(dense) == 3 and all(layer.units == 8 for layer in dense)
    assert net.served.output_shape == (None, 1)
    assert {"periodic", "front_scale", "skip", "probability"} <= _names(net.served)
    assert not any(name.startswith("dropout") for name in _names(net.served)), "dropout 0 adds no layer"


def test_each_part_switches_off():
    plain = build_network(MLPParams(embedding=False, front_scale=False, skip=False, width=8), 5).served
    assert not {"periodic", "front_scale", "skip"} & _names(plain)
    assert plain.count_params() < build_network(MLPParams(width=8), 5).served.count_params()


def test_same_seed_trains_identical_weights_and_keeps_the_best_epoch(splits):
    data = prepare(splits)
    a, history_a = fit_network(SMALL, data, epochs=6, seed=3)
    b, history_b = fit_network(SMALL, data, epochs=6, seed=3)
    assert all(np.array_equal(x, y) for x, y in zip(a.get_weights(), b.get_weights(), strict=True))
    assert history_a == history_b and set(history_a) == {"train_loss", "val_log_loss"}
    losses = history_a["val_log_loss"]
    assert len(losses) == 6 and min(losses) < losses[0], "it learns"
    out = predict_proba(a, data.x_val)
    val = float(-np.mean(np.where(data.y_val[:, 0] == 1, np.log(out), np.log(1 - out))))
    assert abs(val - min(losses)) < 1e-4, f"the best epoch's weights are restored: {val:.5f} vs {min(losses):.5f}"


def test_on_epoch_can_stop_the_fit(splits):
    seen = []
    _, history = fit_network(
        SMALL, prepare(splits), epochs=10, seed=0, on_epoch=lambda e, logs: seen.append(e) or e == 2
    )
    assert seen == [0, 1, 2] and len(history["val_log_loss"]) == 3


def test_regression_network_answers_in_the_targets_units():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 3)).astype("float32")
    y = (5000 + 300 * x[:, 0]).astype("float32").reshape(-1, 1)
    head = Head("regression", 1, float(y.mean()), float(y.std()))
    data = Prepared(None, x[:200], y[:200], x[200:], y[200:], head)
    net, history = fit_network(replace(default_params("regression"), width=32, depth=2), data, epochs=40, seed=0)
    assert head.objective == "val_rmse" and set(history) == {"train_loss", "val_rmse"}
    pred = predict_proba(net, x[200:])
    assert abs(pred.mean() - 5000) < 150, "the output is rescaled to the target's units"
    assert min(history["val_rmse"]) < 0.3 * 300, f"it fits a linear target: {min(history['val_rmse']):.1f}"


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_an_ensemble_serves_the_mean_of_its_members(task):
    classes = 3 if task == "multiclass" else 2
    head = Head(task, classes)
    net = build_network(MLPParams(width=8, depth=2, ensemble=4), 5, head, seed=1)
    x = np.random.default_rng(0).normal(size=(7, 5)).astype("float32")
    members = np.asarray(net.trained(x))
    assert members.shape == (7, 4, classes if task == "multiclass" else 1)
    assert not np.allclose(members[:, 0], members[:, 1]), "the members differ from the start"
    if task == "binary":
        expected = (1 / (1 + np.exp(-members))).mean(axis=1)
    elif task == "multiclass":
        e = np.exp(members - members.max(axis=-1, keepdims=True))
        expected = (e / e.sum(axis=-1, keepdims=True)).mean(axis=1)
    else:
        expected = members.mean(axis=1)
    np.testing.assert_allclose(np.asarray(net.served(x)), expected, rtol=1e-5, atol=1e-6)


def test_an_ensemble_trains(splits):
    data = prepare(splits)
    _, history = fit_network(replace(SMALL, ensemble=4), data, epochs=6, seed=0)
    assert min(history["val_log_loss"]) < history["val_log_loss"][0], "it learns"


def test_class_weights_and_smoothing_change_the_fit(splits):
    data = prepare(splits)
    weighted = replace(data, class_weight={0: 5.0, 1: 0.5})
    base = fit_network(SMALL, data, epochs=3, seed=0)[1]["train_loss"]
    assert fit_network(SMALL, weighted, epochs=3, seed=0)[1]["train_loss"] != base, "class weights weigh the loss"
    smoothed = fit_network(replace(SMALL, label_smoothing=0.1), data, epochs=3, seed=0)[1]["train_loss"]
    assert smoothed[-1] > base[-1], "smoothed targets cannot be fitted as closely"


def test_weight_decay_and_a_constant_schedule_run(splits):
    params = replace(SMALL, weight_decay=0.02, schedule="constant", learning_rate=0.01)
    _, history = fit_network(params, prepare(splits), epochs=4, seed=0)
    assert np.isfinite(history["val_log_loss"]).all() and min(history["val_log_loss"]) < 0.69


def test_fold_networks_serve_their_mean_and_save_as_one_model(splits, tmp_path):
    import keras

    from tabflow.model.network import fit_final

    data = prepare(splits)
    members = [(SMALL, 0), (replace(SMALL, width=8), 5)]
    model, history, epochs = fit_final(members, data, epochs=3, folds=3, fold_rows=10_000)
    assert len(epochs) == 3 and len(history["val_log_loss"]) == 3, "three members, their mean history"
    folds = [layer for layer in model.layers if layer.name.startswith("fold_")]
    assert len(folds) == 3
    widths = [next(la for la in f.layers if la.name == "dense_0").units for f in folds]
    assert widths == [16, 8, 16], "fold i trains the i-th best trial's parameters, cycling"
    x = data.x_val[:20]
    mean = np.mean([np.asarray(f(x)) for f in folds], axis=0)
    np.testing.assert_allclose(np.asarray(model(x)), mean, rtol=1e-6)
    model.save(tmp_path / "folds.keras")
    again = keras.saving.load_model(tmp_path / "folds.keras", compile=False)
    np.testing.assert_allclose(np.asarray(again(x)), mean, rtol=1e-6)
    single, _, none = fit_final(members, data, epochs=3, folds=3, fold_rows=10)
    assert none == [] and not any(layer.name.startswith("fold_") for layer in single.layers), "a large table: one"


@pytest.mark.parametrize("task", ["binary", "regression"])
def test_the_network_starts_as_the_linear_fit(task):
    from sklearn.linear_model import LogisticRegression, Ridge

    from tabflow.features.preprocessor import Layout
    from tabflow.model import layers as tl
    from tabflow.model.network import start_linear

    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 4)).astype("float32")
    score = x @ np.array([1.5, -2.0, 0.5, 0.0])
    y = (score > 0).astype("float32") if task == "binary" else (3.0 + 2.0 * score).astype("float32")
    head = Head(task) if task == "binary" else Head(task, 1, float(y.mean()), float(y.std()))
    net = build_network(MLPParams(width=16), Layout(4), head, seed=1)
    encoded = np.asarray(net.encoder(x))
    tl.data_init(net.stack, encoded, seed=1)
    start_linear(net, encoded, y.reshape(-1, 1), head, seed=1)
    fixed = encoded[:, net.fixed]  # the scaled numbers themselves, beside their periodic embedding
    assert np.allclose(fixed, x, atol=1e-6)
    if task == "binary":
        expected = LogisticRegression(max_iter=1000, random_state=1).fit(fixed, y).predict_proba(fixed)[:, 1]
    else:
        expected = Ridge(alpha=1.0).fit(fixed, (y - y.mean()) / y.std()).predict(fixed) * y.std() + y.mean()
    np.testing.assert_allclose(predict_proba(net.served, x), expected, rtol=1e-4, atol=1e-4)
    zeros = build_network(MLPParams(width=16, skip_init="zeros"), Layout(4), head, seed=1)
    assert not np.allclose(predict_proba(zeros.served, x), expected, atol=1e-2), "the comparison can fail"
