"""The gate's rules."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tabflow.promotion.bootstrap import Interval
from tabflow.promotion.decision import Decision
from tabflow.promotion.gate import Evidence, Floor, Rules, decide
from tests.helpers import AUC


def evidence(challenger, champion=None, low=None, high=None, **extra):
    interval = Interval(0.0, low, high, 0.95) if low is not None else None
    return Evidence(
        {"auc": challenger, **extra},
        {"auc": champion, **extra} if champion is not None else None,
        interval,
        "3" if champion is not None else None,
    )


@pytest.mark.parametrize(
    ("challenger", "champion", "low", "high", "verdict", "reason"),
    [
        (0.79, None, None, None, "REJECT", "does not reach the floor 0.8000"),
        (0.79, 0.5, 0.2, 0.3, "REJECT", "does not reach the floor"),
        (0.80, None, None, None, "PROMOTE", "no champion yet"),
        (0.95, 0.96, -0.008, 0.002, "PROMOTE", "not worse than the champion by more than the margin 0.0100"),
        (0.94, 0.96, -0.05, -0.011, "REJECT", "worse than the champion by more than the margin 0.0100, with 95%"),
        (0.95, 0.96, -0.03, 0.01, "HOLD", "inconclusive"),
    ],
)
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
    worse = Evidence(
        {"auc": 0.9, "recall": 0.8, "log_loss": 0.40},
        {"auc": 0.9, "recall": 0.8, "log_loss": 0.30},
        Interval(0, -0.001, 0.001, 0.95),
        "2",
    )
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


@settings(max_examples=60, deadline=None)
@given(st.floats(0, 1), st.floats(0, 1), st.floats(-1, 1), st.floats(0, 1), st.booleans())
def test_floors_always_apply(value, floor, low, width, has_champion):
    interval = Interval(low + width / 2, low, low + width, 0.95)
    ev = Evidence({"auc": value}, {"auc": 0.5} if has_champion else None, interval if has_champion else None, "1")
    out = decide(ev, Rules("auc", Floor(floor)))
    if value < floor:
        assert out.verdict == "REJECT" and "floor" in out.reason, "a value under the floor is always a REJECT"
    else:
        assert "does not reach" not in out.reason, f"a value at or above the floor passes it: {out.reason}"
        if not has_champion:
            assert out.verdict == "PROMOTE", "with no champion, a challenger that reaches the floor is promoted"


def test_decision_tags_are_strings():
    tags = Decision("PROMOTE", "why", "test_auc", 0.9).as_tags()
    assert tags["decision_verdict"] == "PROMOTE" and tags["decision_champion"] == ""
    assert all(isinstance(v, str) for v in tags.values())


def with_baseline(low: float, high: float, champion: float | None = None) -> Evidence:
    from dataclasses import replace

    from tabflow.promotion.gate import Baseline

    base = Baseline("logreg", "linear", 0.99, Interval((low + high) / 2, low, high, 0.95))
    return replace(evidence(0.95, champion, -0.005, 0.01) if champion else evidence(0.95), baseline=base)


@pytest.mark.parametrize(
    ("low", "high", "verdict"),
    [(-0.05, -0.02, "REJECT"), (-0.05, -0.009, "PROMOTE"), (-0.01, 0.02, "PROMOTE"), (0.01, 0.03, "PROMOTE")],
)
def test_a_baseline_better_with_confidence_rejects(low, high, verdict):
    """The champion's rule, against the baseline: REJECT when the whole interval of the gain lies below -margin."""
    out = decide(with_baseline(low, high), AUC)
    assert out.verdict == verdict, out.reason
    assert "the linear baseline logreg 0.9900" in out.reason, f"the reason names the baseline: {out.reason}"
    if verdict == "REJECT":
        assert "worse than the baseline by more than the margin 0.0100, with 95% confidence" in out.reason


def test_the_baseline_is_checked_before_the_champion_and_named_after_it():
    assert decide(with_baseline(-0.05, -0.02, champion=0.9), AUC).verdict == "REJECT", "a baseline beats any champion"
    promoted = decide(with_baseline(-0.01, 0.02, champion=0.9), AUC)
    assert promoted.verdict == "PROMOTE" and promoted.reason.index("champion") < promoted.reason.index("baseline")
