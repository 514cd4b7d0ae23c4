"""The registry by hand: show a version's lineage, list and roll back champion moves, promote a chosen version."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from tabflow import evaluation, registry
from tabflow.config import GateConfig
from tabflow.errors import TabflowError
from tabflow.registry import Decision


def resolve(client: MlflowClient, ref: str) -> tuple[str, str]:
    """NAME, NAME@alias or NAME/version -> (name, version); NAME alone means its champion (or newest version)."""
    try:
        if "@" in ref:
            name, alias = ref.split("@", 1)
            return name, str(client.get_model_version_by_alias(name, alias).version)
        if "/" in ref:
            name, version = ref.rsplit("/", 1)
            return name, str(client.get_model_version(name, version).version)
        versions = client.search_model_versions(f"name = '{ref}'")
    except MlflowException:
        raise TabflowError(f"no model version {ref!r}; give NAME, NAME@alias or NAME/VERSION of a registered "
                           "model") from None
    if not versions:
        raise TabflowError(f"no registered model {ref!r}; run `tabflow run` first or check the name")
    return ref, registry.champion_version(client, ref) or str(max(int(v.version) for v in versions))


def show(client: MlflowClient, ref: str) -> str:
    name, version = resolve(client, ref)
    mv = client.get_model_version(name, version)
    lines = [f"{name} version {version}" + (f" ({', '.join(mv.aliases)})" if mv.aliases else ""),
             f"{'run':<24}{mv.run_id}", f"{'created':<24}{pd.Timestamp(mv.creation_timestamp, unit='ms')}"]
    lines += [f"{key:<24}{value}" for key, value in sorted(mv.tags.items())]
    return "\n".join(lines)


def history_table(client: MlflowClient, name: str) -> str:
    moves = registry.history(client, name)
    if not moves:
        return f"{name}: no champion moves recorded yet"
    rows = [f"{'when (UTC)':<21}{'from':>6}{'to':>6}  {'verdict':<10}{'by':<24}reason"]
    rows += [f"{m['at'][:19]:<21}{m['from'] or '-':>6}{m['to']:>6}  {m['verdict']:<10}{m['by'][:23]:<24}{m['reason']}"
             for m in moves]
    return "\n".join(rows)


def promote_version(client: MlflowClient, name: str, version: str, reason: str, force: bool,
                    cfg: GateConfig | None = None) -> Decision:
    """Judge a chosen version against the champion on the version's own test rows; move `champion` on PROMOTE.
    `force` skips the gate and records that it did."""
    from tabflow import pipeline
    from tabflow.serving import network_output

    registry.require_version(client, name, version)
    current = registry.champion_version(client, name)
    if current == version:
        raise TabflowError(f"version {version} of {name!r} is already the champion")
    if force:
        with registry.move_lock():
            registry.move_champion(client, name, version, "FORCED", f"forced by hand: {reason}")
        return Decision("PROMOTE", f"forced by hand, the gate skipped: {reason}", "", float("nan"),
                        champion_version=current, version=version)
    cfg = cfg or GateConfig()
    tags = client.get_model_version(name, version).tags
    if "parent_run_id" not in tags or "task" not in tags:
        raise TabflowError(f"version {version} of {name!r} has no lineage to judge it by; use --force to move "
                           "champion without the gate")
    task, classes, target = tags["task"], json.loads(tags.get("classes", "[]")), tags["target"]
    rows = _test_rows(client, tags["parent_run_id"])
    x = rows.drop(columns=[target])
    y = (rows[target].to_numpy(dtype="float64") if task == "regression"
         else pd.Categorical(rows[target].astype(str), categories=classes).codes.astype("int64"))
    output = network_output(registry.score_version(name, version, x), task, tuple(classes))
    test = evaluation.scores(task, y, output)
    metric = cfg.metric_for(task)
    dummy = client.get_run(tags["parent_run_id"]).data.metrics.get(f"baseline_dummy_test_{metric}", np.nan)
    rules = pipeline.gate_rules(cfg, task, test, dummy)
    decision = pipeline.judged(name, current, rules, test, output, x, y, task, tuple(classes), cfg, 0)
    decision = Decision(**{**decision.__dict__, "version": version})
    if decision.verdict == "PROMOTE":
        with registry.move_lock():
            if registry.champion_version(client, name) != current:
                raise TabflowError(f"champion of {name!r} moved while judging; run the command again")
            registry.move_champion(client, name, version, "PROMOTE", f"by hand: {reason}; {decision.reason}")
    return decision


def _test_rows(client: MlflowClient, run_id: str) -> pd.DataFrame:
    import mlflow

    from tabflow.pipeline import TEST_ROWS

    try:
        return pd.read_parquet(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=TEST_ROWS))
    except Exception:
        raise TabflowError(f"the run that trained this version ({run_id}) kept no test rows; use --force") from None


