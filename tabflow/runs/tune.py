"""The tuning stage: the study on the prepared data, each finished trial logged as a child run of the parent."""

from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

from mlflow import MlflowClient

from tabflow import settings, tracking
from tabflow.data.split import Splits
from tabflow.liveness import worker_id
from tabflow.model.inputs import prepare
from tabflow.model.plots import study_plots
from tabflow.model.search_space import SearchSpace
from tabflow.model.study import TrialRecord, TuneResult, make_objective, open_study, optimize, run_trials, summarize
from tabflow.model.study import study_name as make_study_name
from tabflow.runs.context import RunContext
from tabflow.task_types import task_type

log = logging.getLogger("tabflow")


def tune(splits: Splits, ctx: RunContext) -> TuneResult:
    """The Optuna study, each trial a child run of the parent; resumes the study an earlier run left."""
    study = open_tuning(splits, ctx)
    with _objective(splits, ctx, study.study_name) as (objective, metric):
        result = optimize(study, objective, ctx.cfg.tune, metric)
    return _record_tuning(ctx, result, study)


def open_tuning(splits: Splits, ctx: RunContext):
    """The run's study, created here (once, before any worker opens it) or resumed."""
    cfg = ctx.cfg
    space = SearchSpace()
    name = make_study_name(
        cfg.model_name, splits.digest, space, cfg.split, cfg.seed, cfg.tune, splits.task, splits.roles
    )
    # Read here, in the process that opens the study (a Dask worker has the variable too), so the URL and its
    # password never travel in a flow-run parameter.
    return open_study(
        name,
        ctx.store / "optuna" / f"{cfg.model_name}.journal",
        cfg.seed,
        cfg.tune.pruner,
        os.environ.get(settings.OPTUNA_STORAGE) or None,
        first_trial=space.first_trial(splits.task),
    )


def tune_share(splits: Splits, ctx: RunContext, share: int, threads: int | None = None) -> int:
    """One worker's part of a shared study (a Dask task): trials until the study's budget is met, each logged as
    a child run. Returns how many trials it ran; the results travel through the study, not through this call."""
    if threads:
        _limit_threads(threads)
    import mlflow

    mlflow.set_tracking_uri(ctx.tracking_uri)  # what the flow used: a worker's own environment may differ
    mlflow.set_registry_uri(ctx.tracking_uri)
    study = open_tuning(splits, ctx)
    with _objective(splits, ctx, study.study_name) as (objective, metric):
        return run_trials(study, objective, ctx.cfg.tune, metric, share)


def finish_tuning(splits: Splits, ctx: RunContext, done_before: int, retried: tuple[int, ...]) -> TuneResult:
    """The study's best trial once every share has returned."""
    study = open_tuning(splits, ctx)
    metric = task_type(splits.task).objective
    return _record_tuning(ctx, summarize(study, done_before, retried, metric), study)


@contextmanager
def _objective(splits: Splits, ctx: RunContext, study: str):
    """The trials' objective on the prepared data, each finished trial logged as a child run; and its metric."""
    data = _trial_data(splits, ctx)
    with _trial_logging(ctx, study, data.head.objective) as on_trial_end:
        yield make_objective(data, SearchSpace(), ctx.cfg.tune, ctx.cfg.seed, on_trial_end), data.head.objective


def _trial_data(splits: Splits, ctx: RunContext):
    data = prepare(splits, ctx.cfg.data.max_categories, ctx.cfg.train.class_weight).sample(
        ctx.cfg.tune.max_rows, ctx.cfg.seed
    )
    if len(data.x_train) < splits.sizes()["train"]:
        log.info(
            "trials train on %d of %d training rows and validate on %d (tune.max_rows); the final fit uses all",
            len(data.x_train),
            splits.sizes()["train"],
            len(data.x_val),
        )
    return data


@contextmanager
def _trial_logging(ctx: RunContext, study: str, objective_name: str):
    """A hook that logs each finished trial as a child run of the parent, on a thread: logging a trial (tens of
    milliseconds of SQLite writes) overlaps the next trial's training. Leaving the block waits for every trial's
    run, also when tuning fails, and raises any logging error."""
    client = MlflowClient()

    def log_trial(rec: TrialRecord) -> None:
        run_id = tracking.start_run(
            client,
            ctx.experiment_id,
            f"trial-{rec.number}",
            parent=ctx.parent_run_id,
            tags={
                "kind": "trial",
                "study": study,
                "trial": rec.number,
                "trial_state": rec.state,
                "worker": worker_id(),
            },
            start_time=rec.started_at or None,
        )
        best = {f"best_{objective_name}": rec.value} if rec.value is not None else {}
        tracking.log_all(
            client, run_id, params=rec.params, history=rec.history, metrics={**best, "trial_seconds": rec.seconds}
        )
        ended = int((rec.started_at + rec.seconds) * 1000) if rec.started_at else None
        client.set_terminated(run_id, "FAILED" if rec.state == "FAIL" else "FINISHED", end_time=ended)

    logged = []
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="tabflow-trial-log") as logger:
        yield lambda rec: logged.append(logger.submit(log_trial, rec))
    for future in logged:
        future.result()


def _record_tuning(ctx: RunContext, result: TuneResult, study) -> TuneResult:
    import matplotlib.pyplot as plt

    client = MlflowClient()
    tracking.log_all(
        client,
        ctx.parent_run_id,
        metrics={f"best_{result.objective}": result.best_value},
        params={f"best_{k}": v for k, v in result.best_params.items()},
        tags={"study": result.study_name, "best_trial": result.best_number},
    )
    for file, fig in study_plots(study).items():
        client.log_figure(ctx.parent_run_id, fig, f"plots/{file}")
        plt.close(fig)
    return result


def _limit_threads(threads: int) -> None:
    """TensorFlow's thread pools, sized before its first op: workers sharing a machine should not fight over
    its cores. Too late once this process has run TensorFlow (a worker's second share): then left as it is."""
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(min(threads, 2))
    except RuntimeError:
        pass
