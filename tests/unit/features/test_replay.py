import numpy as np
import pandas as pd
import pytest

from tabflow.features.preprocessor import fit_preprocessor, make_preprocessor
from tabflow.features.replay import replay_for


def mixed(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n) * 100
    x[rng.random(n) < 0.1] = np.nan  # missing in training: an indicator column
    return pd.DataFrame(
        {
            "x": x,
            "count": rng.integers(0, 50, n),
            "flag": rng.random(n) < 0.5,
            "city": rng.choice(["rome", "oslo", "lima", None], n),
            "code": rng.integers(0, 30, n).astype(str),
            "when": pd.to_datetime("2024-01-01") + pd.to_timedelta(rng.integers(0, 900, n), unit="D"),
        }
    )


ROLES = {
    "x": "numeric",
    "count": "numeric",
    "flag": "numeric",
    "city": "categorical",
    "code": "categorical",
    "when": "datetime",
}


@pytest.mark.parametrize("numeric", ["robust", "realmlp"])
def test_numpy_replay_equals_the_fitted_pipeline_on_rows_it_never_saw(numeric):
    train = mixed(800, 0)
    pre = make_preprocessor(ROLES, numeric=numeric).fit(train)
    replay = replay_for(pre, train.head(5))
    assert replay is not None, (
        "the numpy replay declined a preprocessor with every role: a step in tabflow/features/preprocessor.py that "
        "tabflow/features/replay.py does not mirror (serving would silently fall back to the slower pipeline)"
    )
    rows = mixed(40, 1)
    rows.loc[3, "city"] = "paris"  # unseen: code 0
    rows.loc[4, ["x", "count"]] = np.nan  # missing where training had none: the median fill
    rows.loc[5, "when"] = pd.NaT
    as_json = rows.astype(object).assign(when=rows["when"].astype(str))  # what a JSON body becomes
    for frame in (rows, as_json, rows.head(1), rows.iloc[[4]]):
        expected = pre.transform(frame)
        got = replay.transform(frame)
        assert got.dtype == np.float32 and got.shape == expected.shape
        assert np.allclose(got, expected, rtol=1e-6, atol=1e-6, equal_nan=True)


def test_no_replay_for_a_pipeline_it_does_not_know():
    train = mixed(300, 0)
    assert replay_for(fit_preprocessor(train, ROLES, one_hot=True), train.head(5)) is None
