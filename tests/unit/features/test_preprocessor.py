"""The fitted preprocessor: train-only statistics, unseen values, the network's layout."""

import numpy as np
import pandas as pd

from tabflow.config import SplitConfig
from tabflow.data import clean
from tabflow.features.preprocessor import Layout, fit_preprocessor, layout
from tabflow.model.inputs import prepare
from tabflow.model.network import MLPParams, build_network
from tests.helpers import mixed_frame


def test_preprocessor_handles_unseen_categories_and_missing_values():
    table = clean.clean_table(mixed_frame(), "y", SplitConfig(), "d")
    x = table.frame[list(table.features)]
    pre = fit_preprocessor(x, table.roles)
    fresh = x.head(3).copy()
    fresh.loc[0, "city"] = "Atlantis"  # never seen in training
    fresh.loc[1, ["num", "when", "code"]] = [None, None, None]
    out = pre.transform(fresh)
    assert out.shape == (3, pre.transform(x).shape[1]) and np.isfinite(out).all()


def numeric_steps(data):
    _, imputer, scaler = data.preprocessor.named_steps["columns"].named_transformers_["numeric"]
    return imputer, scaler


def test_preprocessing_is_fitted_on_train_only(splits):
    data = prepare(splits)
    _, scaler = numeric_steps(data)
    assert np.allclose(scaler.center_[: len(splits.features)], splits.x("train").median().to_numpy()), (
        "scaling statistics leaked from val/test"
    )
    assert np.allclose(np.median(data.x_train, axis=0), 0, atol=1e-6)
    assert not np.allclose(np.median(data.x_val, axis=0), 0, atol=1e-6)


def test_imputation_uses_train_medians(splits):
    imputer, _ = numeric_steps(prepare(splits))
    assert np.allclose(imputer.statistics_, splits.x("train").median().to_numpy())


def test_categoricals_enter_the_network_one_hot_or_embedded_by_cardinality():

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=600),
            "many": [f"v{i}" for i in rng.integers(0, 40, 600)],
            "few": rng.choice(["a", "b", "c"], 600),
            "two": rng.choice(["y", "n"], 600),
        }
    )
    roles = {"x": "numeric", "many": "categorical", "few": "categorical", "two": "categorical"}
    pre = fit_preprocessor(frame, roles)
    shape = layout(pre)
    assert shape == Layout(dense=1, one_hot=(4, 3), embedded=(41,))
    codes = pre.transform(frame)[:, 1:]
    assert codes.shape == (600, 3) and codes[:, 0].max() == 3, "one-hot columns first"
    assert codes[:, 1].min() >= 4 and codes[:, 1].max() == 6, "the second one-hot column's codes follow the first's"
    assert codes[:, 2].max() == 40, "the embedded group has its own code space"
    net = build_network(MLPParams(depth=1, width=4), shape).served
    names = {layer.name: layer for layer in net.layers}
    assert names["one_hot"].num_tokens == 7
    assert names["embedding"].output_dim == 8, "RealMLP's 8 numbers per embedded column"
    assert net(pre.transform(frame).astype("float32")).shape == (600, 1)
    assert fit_preprocessor(frame, roles, one_hot=True).transform(frame).shape == (600, 1 + 40 + 3 + 2)


def test_the_fingerprint_follows_what_the_preprocessing_does(monkeypatch):
    from tabflow import settings
    from tabflow.features import preprocessor

    first = preprocessor.fingerprint()
    preprocessor.fingerprint.cache_clear()
    assert preprocessor.fingerprint() == first, "the same preprocessing has the same fingerprint (it names studies)"
    monkeypatch.setattr(settings, "ONE_HOT_MAX", 2)
    preprocessor.fingerprint.cache_clear()
    try:
        assert preprocessor.fingerprint() != first, (
            "a change to the preprocessing must change the fingerprint, so a study never mixes two encodings"
        )
    finally:
        preprocessor.fingerprint.cache_clear()


def test_the_fingerprint_is_the_same_in_another_process():
    import subprocess
    import sys

    from tabflow.features import preprocessor

    code = "from tabflow.features.preprocessor import fingerprint; print(fingerprint())"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert other == preprocessor.fingerprint(), (
        "the study name carries the fingerprint: another process (a resumed run, a Dask worker) must compute the "
        "same one, or it would open a new study instead of resuming"
    )
