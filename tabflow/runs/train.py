"""The final fit: the best trial's parameters refitted on every training row, its best validation epoch kept,
logged as the servable pyfunc."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import numpy as np
from mlflow import MlflowClient

from tabflow import failpoints, tracking
from tabflow.config import TrainConfig
from tabflow.data.split import Splits
from tabflow.features.preprocessor import capped_categories
from tabflow.liveness import worker_id
from tabflow.model import calibrate
from tabflow.model.calibrate import After
from tabflow.model.inputs import prepare
from tabflow.model.network import fit_final, held_out, params_for
from tabflow.model.study import TuneResult
from tabflow.runs import describe
from tabflow.runs.context import RunContext


@dataclass(frozen=True)
class TrainedModel:
    run_id: str
    model_uri: str  # models:/m-<id>, the logged pyfunc
    best_epoch: int
    params: dict
    capped: dict = field(default_factory=dict)  # categorical column -> values and training rows sharing "other"
    after: After = After()  # calibration, threshold and interval, inside the served model
    schema: dict = field(default_factory=dict)  # the data contract: each column's role and what training saw


def train_final(splits: Splits, best: TuneResult, cfg: TrainConfig, ctx: RunContext) -> TrainedModel:
    """Refit with the best params for the trials' epochs, keeping the best validation epoch (on a small table, one
    network per fold of train and val, served as their mean: train.folds); log the pyfunc."""
    import keras

    from tabflow.serving.contract import input_schema
    from tabflow.serving.pyfunc import log_model

    ctx.checker.start()  # its imports overlap the final fit
    client, params = MlflowClient(), params_for(splits.task, best.best_params)
    data = prepare(splits, ctx.cfg.data.max_categories, cfg.class_weight)
    objective = data.head.objective
    keras.backend.clear_session()
    # The winning trial's own seed and epochs: on a table within tune.max_rows and without folds, the very network
    # the study scored.
    members = [(params_for(splits.task, p), ctx.cfg.seed + n) for n, p in best.top[: cfg.folds]] or [
        (params, ctx.cfg.seed + best.best_number)
    ]
    started = time.time()
    network, history, member_epochs = fit_final(members, data, ctx.cfg.tune.max_epochs, cfg.folds, cfg.fold_rows)
    best_epoch = int(np.argmin(history[objective]))
    y_held, out_held = held_out(network, data, members[0][1], cfg.folds if member_epochs else 1)
    after = calibrate.fit(splits.task, y_held, out_held, cfg.calibrate, _rule(cfg.threshold), cfg.interval)
    run_id = tracking.start_run(
        client,
        ctx.experiment_id,
        "final-fit",
        parent=ctx.parent_run_id,
        tags={"kind": "final", "from_trial": best.best_number, "worker": worker_id()},
        start_time=started,
    )
    tracking.log_all(
        client,
        run_id,
        params={
            **params.as_dict(),
            "folds": len(member_epochs) or 1,
            "fold_trials": ",".join(str(n) for n, _ in best.top[: len(member_epochs)]) if member_epochs else "",
        },
        history=history,  # with folds, the members' mean per epoch
        metrics={
            f"best_{objective}": history[objective][best_epoch],
            "best_epoch": best_epoch,
            **{f"fold_{i}_best_epoch": e for i, e in enumerate(member_epochs)},
            **{k: v for k, v in asdict(after).items() if isinstance(v, int | float) and v is not None},
        },
    )
    failpoints.reach("final-fit")  # its run open, nothing logged yet
    info = log_model(
        network, data.preprocessor, splits.x("train"), splits.roles, splits.classes, run_id, splits.task, after
    )
    failpoints.reach("model-logged")  # the model logged, its run still open
    describe.link_model(client, ctx.parent_run_id, info.model_uri)
    schema = input_schema(splits.x("train"), splits.roles)
    client.log_dict(ctx.parent_run_id, schema, "data/schema.json")
    capped = capped_categories(data.preprocessor)
    if capped:
        client.log_dict(ctx.parent_run_id, capped, "data/categories_capped.json")
    client.set_terminated(run_id, "FINISHED")
    return TrainedModel(
        run_id=run_id,
        model_uri=info.model_uri,
        best_epoch=best_epoch,
        params=params.as_dict(),
        capped=capped,
        after=after,
        schema=schema,
    )


def _rule(threshold):
    """train.threshold as calibrate.threshold takes it: a number, a name, or {kind: value}."""
    return threshold.model_dump() if hasattr(threshold, "model_dump") else threshold
