import pytest

from tabflow.registry import Floor, decide

FLOOR = Floor(0.8)


@pytest.mark.parametrize(("challenger", "champion", "verdict", "reason"), [
    (0.79, None, "REJECT", "does not reach the floor 0.8000"),
    (0.79, 0.5, "REJECT", "does not reach the floor"),
    (0.80, None, "PROMOTE", "no champion yet"),
    (0.90, None, "PROMOTE", "no champion yet"),
    (0.95, 0.96, "PROMOTE", "within the margin"),
    (0.97, 0.96, "PROMOTE", "within the margin 0.0100 or better"),
    (0.94, 0.96, "HOLD", "worse than the champion"),
])
def test_decision(challenger, champion, verdict, reason):
    decision = decide(challenger, champion, "auc", FLOOR, 0.01, "3" if champion else None)
    assert decision.verdict == verdict
    assert reason in decision.reason
    assert decision.metric == "test_auc" and decision.challenger == challenger


@pytest.mark.parametrize(("challenger", "champion", "verdict"), [
    (12.0, None, "REJECT"),  # no better than predicting the mean
    (11.0, None, "PROMOTE"),
    (11.0, 10.0, "HOLD"),  # RMSE 1.0 above the champion's, margin 0.5
    (10.4, 10.0, "PROMOTE"),
    (9.0, 10.0, "PROMOTE"),
])
def test_lower_is_better_metrics_turn_every_comparison_around(challenger, champion, verdict):
    decision = decide(challenger, champion, "rmse", Floor(12.0, strict=True), 0.5, "1" if champion else None)
    assert decision.verdict == verdict, decision.reason


def test_the_dummy_must_be_beaten_not_matched():
    assert decide(0.5, None, "auc", Floor(0.5, strict=True), 0.0).verdict == "REJECT"
    assert "beat the dummy baseline 0.5000" in decide(0.5, None, "auc", Floor(0.5, strict=True), 0.0).reason


def test_a_champion_that_cannot_score_holds():
    decision = decide(0.99, None, "auc", FLOOR, 0.01, "2", champion_problem="missing column 'x'")
    assert decision.verdict == "HOLD" and "cannot score" in decision.reason and "missing column" in decision.reason


def test_decision_tags_are_strings():
    tags = decide(0.9, None, "auc", FLOOR, 0.01).as_tags()
    assert tags["decision_verdict"] == "PROMOTE" and tags["decision_champion"] == ""
    assert all(isinstance(v, str) for v in tags.values())
