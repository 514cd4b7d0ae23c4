"""Promotion: a pure decision, then registry side effects that leave nothing half-written."""

from __future__ import annotations

import contextlib
import io
import logging
from dataclasses import asdict, dataclass
from typing import Literal

import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from tabflow.config import LOWER_IS_BETTER

log = logging.getLogger("tabflow")
CHAMPION, CHALLENGER = "champion", "challenger"
Verdict = Literal["PROMOTE", "HOLD", "REJECT"]


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    reason: str
    metric: str
    challenger: float
    champion: float | None = None
    champion_version: str | None = None
    version: str | None = None  # the challenger's registered version, once it exists

    def as_tags(self) -> dict[str, str]:
        return {f"decision_{k}": "" if v is None else str(v) for k, v in asdict(self).items()}


def decide(challenger: float, champion: float | None, metric: str, floor: Floor, margin: float,
           champion_version: str | None = None, champion_problem: str | None = None) -> Decision:
    """PROMOTE, HOLD or REJECT, with the reason and the numbers behind it. `metric` is a test metric name; for
    rmse, mae, log_loss and brier lower is better."""
    name, lower = f"test_{metric}", metric in LOWER_IS_BETTER

    def better(a: float, b: float) -> bool:
        return a < b if lower else a > b

    if not (better(challenger, floor.value) or (challenger == floor.value and not floor.strict)):
        return Decision("REJECT", f"{name} {challenger:.4f} {floor.describe(passed=False)}",
                        name, challenger, champion, champion_version)
    if champion_problem:
        return Decision("HOLD", f"the champion (version {champion_version}) cannot score this test set "
                        f"({champion_problem}); promote by hand if that is intended", name, challenger,
                        None, champion_version)
    if champion is None:
        return Decision("PROMOTE", f"no champion yet and {name} {challenger:.4f} {floor.describe(passed=True)}",
                        name, challenger)
    allowed = champion + margin if lower else champion - margin
    if better(allowed, challenger):
        return Decision("HOLD", f"{name} {challenger:.4f} is worse than the champion's {champion:.4f} "
                        f"(version {champion_version}) by more than the margin {margin:.4f}",
                        name, challenger, champion, champion_version)
    return Decision("PROMOTE", f"{name} {challenger:.4f} against the champion's {champion:.4f} (version "
                    f"{champion_version}) is within the margin {margin:.4f} or better",
                    name, challenger, champion, champion_version)


@dataclass(frozen=True)
class Floor:
    """The bar every challenger must clear: a configured value to reach, or the dummy baseline to beat."""

    value: float
    strict: bool = False  # True: must beat it (the dummy), False: must reach it (a configured floor)

    def describe(self, passed: bool) -> str:
        verb = ("beats" if passed else "does not beat") if self.strict else ("reaches" if passed else "does not reach")
        return f"{verb} {'the dummy baseline' if self.strict else 'the floor'} {self.value:.4f}"


def champion_version(client: MlflowClient, name: str) -> str | None:
    try:
        return str(client.get_model_version_by_alias(name, CHAMPION).version)
    except MlflowException:
        return None  # no registered model, or no champion alias yet


def score_version(name: str, version: str, x: pd.DataFrame) -> pd.DataFrame:
    """Load a registered version the way a deployment does and return what it serves."""
    import mlflow

    return mlflow.pyfunc.load_model(f"models:/{name}/{version}").predict(x)


def register(client: MlflowClient, name: str, model_uri: str, decision: Decision,
             tags: dict[str, str]) -> Decision:
    """Register the challenger, record the decision on it, and move `champion` when the verdict says so.

    Any failure after the version exists deletes it again: a failed run leaves no version and no alias.
    """
    import mlflow

    with contextlib.redirect_stderr(io.StringIO()):  # MLflow prints "Created version ..."; the summary says it
        version = str(mlflow.register_model(model_uri, name, tags=tags).version)
    decision = Decision(**{**asdict(decision), "version": version})
    try:
        for key, value in decision.as_tags().items():
            client.set_model_version_tag(name, version, key, value)
        client.set_registered_model_alias(name, CHALLENGER, version)
        if decision.verdict == "PROMOTE":
            current = champion_version(client, name)
            if current != decision.champion_version:  # someone moved it since we scored it: do not overrule
                return _held_for_race(client, name, version, decision, current)
            client.set_registered_model_alias(name, CHAMPION, version)
    except BaseException:
        log.error("promotion failed; deleting version %s of %s so nothing is left half-written", version, name)
        client.delete_model_version(name, version)
        raise
    return decision


def _held_for_race(client: MlflowClient, name: str, version: str, decision: Decision, current: str | None):
    held = Decision(**{**asdict(decision), "verdict": "HOLD",
                       "reason": f"champion moved to version {current} while this run decided against "
                                 f"version {decision.champion_version}; run again to compare with it"})
    for key, value in held.as_tags().items():
        client.set_model_version_tag(name, version, key, value)
    return held
