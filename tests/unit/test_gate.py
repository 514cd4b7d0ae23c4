"""The promotion gate as pure functions: floors, the paired bootstrap, and the verdicts it leads to."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import mean_absolute_error, roc_auc_score

from tabflow.evaluation import scores
from tabflow.gate import Evidence, Floor, Interval, Rules, _weighted_auc, bootstrap, decide, resampled_metric
from tabflow.registry import Decision

AUC = Rules("auc", Floor(0.8), margin=0.01)


def evidence(challenger, champion=None, low=None, high=None, **extra):
    interval = Interval(0.0, low, high, 0.95) if low is not None else None
    return Evidence({"auc": challenger, **extra}, {"auc": champion, **extra} if champion is not None else None,
                    interval, "3" if champion is not None else None)


@pytest.mark.parametrize(("challenger", "champion", "low", "high", "verdict", "reason"), [
    (0.79, None, None, None, "REJECT", "does not reach the floor 0.8000"),
    (0.79, 0.5, 0.2, 0.3, "REJECT", "does not reach the floor"),
    (0.80, None, None, None, "PROMOTE", "no champion yet"),
    (0.95, 0.96, -0.008, 0.002, "PROMOTE", "not worse than the champion by more than the margin 0.0100"),
    (0.94, 0.96, -0.05, -0.011, "REJECT", "worse than the champion by more than the margin 0.0100, with 95%"),
    (0.95, 0.96, -0.03, 0.01, "HOLD", "inconclusive"),
])
def test_verdicts(challenger, champion, low, high, verdict, reason):
    out = decide(evidence(challenger, champion, low, high), AUC)
    assert out.verdict == verdict and reason in out.reason, out.reason


def test_the_dummy_must_be_beaten_not_matched():
    rules = Rules("auc", Floor(0.5, strict=True))
    assert decide(evidence(0.5), rules).verdict == "REJECT"
    assert "does not beat the dummy baseline 0.5000" in decide(evidence(0.5), rules).reason
    assert "beats the dummy baseline" in decide(evidence(0.51), rules).reason


def test_lower_is_better_floors_turn_around():
    rules = Rules("rmse", Floor(12.0, strict=True), margin=0.5)
    assert decide(Evidence({"rmse": 12.5}), rules).verdict == "REJECT"
    assert decide(Evidence({"rmse": 11.0}), rules).verdict == "PROMOTE"


def test_secondary_floors_and_regression_limits():
    rules = Rules("auc", Floor(0.8), floors={"recall": 0.7}, max_regression={"log_loss": 0.05})
    low_recall = decide(Evidence({"auc": 0.9, "recall": 0.6, "log_loss": 0.3}), rules)
    assert low_recall.verdict == "REJECT" and "test_recall 0.6000 does not reach its floor 0.7000" in low_recall.reason
    worse = Evidence({"auc": 0.9, "recall": 0.8, "log_loss": 0.40}, {"auc": 0.9, "recall": 0.8, "log_loss": 0.30},
                     Interval(0, -0.001, 0.001, 0.95), "2")
    out = decide(worse, rules)
    assert out.verdict == "REJECT" and "test_log_loss 0.4000 is 0.1000 worse" in out.reason


def test_a_champion_with_another_schema_needs_the_flag():
    problem = Evidence({"auc": 0.99}, champion_version="2", champion_problem="missing column 'x'")
    held = decide(problem, AUC)
    assert held.verdict == "HOLD" and "missing column 'x'" in held.reason and "--allow-schema-change" in held.reason
    allowed = Rules("auc", Floor(0.8), allow_schema_change=True)
    assert decide(problem, allowed).verdict == "PROMOTE"
    below = Evidence({"auc": 0.7}, champion_version="2", champion_problem="missing column 'x'")
    assert decide(below, allowed).verdict == "REJECT", "the floors still apply"


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
            scores("multiclass", ym, pm)[metric])
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


outputs = st.integers(min_value=20, max_value=300).flatmap(lambda n: st.tuples(
    st.lists(st.integers(0, 1), min_size=n, max_size=n).filter(lambda y: 0 < sum(y) < len(y)),
    st.lists(st.floats(0, 1), min_size=n, max_size=n)))


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


@settings(max_examples=60, deadline=None)
@given(st.floats(0, 1), st.floats(0, 1), st.floats(-1, 1), st.floats(0, 1), st.booleans())
def test_floors_always_apply(value, floor, low, width, has_champion):
    interval = Interval(low + width / 2, low, low + width, 0.95)
    ev = Evidence({"auc": value}, {"auc": 0.5} if has_champion else None, interval if has_champion else None, "1")
    out = decide(ev, Rules("auc", Floor(floor)))
    if value < floor:
        assert out.verdict == "REJECT" and "floor" in out.reason


def test_decision_tags_are_strings():
    tags = Decision("PROMOTE", "why", "test_auc", 0.9).as_tags()
    assert tags["decision_verdict"] == "PROMOTE" and tags["decision_champion"] == ""
    assert all(isinstance(v, str) for v in tags.values())
