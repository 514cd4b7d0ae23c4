"""The gate's rules, as a pure function: floors first, then the baseline, then the bootstrap interval against the
champion.

With `margin` m and confidence c: PROMOTE when the lower end of the c-interval of the challenger's gain is above -m
(not worse beyond the margin, with confidence); REJECT when its upper end is below -m (worse beyond the margin, with
confidence); HOLD otherwise (the evidence does not decide). A floor the challenger misses is a REJECT whatever the
champion does, and so is a baseline (gate.baseline) better than the challenger by the same rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tabflow.metrics import lower_is_better
from tabflow.promotion.bootstrap import Interval, gain
from tabflow.promotion.decision import Verdict


@dataclass(frozen=True)
class Floor:
    """The bar every challenger must clear: a configured value to reach, or the dummy baseline to beat."""

    value: float
    strict: bool = False  # True: must beat it (the dummy), False: must reach it (a configured floor)

    def passes(self, value: float, lower_is_better: bool) -> bool:
        if value == self.value:
            return not self.strict
        return value < self.value if lower_is_better else value > self.value

    def describe(self, passed: bool) -> str:
        verb = ("beats" if passed else "does not beat") if self.strict else ("reaches" if passed else "does not reach")
        return f"{verb} {'the dummy baseline' if self.strict else 'the floor'} {self.value:.4f}"


@dataclass(frozen=True)
class Rules:
    """What the gate asks, from the config: the primary metric's floor and margin, the secondary metrics' floors
    and allowed regressions against the champion, and whether a champion with another schema may be replaced."""

    metric: str
    floor: Floor
    margin: float = 0.005  # against the champion and the baseline
    floors: dict[str, float] = field(default_factory=dict)
    max_regression: dict[str, float] = field(default_factory=dict)
    allow_schema_change: bool = False


@dataclass(frozen=True)
class Baseline:
    """The baseline the gate checks (gate.baseline), scored on the same test rows, and the challenger's gain."""

    name: str  # e.g. logreg
    kind: str  # linear or boosting
    value: float
    interval: Interval

    def describe(self) -> str:
        return f"the {self.kind} baseline {self.name} {self.value:.4f} ({self.interval.describe()})"


@dataclass(frozen=True)
class Evidence:
    """Test metrics of the challenger and (when it could score the rows) the champion, and the bootstrap."""

    challenger: dict[str, float]
    champion: dict[str, float] | None = None
    interval: Interval | None = None
    champion_version: str | None = None
    champion_problem: str | None = None  # why the champion could not score the test rows
    baseline: Baseline | None = None  # None: gate.baseline none, or a decision by hand (no baselines to refit)


@dataclass(frozen=True)
class Ruling:
    verdict: Verdict
    reason: str


def decide(evidence: Evidence, rules: Rules) -> Ruling:
    """PROMOTE, HOLD or REJECT, with the reason and the numbers behind it."""
    name = f"test_{rules.metric}"
    value = evidence.challenger[rules.metric]
    if not rules.floor.passes(value, lower_is_better(rules.metric)):
        return Ruling("REJECT", f"{name} {value:.4f} {rules.floor.describe(passed=False)}")
    for metric, bar in rules.floors.items():
        if not Floor(bar).passes(evidence.challenger[metric], lower_is_better(metric)):
            return Ruling(
                "REJECT", f"test_{metric} {evidence.challenger[metric]:.4f} does not reach its floor {bar:.4f}"
            )
    b = evidence.baseline
    if b is not None and b.interval.high < -rules.margin:
        return Ruling(
            "REJECT",
            f"{name} {value:.4f} against {b.describe()}: worse than the baseline by more than the margin "
            f"{rules.margin:.4f}, with {b.interval.confidence:.0%} confidence",
        )
    beside = f"; against {b.describe()}" if b is not None else ""
    version = evidence.champion_version
    if evidence.champion_problem:
        problem = f"the champion (version {version}) cannot score these test rows ({evidence.champion_problem})"
        if rules.allow_schema_change:
            return Ruling("PROMOTE", f"{problem}; the floors decided, as --allow-schema-change asks{beside}")
        return Ruling("HOLD", f"{problem}; run again with --allow-schema-change to replace it")
    if evidence.champion is None or evidence.interval is None:
        return Ruling("PROMOTE", f"no champion yet and {name} {value:.4f} {rules.floor.describe(passed=True)}{beside}")
    for metric, limit in rules.max_regression.items():
        fall = gain(metric, evidence.champion[metric], evidence.challenger[metric])
        if fall > limit:
            return Ruling(
                "REJECT",
                f"test_{metric} {evidence.challenger[metric]:.4f} is {fall:.4f} worse than the "
                f"champion's {evidence.champion[metric]:.4f}, more than the allowed {limit:.4f}",
            )
    against = (
        f"{name} {value:.4f} against the champion's {evidence.champion[rules.metric]:.4f} "
        f"(version {version}): {evidence.interval.describe()}"
    )
    if evidence.interval.low >= -rules.margin:
        return Ruling(
            "PROMOTE",
            f"{against}; not worse than the champion by more than the margin "
            f"{rules.margin:.4f}, with {evidence.interval.confidence:.0%} confidence{beside}",
        )
    if evidence.interval.high < -rules.margin:
        return Ruling(
            "REJECT",
            f"{against}; worse than the champion by more than the margin {rules.margin:.4f}, "
            f"with {evidence.interval.confidence:.0%} confidence",
        )
    return Ruling("HOLD", f"{against}; inconclusive against the margin {rules.margin:.4f}: the champion stays")
