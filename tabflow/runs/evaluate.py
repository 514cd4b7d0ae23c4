"""The evaluation stage: the model as logged, scored on the test rows beside the baselines, with the plots."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from mlflow import MlflowClient

from tabflow import tracking
from tabflow.data.split import Splits
from tabflow.metrics import scores
from tabflow.model.baselines import baseline_outputs
from tabflow.model.plots import plots
from tabflow.runs.context import RunContext
from tabflow.runs.train import TrainedModel
from tabflow.serving.contract import network_output


@dataclass(frozen=True)
class Evaluation:
    test: dict[str, float]
    baselines: dict[str, dict[str, float]]
    output: np.ndarray  # the logged model's test predictions (tabflow.serving.contract.network_output)
    baseline_outputs: dict[str, np.ndarray]  # the same, of each baseline (for the gate's baseline check)


def evaluate(model: TrainedModel, splits: Splits, ctx: RunContext) -> Evaluation:
    """Score the model as logged (raw test rows through the pyfunc) beside the baselines."""
    import matplotlib.pyplot as plt
    import mlflow

    client, y_test, task = MlflowClient(), splits.y("test"), splits.task
    predicted = mlflow.pyfunc.load_model(model.model_uri).predict(splits.x("test"))
    output = network_output(predicted, task, splits.classes)
    test = scores(task, y_test, output)
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
    tracking.log_all(client, ctx.parent_run_id, metrics={**tracking.prefixed("test_", test), **side_by_side})
    for file, fig in plots(task, y_test, output, splits.classes).items():
        client.log_figure(ctx.parent_run_id, fig, f"plots/{file}")
        plt.close(fig)  # pyplot keeps every figure alive until closed
    tracking.log_frame(client, ctx.parent_run_id, predicted, "predictions/test.parquet")
    # The test rows themselves, so `tabflow promote` can later judge this version against another champion.
    tracking.log_frame(
        client, ctx.parent_run_id, splits.part("test")[[*splits.features, splits.target]], tracking.TEST_ROWS
    )
    return Evaluation(test=test, baselines=baselines, output=output, baseline_outputs=outputs)
