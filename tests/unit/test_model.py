import numpy as np

from tabflow.model import MLPParams, build_network, fit_network, prepare


def numeric_steps(data):
    imputer, scaler = data.preprocessor.named_steps["columns"].named_transformers_["numeric"]
    return imputer, scaler


def test_preprocessing_is_fitted_on_train_only(splits):
    data = prepare(splits)
    _, scaler = numeric_steps(data)
    assert np.allclose(scaler.center_[: len(splits.features)], splits.x("train").median().to_numpy()), \
        "scaling statistics leaked from val/test"
    assert np.allclose(np.median(data.x_train, axis=0), 0, atol=1e-6)
    assert not np.allclose(np.median(data.x_val, axis=0), 0, atol=1e-6)


def test_imputation_uses_train_medians(splits):
    imputer, _ = numeric_steps(prepare(splits))
    assert np.allclose(imputer.statistics_, splits.x("train").median().to_numpy())


def test_network_shape_follows_params():
    net = build_network(MLPParams(n_layers=3, units=8, dropout=0.0), n_inputs=5)
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


def test_class_weights_balance_only_an_imbalanced_target():
    from tabflow.model import class_weights

    skewed = np.array([0] * 90 + [1] * 10)
    assert class_weights(skewed, 2, "auto") == {0: 100 / 180, 1: 5.0}
    assert class_weights(np.array([0] * 60 + [1] * 40), 2, "auto") is None
    assert class_weights(np.array([0] * 60 + [1] * 40), 2, "balanced") == {0: 100 / 120, 1: 100 / 80}
    assert class_weights(skewed, 2, "none") is None


def test_regression_network_answers_in_the_targets_units():
    from tabflow.model import Head, Prepared, predict_proba

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
