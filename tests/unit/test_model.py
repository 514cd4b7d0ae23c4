import numpy as np

from tabflow.model import MLPParams, build_network, fit_network, prepare


def test_preprocessing_is_fitted_on_train_only(splits):
    data = prepare(splits)
    scaler = data.preprocessor[-1]
    assert np.allclose(scaler.mean_[: len(splits.features)], splits.x("train").mean().to_numpy()), \
        "scaling statistics leaked from val/test"
    assert abs(data.x_train.mean()) < 1e-6 and abs(data.x_val.mean()) > 1e-6


def test_imputation_uses_train_medians(splits):
    data = prepare(splits)
    imputer = data.preprocessor[0]
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
