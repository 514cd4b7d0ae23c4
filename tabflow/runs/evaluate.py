"""The evaluation stage: the model as logged, scored on the test rows beside the baselines, with the plots."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
from mlflow import MlflowClient

from tabflow import settings, tracking
from tabflow.data.split import Splits
from tabflow.metrics import lower_is_better, scores
from tabflow.model.baselines import baseline_outputs
from tabflow.model.importance import permutation
from tabflow.model.plots import importance_plot, plots
from tabflow.runs.context import RunContext
from tabflow.runs.train import TrainedModel
from tabflow.serving.contract import network_output
from tabflow.task_types import LOWER, UPPER

log = logging.getLogger("tabflow")


@dataclass(frozen=True)
class Evaluation:
    test: dict[str, float]
    baselines: dict[str, dict[str, float]]
    output: np.ndarray  # the logged model's test predictions (tabflow.serving.contract.network_output)
    baseline_outputs: dict[str, np.ndarray]  # the same, of each baseline (for the gate's baseline check)
    importance: tuple[tuple[str, float], ...] = ()  # (column, permutation importance), most important first
    interval: dict[str, float] = field(default_factory=dict)  # regression: test coverage and mean width
    confusion: dict[str, int] = field(default_factory=dict)  # binary: tn, fp, fn, tp on test at the threshold


def evaluate(model: TrainedModel, splits: Splits, ctx: RunContext) -> Evaluation:
    """Score the model as logged (raw test rows through the pyfunc) beside the baselines."""
    import matplotlib.pyplot as plt
    import mlflow

    client, y_test, task = MlflowClient(), splits.y("test"), splits.task
    served = mlflow.pyfunc.load_model(model.model_uri)
    predicted = served.predict(splits.x("test"))
    output = network_output(predicted, task, splits.classes)
    test = scores(task, y_test, output, model.after.threshold)
    covered = interval_scores(predicted, y_test)
    outputs = baseline_outputs(splits, ctx.cfg.seed, ctx.cfg.data.max_categories)
    baselines = {name: scores(task, y_test, out) for name, out in outputs.items()}
    for name, baseline in baselines.items():
        run_id = tracking.start_run(
            client, ctx.experiment_id, f"baseline-{name}", parent=ctx.parent_run_id, tags={"kind": "baseline"}
        )
        tracking.log_all(client, run_id, metrics=tracking.prefixed("test_", baseline))
        client.set_terminated(run_id, "FINISHED")
    tracking.log_all(client, model.run_id, metrics=tracking.prefixed("test_", test))
    side_by_side = {f"baseline_{n}_test_{k}": v for n, s in baselines.items() for k, v in s.items()}
    tracking.log_all(
        client,
        ctx.parent_run_id,
        metrics={**tracking.prefixed("test_", {**test, **covered}), **side_by_side},
    )
    figures = plots(task, y_test, output, splits.classes, model.after.threshold)
    importance = column_importance(served, splits, ctx)
    if importance is not None:
        client.log_dict(ctx.parent_run_id, importance.to_dict(orient="records"), "importance/permutation.json")
        figures["permutation_importance.png"] = importance_plot(importance, ctx.cfg.gate.metric_for(task))
    for file, fig in figures.items():
        client.log_figure(ctx.parent_run_id, fig, f"plots/{file}")
        plt.close(fig)  # pyplot keeps every figure alive until closed
    tracking.log_frame(client, ctx.parent_run_id, predicted, "predictions/test.parquet")
    # The test rows themselves, so `tabflow promote` can later judge this version against another champion.
    tracking.log_frame(
        client, ctx.parent_run_id, splits.part("test")[[*splits.features, splits.target]], tracking.TEST_ROWS
    )
    ranked = () if importance is None else tuple(zip(importance["column"], importance["importance"], strict=True))
    counts = {}
    if task == "binary":
        pred, actual = output >= model.after.threshold, y_test == 1
        counts = {
            "tn": int((~pred & ~actual).sum()),
            "fp": int((pred & ~actual).sum()),
            "fn": int((~pred & actual).sum()),
            "tp": int((pred & actual).sum()),
        }
    return Evaluation(test, baselines, output, outputs, importance=ranked, interval=covered, confusion=counts)


def interval_scores(predicted, y) -> dict[str, float]:
    """A regression model's interval on the test rows: the share of values inside it, and its mean width."""
    if LOWER not in predicted:
        return {}
    lower, upper = predicted[LOWER].to_numpy(), predicted[UPPER].to_numpy()
    return {
        "interval_coverage": float(np.mean((y >= lower) & (y <= upper))),
        "interval_width": float(np.mean(upper - lower)),
    }


def column_importance(served, splits: Splits, ctx: RunContext):
    """Permutation importance of each column on the test rows, on the gate's metric through the served model;
    None past settings.IMPORTANCE_COLUMNS columns (each costs the test rows' predictions, five times)."""
    if len(splits.features) > settings.IMPORTANCE_COLUMNS:
        log.info("no permutation importance: %d columns, over %d", len(splits.features), settings.IMPORTANCE_COLUMNS)
        return None
    task, metric = splits.task, ctx.cfg.gate.metric_for(splits.task)
    sign = -1.0 if lower_is_better(metric) else 1.0

    def score(x, y) -> float:
        return sign * scores(task, y, network_output(served.predict(x), task, splits.classes))[metric]

    return permutation(score, splits.x("test"), splits.y("test"), ctx.cfg.seed)
