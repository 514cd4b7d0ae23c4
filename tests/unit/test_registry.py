import pytest

from tabflow.config import GateConfig
from tabflow.registry import decide

GATE = GateConfig(metric="auc", floor=0.8, margin=0.01)


@pytest.mark.parametrize(("challenger", "champion", "verdict", "reason"), [
    (0.79, None, "REJECT", "below the floor"),
    (0.79, 0.5, "REJECT", "below the floor"),
    (0.90, None, "PROMOTE", "no champion yet"),
    (0.95, 0.96, "PROMOTE", "within the margin"),
    (0.97, 0.96, "PROMOTE", "within the margin 0.0100 or better"),
    (0.94, 0.96, "HOLD", "worse than the champion"),
])
def test_decision(challenger, champion, verdict, reason):
    decision = decide(challenger, champion, GATE, "3" if champion else None)
    assert decision.verdict == verdict
    assert reason in decision.reason
    assert decision.metric == "test_auc" and decision.challenger == challenger


def test_a_champion_that_cannot_score_holds():
    decision = decide(0.99, None, GATE, "2", champion_problem="missing column 'x'")
    assert decision.verdict == "HOLD" and "cannot score" in decision.reason and "missing column" in decision.reason


def test_decision_tags_are_strings():
    tags = decide(0.9, None, GATE).as_tags()
    assert tags["decision_verdict"] == "PROMOTE" and tags["decision_champion"] == ""
    assert all(isinstance(v, str) for v in tags.values())
