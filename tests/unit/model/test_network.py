"""The network: shape, seeding, the regression head, large-table batches."""

import numpy as np

from tabflow.model.inputs import prepare
from tabflow.model.network import MLPParams, build_network, fit_network


def test_network_shape_follows_params():
    net = build_network(MLPParams(n_layers=3, units=8, dropout=0.0), 5)
    dense = [layer for layer in net.layers if layer.name.startswith("dense_")]
    assert len(dense) == 3 and all(layer.units == 8 for layer in dense)
    assert net.output_shape == (None, 1)


def test_same_seed_trains_identical_weights(splits):
    data = prepare(splits)
    params = MLPParams(units=8, n_layers=1)
    a, history_a = fit_network(params, data, max_epochs=2, seed=3)
    b, history_b = fit_network(params, data, max_epochs=2, seed=3)
    assert all(np.array_equal(x, y) for x, y in zip(a.get_weights(), b.get_weights(), strict=True))
    assert history_a == history_b
    assert set(history_a) == {"train_loss", "train_auc", "train_log_loss", "val_loss", "val_auc", "val_log_loss"}


def test_regression_network_answers_in_the_targets_units():
    from tabflow.model.inputs import Prepared
    from tabflow.model.network import Head, predict_proba

    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3)).astype("float32")
    y = (5000 + 300 * x[:, 0]).astype("float32").reshape(-1, 1)
    head = Head("regression", 1, float(y.mean()), float(y.std()))
    data = Prepared(None, x[:150], y[:150], x[150:], y[150:], head)
    net, history = fit_network(MLPParams(units=16, n_layers=1, learning_rate=1e-2), data, max_epochs=40, seed=0)
    assert "val_rmse" in history and head.objective == "val_rmse"
    pred = predict_proba(net, x[150:])
    assert abs(pred.mean() - 5000) < 150, "the output is rescaled to the target's units"
    assert history["val_rmse"][-1] < 0.5 * history["val_rmse"][0] < 300


def test_large_tables_stream_batches_gathered_from_one_copy(splits, monkeypatch):
    from tabflow import settings

    data, params = prepare(splits), MLPParams(units=8, n_layers=1)
    cached, _ = fit_network(params, data, max_epochs=2, seed=3)
    monkeypatch.setattr(settings, "GATHER_ROWS", 10)  # the path a table of 100k+ training rows takes
    a, history_a = fit_network(params, data, max_epochs=2, seed=3)
    _, history_b = fit_network(params, data, max_epochs=2, seed=3)
    assert history_a == history_b, "seeded shuffling: the same run twice"
    assert history_a["val_log_loss"][-1] < history_a["val_log_loss"][0], "it learns"
    assert len(history_a["val_log_loss"]) == 2 and np.isfinite(a.get_weights()[0]).all()
    assert all(np.array_equal(x, y) for x, y in zip(a.get_weights(), cached.get_weights(), strict=True)), (
        "the same seeded order of rows as the cached path: the threshold changes memory, not the model"
    )
