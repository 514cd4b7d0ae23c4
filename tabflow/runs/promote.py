"""The promotion stage: register the challenger, judge it against the champion on the same test rows, check that
the registered artifact serves, and move `champion` on PROMOTE."""

from __future__ import annotations

import hashlib
import json

from mlflow import MlflowClient

from tabflow import tracking
from tabflow.config import GateConfig
from tabflow.data.split import Splits
from tabflow.promotion import registry
from tabflow.promotion.decision import Decision
from tabflow.promotion.judge import BaselineOutput, Challenger, gate_rules, judge
from tabflow.runs import describe
from tabflow.runs.card import model_card
from tabflow.runs.context import RunContext
from tabflow.runs.evaluate import Evaluation
from tabflow.runs.train import TrainedModel
from tabflow.serving import integrity, servability
from tabflow.task_types import task_type


def promote(
    model: TrainedModel, result: Evaluation, splits: Splits, gate_cfg: GateConfig, ctx: RunContext, tags: dict[str, str]
) -> Decision:
    """Register the challenger, judge it against the champion on the same test rows (floors, then the paired
    bootstrap), and move `champion` on PROMOTE."""
    client, name, metric = MlflowClient(), ctx.cfg.model_name, gate_cfg.metric_for(splits.task)
    rules = gate_rules(gate_cfg, splits.task, result.baselines["dummy"][metric])
    x_test = splits.x("test")
    challenger = Challenger(
        x_test,
        splits.y("test"),
        splits.task,
        splits.classes,
        result.output,
        result.test,
        gate_baseline(gate_cfg, splits.task, result),
    )

    def judged(current: str | None) -> Decision:
        return judge(name, current, rules, challenger, gate_cfg, ctx.cfg.seed)

    def serves(version: str) -> str | None:
        rows = servability.sample(len(x_test), ctx.cfg.seed)
        return ctx.checker.check(
            f"models:/{name}/{version}", x_test.iloc[rows], result.output[rows], splits.task, splits.classes
        )

    lineage = {**lineage_tags(splits, ctx), **integrity.tags_for(model.model_uri), **tags}
    decision = registry.register(client, name, model.model_uri, judged, lineage, check=serves)
    if decision.version:
        client.log_text(
            ctx.parent_run_id,
            model_card(ctx.cfg, splits, model, result, decision, lineage, model.schema),
            tracking.CARD,
        )
        describe.describe_registry(client, name, decision, ctx.parent_run_id, ctx.experiment_id, splits)
    tracking.log_all(
        client,
        ctx.parent_run_id,
        tags={**decision.as_tags(), tracking.NOTE: describe.run_note(result, decision, tags, ctx.cfg, splits)},
        metrics={"champion_test_" + metric: decision.champion} if decision.champion is not None else None,
    )
    return decision


def gate_baseline(cfg: GateConfig, task: str, result: Evaluation) -> BaselineOutput | None:
    """The baseline gate.baseline names, with its test output."""
    if cfg.baseline == "none":
        return None
    _, linear, boosting = task_type(task).baselines
    name = linear if cfg.baseline == "linear" else boosting
    metric = cfg.metric_for(task)
    return BaselineOutput(name, cfg.baseline, result.baseline_outputs[name], result.baselines[name][metric])


def lineage_tags(splits: Splits, ctx: RunContext) -> dict[str, str]:
    """Where a version came from: data, schema (columns and roles), config, code, packages, runs and seed."""
    return {
        "data_digest": splits.digest,
        "config_hash": ctx.cfg.digest(),
        "parent_run_id": ctx.parent_run_id,
        "schema_hash": hashlib.sha256(json.dumps(splits.roles, sort_keys=True).encode()).hexdigest()[:16],
        "task": splits.task,
        "target": splits.target,
        "classes": json.dumps([str(c) for c in splits.classes]),
        "seed": str(ctx.cfg.seed),
        **{f"rows_{k}": str(v) for k, v in splits.sizes().items()},
        **tracking.git_state(),
        **{f"version.{k}": v for k, v in tracking.package_versions().items()},
    }
