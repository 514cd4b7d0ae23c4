"""The decision: the gate's rules from the config, the evidence (the champion scored on the challenger's test rows,
the bootstrap), and the verdict as a Decision. The flow and `tabflow promote` both decide through `judge`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from tabflow.config import GateConfig
from tabflow.errors import first_line
from tabflow.metrics import scores
from tabflow.promotion import bootstrap, gate, registry
from tabflow.promotion.decision import Decision
from tabflow.serving.contract import network_output


@dataclass(frozen=True)
class Challenger:
    """The challenger's test rows, its output on them (tabflow.serving.contract.network_output) and its scores."""

    x: pd.DataFrame
    y: np.ndarray
    task: str
    classes: tuple
    output: np.ndarray
    scores: dict[str, float]
    baseline: BaselineOutput | None = None  # gate.baseline's model on the same rows; None: not checked


@dataclass(frozen=True)
class BaselineOutput:
    name: str  # e.g. logreg
    kind: str  # linear or boosting
    output: np.ndarray
    value: float  # its score on the gate's metric


def gate_rules(cfg: GateConfig, task: str, dummy: float) -> gate.Rules:
    """The config's gate for this task; the floor defaults to beating the dummy baseline."""
    cfg.check_task(task)
    floor = gate.Floor(cfg.floor) if cfg.floor is not None else gate.Floor(dummy, strict=True)
    return gate.Rules(
        cfg.metric_for(task), floor, cfg.margin, dict(cfg.floors), dict(cfg.max_regression), cfg.allow_schema_change
    )


def judge(
    name: str, current: str | None, rules: gate.Rules, challenger: Challenger, cfg: GateConfig, seed: int
) -> Decision:
    """Score the current champion on the challenger's test rows, bootstrap the gain and apply the gate."""
    champion, interval, problem = None, None, None
    c = challenger
    if current:
        try:
            missing = registry.missing_columns(name, current, list(c.x.columns))
            if missing:
                raise ValueError(f"it needs column(s) these rows lack: {', '.join(missing[:5])}")
            champion_output = network_output(registry.score_version(name, current, c.x), c.task, c.classes)
            champion = scores(c.task, c.y, champion_output)
        except Exception as exc:  # a champion that cannot read these columns is the schema guard's case
            problem = first_line(exc, 200)
        else:
            interval = bootstrap.bootstrap(
                c.task, rules.metric, c.y, c.output, champion_output, cfg.resamples, cfg.confidence, seed
            )
    baseline = None
    if c.baseline is not None:
        b = c.baseline
        spread = bootstrap.bootstrap(c.task, rules.metric, c.y, c.output, b.output, cfg.resamples, cfg.confidence, seed)
        baseline = gate.Baseline(b.name, b.kind, b.value, spread)
    ruling = gate.decide(gate.Evidence(c.scores, champion, interval, current, problem, baseline), rules)
    return Decision(
        ruling.verdict,
        ruling.reason,
        f"test_{rules.metric}",
        c.scores[rules.metric],
        champion[rules.metric] if champion else None,
        current,
        gain_low=interval.low if interval else None,
        gain_high=interval.high if interval else None,
    )
