import numpy as np

from tabflow.model import MLPParams, build_network, fit_network, prepare


def numeric_steps(data):
    _, imputer, scaler = data.preprocessor.named_steps["columns"].named_transformers_["numeric"]
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


def test_vocabulary_codes_frequent_values_and_sends_the_rest_to_other():
    import pandas as pd

    from tabflow.columns import Vocabulary

    train = pd.DataFrame({"c": ["a"] * 9 + ["b"] * 6 + ["rare"] * 2 + [None] * 5})
    vocab = Vocabulary(max_categories=10, min_count=5).fit(train)
    assert vocab.vocabularies_ == {"c": ["a", "b", "(missing)"]} and vocab.tokens(0) == (4,)
    codes = vocab.transform(pd.DataFrame({"c": ["a", "b", None, "rare", "never seen"]}))
    assert codes.ravel().tolist() == [1, 2, 3, 0, 0]
    capped = Vocabulary(max_categories=2, min_count=1).fit(train)
    assert capped.vocabularies_ == {"c": ["a"]}, "the cap keeps the most frequent values"
    assert vocab.folded_ == {"c": {"values": 1, "rows": 2}} and capped.folded_ == {"c": {"values": 3, "rows": 13}}


def test_categoricals_enter_the_network_one_hot_or_embedded_by_cardinality():
    import pandas as pd

    from tabflow.model import Layout, embedding_dim, fit_preprocessor, layout

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=600), "many": [f"v{i}" for i in rng.integers(0, 40, 600)],
                          "few": rng.choice(["a", "b", "c"], 600), "two": rng.choice(["y", "n"], 600)})
    roles = {"x": "numeric", "many": "categorical", "few": "categorical", "two": "categorical"}
    pre = fit_preprocessor(frame, roles)
    shape = layout(pre)
    assert shape == Layout(dense=1, one_hot=(4, 3), embedded=(41,))
    codes = pre.transform(frame)[:, 1:]
    assert codes.shape == (600, 3) and codes[:, 0].max() == 3, "one-hot columns first"
    assert codes[:, 1].min() >= 4 and codes[:, 1].max() == 6, "the second one-hot column's codes follow the first's"
    assert codes[:, 2].max() == 40, "the embedded group has its own code space"
    net = build_network(MLPParams(n_layers=1, units=4), shape)
    names = {layer.name: layer for layer in net.layers}
    assert names["one_hot"].num_tokens == 7
    assert names["embedding"].output_dim == embedding_dim(41) < 41
    assert net(pre.transform(frame).astype("float32")).shape == (600, 1)
    assert fit_preprocessor(frame, roles, one_hot=True).transform(frame).shape == (600, 1 + 40 + 3 + 2)


def test_trials_sample_rows_of_a_large_table_with_a_seed(splits):
    data = prepare(splits)
    small = data.sample(100, seed=1)
    assert len(small.x_train) == len(small.y_train) == 100 and len(small.x_val) == len(data.x_val) < 100
    rows = {tuple(r) for r in data.x_train.tolist()}
    assert all(tuple(r) in rows for r in small.x_train.tolist()), "a sample of train rows, not new rows"
    assert np.array_equal(small.x_train, data.sample(100, seed=1).x_train)
    assert data.sample(10_000, seed=1).x_train is data.x_train, "a small table is used whole"


def test_large_tables_stream_batches_gathered_from_one_copy(splits, monkeypatch):
    import tabflow.model

    data, params = prepare(splits), MLPParams(units=8, n_layers=1)
    cached, _ = fit_network(params, data, max_epochs=2, seed=3)
    monkeypatch.setattr(tabflow.model, "GATHER_ROWS", 10)  # the path a table of 100k+ training rows takes
    a, history_a = fit_network(params, data, max_epochs=2, seed=3)
    b, history_b = fit_network(params, data, max_epochs=2, seed=3)
    assert history_a == history_b, "seeded shuffling: the same run twice"
    assert history_a["val_log_loss"][-1] < history_a["val_log_loss"][0], "it learns"
    assert len(history_a["val_log_loss"]) == 2 and np.isfinite(a.get_weights()[0]).all()
    assert all(np.array_equal(x, y) for x, y in zip(a.get_weights(), cached.get_weights(), strict=True)), \
        "the same seeded order of rows as the cached path: the threshold changes memory, not the model"
