"""The paired bootstrap."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import mean_absolute_error, roc_auc_score

from tabflow.metrics import scores
from tabflow.promotion.bootstrap import _weighted_auc, bootstrap, resampled_metric
from tabflow.promotion.gate import Evidence, Floor, Rules, decide


def test_weighted_auc_and_means_match_the_reported_metrics():
    rng = np.random.default_rng(0)
    y = (rng.random(500) < 0.3).astype(int)
    p = np.round(np.clip(0.3 * y + 0.7 * rng.random(500), 0, 1), 2)  # rounded: ties
    ones = np.ones((1, 500), dtype="int32")
    assert _weighted_auc(y == 1, p, ones)[0] == pytest.approx(roc_auc_score(y, p))
    for metric in ("accuracy", "brier", "log_loss"):
        assert resampled_metric("binary", metric, y)(p, ones)[0] == pytest.approx(scores("binary", y, p)[metric])
    ym = rng.integers(0, 3, 500)
    pm = rng.dirichlet([1, 1, 1], 500)
    for metric in ("auc", "accuracy", "log_loss"):
        assert resampled_metric("multiclass", metric, ym)(pm, ones)[0] == pytest.approx(
            scores("multiclass", ym, pm)[metric]
        )
    yr, pr = rng.normal(size=500), rng.normal(size=500)
    assert resampled_metric("regression", "mae", yr)(pr, ones)[0] == pytest.approx(mean_absolute_error(yr, pr))
    counts = np.bincount(rng.integers(0, 500, 500), minlength=500)[None, :]
    rows = np.repeat(np.arange(500), counts[0])
    assert _weighted_auc(y == 1, p, counts)[0] == pytest.approx(roc_auc_score(y[rows], p[rows]))


def test_bootstrap_is_seeded_and_its_interval_holds_the_gain():
    rng = np.random.default_rng(1)
    y = (rng.random(2000) < 0.4).astype(int)
    good, worse = 0.5 * y + 0.5 * rng.random(2000), 0.2 * y + 0.8 * rng.random(2000)
    a = bootstrap("binary", "auc", y, good, worse, resamples=300, seed=4)
    assert a == bootstrap("binary", "auc", y, good, worse, resamples=300, seed=4)
    assert a.low <= a.gain <= a.high and a.low > 0
    assert a.gain == pytest.approx(roc_auc_score(y, good) - roc_auc_score(y, worse))
    rmse = bootstrap("regression", "rmse", y.astype(float), y + 0.1, y + 0.3, resamples=200)
    assert rmse.gain == pytest.approx(0.2) and rmse.low > 0, "lower RMSE is a positive gain"


outputs = st.integers(min_value=20, max_value=300).flatmap(
    lambda n: st.tuples(
        st.lists(st.integers(0, 1), min_size=n, max_size=n).filter(lambda y: 0 < sum(y) < len(y)),
        st.lists(st.floats(0, 1), min_size=n, max_size=n),
    )
)


@settings(max_examples=40, deadline=None)
@given(outputs, st.floats(0.0, 0.05))
def test_an_identical_model_is_never_rejected_against_itself(data, margin):
    y, p = np.array(data[0]), np.array(data[1])
    interval = bootstrap("binary", "auc", y, p, p, resamples=100)
    challenger = scores("binary", y, p)
    out = decide(Evidence(challenger, challenger, interval, "1"), Rules("auc", Floor(0.0), margin=margin))
    assert out.verdict == "PROMOTE", out.reason


@settings(max_examples=40, deadline=None)
@given(outputs)
def test_a_model_better_on_every_resample_is_promoted(data):
    y, noise = np.array(data[0]), np.array(data[1])
    perfect, noisy = y.astype(float), 0.5 + 0.5 * (noise - 0.5)  # the champion ranks at random
    interval = bootstrap("binary", "brier", y, perfect, noisy, resamples=100)
    assert interval.low > 0
    out = decide(Evidence({"brier": 0.0}, {"brier": 0.25}, interval, "1"), Rules("brier", Floor(1.0)))
    assert out.verdict == "PROMOTE", out.reason
