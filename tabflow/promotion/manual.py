"""Promotion by hand: show a version's lineage, list champion moves, promote a chosen version."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from mlflow import MlflowClient

from tabflow.config import GateConfig
from tabflow.errors import TabflowError
from tabflow.metrics import scores
from tabflow.promotion import registry
from tabflow.promotion.decision import Decision
from tabflow.promotion.judge import Challenger, gate_rules, judge
from tabflow.serving.contract import network_output
from tabflow.task_types import task_type
from tabflow.tracking import CARD, CONFIG, TEST_ROWS, champion_version, resolve


def show(client: MlflowClient, ref: str) -> str:
    name, version = resolve(client, ref)
    mv = client.get_model_version(name, version)
    lines = [
        f"{name} version {version}" + (f" ({', '.join(mv.aliases)})" if mv.aliases else ""),
        f"{'run':<24}{mv.run_id}",
        f"{'created':<24}{pd.Timestamp(mv.creation_timestamp, unit='ms')}",
    ]
    lines += [f"{key:<24}{value}" for key, value in sorted(mv.tags.items())]
    return "\n".join(lines)


def card(client: MlflowClient, ref: str) -> str:
    """The model card a version's training run logged beside it."""
    import mlflow

    name, version = resolve(client, ref)
    run_id = client.get_model_version(name, version).tags.get("parent_run_id", "")
    try:
        path = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=CARD, tracking_uri=client.tracking_uri)
    except Exception:  # no such run or file: a version registered before model cards
        raise TabflowError(
            f"version {version} of {name!r} has no model card (it was registered before tabflow wrote them); "
            f"`tabflow show {name}/{version}` lists its lineage"
        ) from None
    return Path(path).read_text()


def history_table(client: MlflowClient, name: str) -> str:
    moves = registry.history(client, name)
    if not moves:
        return f"{name}: no champion moves recorded yet"
    rows = [f"{'when (UTC)':<21}{'from':>6}{'to':>6}  {'verdict':<10}{'by':<24}reason"]
    rows += [
        f"{m['at'][:19]:<21}{m['from'] or '-':>6}{m['to']:>6}  {m['verdict']:<10}{m['by'][:23]:<24}{m['reason']}"
        for m in moves
    ]
    return "\n".join(rows)


def promote_version(client: MlflowClient, name: str, version: str, reason: str, force: bool) -> Decision:
    """Judge a chosen version against the champion on the version's own test rows, with the gate settings and seed
    of the run that trained it; move `champion` on PROMOTE. `force` skips the gate and records that it did."""
    registry.require_version(client, name, version)
    current = champion_version(client, name)
    if current == version:
        raise TabflowError(f"version {version} of {name!r} is already the champion")
    if force:
        with registry.move_lock(name):
            registry.move_champion(client, name, version, "FORCED", f"forced by hand: {reason}")
        return Decision(
            "PROMOTE",
            f"forced by hand, the gate skipped: {reason}",
            "",
            float("nan"),
            champion_version=current,
            version=version,
        )
    tags = client.get_model_version(name, version).tags
    if "parent_run_id" not in tags or "task" not in tags:
        raise TabflowError(
            f"version {version} of {name!r} has no lineage to judge it by; use --force to move "
            "champion without the gate"
        )
    run_id, task, classes = tags["parent_run_id"], tags["task"], tuple(json.loads(tags.get("classes", "[]")))
    cfg, seed = run_gate_settings(client, run_id)
    rows = _test_rows(run_id)
    x = rows.drop(columns=[tags["target"]])
    y = (
        rows[tags["target"]].to_numpy(dtype="float64")
        if not task_type(task).classification
        else pd.Categorical(rows[tags["target"]].astype(str), categories=list(classes)).codes.astype("int64")
    )
    output = network_output(registry.score_version(name, version, x), task, classes)
    challenger = Challenger(x, y, task, classes, output, scores(task, y, output))
    dummy = client.get_run(run_id).data.metrics.get(f"baseline_dummy_test_{cfg.metric_for(task)}", np.nan)
    decision = replace(judge(name, current, gate_rules(cfg, task, dummy), challenger, cfg, seed), version=version)
    if decision.verdict == "PROMOTE":
        with registry.move_lock(name):
            if champion_version(client, name) != current:
                raise TabflowError(f"champion of {name!r} moved while judging; run the command again")
            registry.move_champion(client, name, version, "PROMOTE", f"by hand: {reason}; {decision.reason}")
    return decision


def run_gate_settings(client: MlflowClient, run_id: str) -> tuple[GateConfig, int]:
    """The gate config and seed of a training run: from its logged config, or for runs that logged none (before
    tabflow 0.2) from its flattened `gate.*` params."""
    import mlflow

    try:
        raw = json.loads(Path(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=CONFIG)).read_text())
        return GateConfig.model_validate(raw.get("gate", {})), int(raw.get("seed", 0))
    except Exception:  # an older run: no config artifact
        params = client.get_run(run_id).data.params
    gate: dict = {}
    for key, text in params.items():
        if key.startswith("gate."):
            *parents, leaf = key.split(".")[1:]
            node = gate
            for part in parents:
                node = node.setdefault(part, {})
            node[leaf] = yaml.safe_load(text) if text != "None" else None
    try:
        return GateConfig.model_validate(gate), int(params.get("seed", 0))
    except ValueError:
        return GateConfig(), int(params.get("seed", 0))


def _test_rows(run_id: str) -> pd.DataFrame:
    import mlflow

    try:
        return pd.read_parquet(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=TEST_ROWS))
    except Exception:
        raise TabflowError(f"the run that trained this version ({run_id}) kept no test rows; use --force") from None
