"""The stages that touch MLflow, as plain functions: tasks/ wraps each one, tests call them directly."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from mlflow import MlflowClient

from tabflow import evaluation, gate, registry, servecheck, tracking
from tabflow.config import GateConfig, PipelineConfig, TrainConfig
from tabflow.data import CleanTable
from tabflow.errors import ConfigError
from tabflow.model import MLPParams, capped_categories, fit_network, prepare
from tabflow.registry import Decision
from tabflow.servecheck import Checker
from tabflow.splitting import Splits
from tabflow.tuning import (
    SearchSpace,
    TrialRecord,
    TuneResult,
    make_objective,
    open_study,
    optimize,
    run_trials,
    summarize,
)
from tabflow.tuning import study_name as make_study_name
from tabflow.workers import is_dead, worker_id

log = logging.getLogger("tabflow")
OPTUNA_STORAGE = "TABFLOW_OPTUNA_STORAGE"  # the server profile's study database, e.g. postgresql+psycopg2://...


@dataclass(frozen=True)
class RunContext:
    """What every stage needs to find the flow's MLflow parent run: ids, not live objects."""

    store: Path
    tracking_uri: str
    experiment_id: str
    parent_run_id: str
    cfg: PipelineConfig
    optuna_storage: str | None = None  # a database URL shared by trial workers; None: a journal in the store
    checker: Checker = field(default_factory=Checker, compare=False, repr=False)  # servability, pre-started


@dataclass(frozen=True)
class TrainedModel:
    run_id: str
    model_uri: str  # models:/m-<id>, the logged pyfunc
    best_epoch: int
    params: dict
    capped: dict = field(default_factory=dict)  # categorical column -> values and training rows sharing "other"


@dataclass(frozen=True)
class Evaluation:
    test: dict[str, float]
    baselines: dict[str, dict[str, float]]
    output: np.ndarray  # the logged model's test predictions (tabflow.serving.network_output)


@contextmanager
def tracked_run(cfg: PipelineConfig, store: Path, tags: dict[str, str]) -> Iterator[RunContext]:
    """One parent run per flow run, FINISHED on success and FAILED on any error."""
    uri = tracking.configure(store)
    client = MlflowClient()
    experiment = tracking.experiment_id(client, cfg.model_name, store)
    all_tags = {"config_hash": cfg.digest(), "seed": str(cfg.seed), **tracking.git_state(), **tags,
                **{f"version.{k}": v for k, v in tracking.package_versions().items()}}
    close_orphaned_runs(client, experiment)
    run_id = tracking.start_run(client, experiment, f"train-{time.strftime('%Y%m%d-%H%M%S')}",
                                tags={**all_tags, "worker": worker_id()})
    tracking.log_all(client, run_id, params=_flatten(cfg.model_dump(mode="json")))
    log.info("MLflow run %s in experiment %r", run_id, cfg.model_name)
    ctx = RunContext(store=store.resolve(), tracking_uri=uri, experiment_id=experiment, parent_run_id=run_id, cfg=cfg,
                     optuna_storage=os.environ.get(OPTUNA_STORAGE) or None)
    try:
        yield ctx
    except BaseException:
        client.set_terminated(run_id, "FAILED")
        raise
    finally:
        ctx.checker.close()
    client.set_terminated(run_id, "FINISHED")


def close_orphaned_runs(client: MlflowClient, experiment: str) -> None:
    """Runs left RUNNING by a killed process on this host become KILLED, so the UI tells no stale story."""
    for run in client.search_runs([experiment], filter_string="attributes.status = 'RUNNING'"):
        if is_dead(run.data.tags.get("worker", "")):
            client.set_terminated(run.info.run_id, "KILLED")


@contextmanager
def timed(ctx: RunContext, stage: str) -> Iterator[None]:
    """Log the stage's wall time on the parent run (`seconds_tune`, ...): where a run's time goes, per run."""
    start = time.perf_counter()
    yield
    tracking.log_all(MlflowClient(), ctx.parent_run_id, metrics={f"seconds_{stage}": time.perf_counter() - start})


def record_data(ctx: RunContext, table: CleanTable, splits: Splits) -> None:
    sizes = {f"rows_{part}": n for part, n in splits.sizes().items()}
    tracking.log_all(MlflowClient(), ctx.parent_run_id, metrics=sizes,
                     tags={"data_digest": table.digest, "data_source": ctx.cfg.data.source})
    MlflowClient().log_dict(ctx.parent_run_id, {**table.report, "class_balance": splits.class_balance()},
                            "data/cleaning_report.json")


def tune(splits: Splits, ctx: RunContext) -> TuneResult:
    """The Optuna study, each trial a child run of the parent; resumes the study an earlier run left."""
    study = open_tuning(splits, ctx)
    with _objective(splits, ctx, study.study_name) as (objective, metric):
        result = optimize(study, objective, ctx.cfg.tune, metric)
    return _record_tuning(ctx, result)


def open_tuning(splits: Splits, ctx: RunContext):
    """The run's study, created here (once, before any worker opens it) or resumed."""
    cfg = ctx.cfg
    name = make_study_name(cfg.model_name, splits.digest, SearchSpace(), cfg.split, cfg.seed, cfg.tune, splits.task,
                           splits.roles)
    return open_study(name, ctx.store / "optuna" / f"{cfg.model_name}.journal", cfg.seed, cfg.tune.pruner,
                      ctx.optuna_storage)


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
    metric = "val_rmse" if splits.task == "regression" else "val_log_loss"  # tabflow.model.Head.objective
    return _record_tuning(ctx, summarize(study, done_before, retried, metric))


@contextmanager
def _objective(splits: Splits, ctx: RunContext, study: str):
    """The trials' objective on the prepared data, each finished trial logged as a child run; and its metric."""
    data = _trial_data(splits, ctx)
    with _trial_logging(ctx, study, data.head.objective) as on_trial_end:
        yield make_objective(data, SearchSpace(), ctx.cfg.tune, ctx.cfg.seed, on_trial_end), data.head.objective


def _trial_data(splits: Splits, ctx: RunContext):
    data = prepare(splits, ctx.cfg.data.max_categories, ctx.cfg.train.class_weight).sample(ctx.cfg.tune.max_rows,
                                                                                           ctx.cfg.seed)
    if len(data.x_train) < splits.sizes()["train"]:
        log.info("trials train on %d of %d training rows and validate on %d (tune.max_rows); the final fit uses all",
                 len(data.x_train), splits.sizes()["train"], len(data.x_val))
    return data


@contextmanager
def _trial_logging(ctx: RunContext, study: str, objective_name: str):
    """A hook that logs each finished trial as a child run of the parent, on a thread: logging a trial (~55 ms of
    SQLite writes) overlaps the next trial's training. Leaving the block waits for every trial's run, also when
    tuning fails, and raises any logging error."""
    client = MlflowClient()

    def log_trial(rec: TrialRecord) -> None:
        run_id = tracking.start_run(client, ctx.experiment_id, f"trial-{rec.number}", parent=ctx.parent_run_id,
                                    tags={"kind": "trial", "study": study, "trial": rec.number,
                                          "trial_state": rec.state, "worker": worker_id()})
        best = {f"best_{objective_name}": rec.value} if rec.value is not None else {}
        tracking.log_all(client, run_id, params=rec.params, history=rec.history,
                         metrics={**best, "trial_seconds": rec.seconds})
        client.set_terminated(run_id, "FAILED" if rec.state == "FAIL" else "FINISHED")

    logged = []
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="tabflow-trial-log") as logger:
        yield lambda rec: logged.append(logger.submit(log_trial, rec))
    for future in logged:
        future.result()


def _record_tuning(ctx: RunContext, result: TuneResult) -> TuneResult:
    tracking.log_all(MlflowClient(), ctx.parent_run_id, metrics={f"best_{result.objective}": result.best_value},
                     params={f"best_{k}": v for k, v in result.best_params.items()},
                     tags={"study": result.study_name, "best_trial": result.best_number})
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


def train_final(splits: Splits, best: TuneResult, cfg: TrainConfig, ctx: RunContext) -> TrainedModel:
    """Refit with the best params and early stopping on val; log the servable pyfunc."""
    import keras

    from tabflow import serving

    ctx.checker.start()  # its imports overlap the final fit
    client, params = MlflowClient(), MLPParams(**best.best_params)
    data = prepare(splits, ctx.cfg.data.max_categories, cfg.class_weight)
    objective = data.head.objective
    stop = keras.callbacks.EarlyStopping(monitor=objective, mode="min", patience=cfg.patience,
                                         restore_best_weights=True)
    keras.backend.clear_session()
    # The winning trial's own seed: the refit starts from the very weights the study scored.
    network, history = fit_network(params, data, cfg.max_epochs, ctx.cfg.seed + best.best_number, [stop])
    best_epoch = int(np.argmin(history[objective]))
    run_id = tracking.start_run(client, ctx.experiment_id, "final-fit", parent=ctx.parent_run_id,
                                tags={"kind": "final", "from_trial": best.best_number, "worker": worker_id()})
    tracking.log_all(client, run_id, params=params.as_dict(), history=history,
                     metrics={f"best_{objective}": history[objective][best_epoch], "best_epoch": best_epoch})
    info = serving.log_model(network, data.preprocessor, splits.x("train"), splits.roles, splits.classes, run_id,
                             splits.task)
    client.log_dict(ctx.parent_run_id, serving.input_schema(splits.x("train"), splits.roles), "data/schema.json")
    capped = capped_categories(data.preprocessor)
    if capped:
        client.log_dict(ctx.parent_run_id, capped, "data/categories_capped.json")
    client.set_terminated(run_id, "FINISHED")
    return TrainedModel(run_id=run_id, model_uri=info.model_uri, best_epoch=best_epoch, params=params.as_dict(),
                        capped=capped)


def evaluate(model: TrainedModel, splits: Splits, ctx: RunContext) -> Evaluation:
    """Score the model as logged (raw test rows through the pyfunc) beside the two baselines."""
    import mlflow

    from tabflow.serving import network_output

    client, y_test, task = MlflowClient(), splits.y("test"), splits.task
    predicted = mlflow.pyfunc.load_model(model.model_uri).predict(splits.x("test"))
    output = network_output(predicted, task, splits.classes)
    test = evaluation.scores(task, y_test, output)
    baselines = {name: evaluation.scores(task, y_test, out)
                 for name, out in evaluation.baseline_outputs(splits, ctx.cfg.seed).items()}
    for name, scores in baselines.items():
        run_id = tracking.start_run(client, ctx.experiment_id, f"baseline-{name}", parent=ctx.parent_run_id,
                                    tags={"kind": "baseline"})
        tracking.log_all(client, run_id, metrics=_prefixed("test_", scores))
        client.set_terminated(run_id, "FINISHED")
    tracking.log_all(client, model.run_id, metrics=_prefixed("test_", test))
    side_by_side = {f"baseline_{n}_test_{k}": v for n, s in baselines.items() for k, v in s.items()}
    tracking.log_all(client, ctx.parent_run_id, metrics={**_prefixed("test_", test), **side_by_side})
    import matplotlib.pyplot as plt

    for file, fig in evaluation.plots(task, y_test, output, splits.classes).items():
        client.log_figure(ctx.parent_run_id, fig, f"plots/{file}")
        plt.close(fig)  # pyplot keeps every figure alive until closed
    _log_frame(client, ctx.parent_run_id, predicted, "predictions/test.parquet")
    # The test rows themselves, so `tabflow promote` can later judge this version against another champion.
    _log_frame(client, ctx.parent_run_id, splits.part("test")[[*splits.features, splits.target]], TEST_ROWS)
    return Evaluation(test=test, baselines=baselines, output=output)


TEST_ROWS = "data/test.parquet"


def promote(model: TrainedModel, result: Evaluation, splits: Splits, gate_cfg: GateConfig, ctx: RunContext,
            tags: dict[str, str]) -> Decision:
    """Register the challenger, judge it against the champion on the same test rows (floors, then the paired
    bootstrap), and move `champion` on PROMOTE."""
    client, name, metric = MlflowClient(), ctx.cfg.model_name, gate_cfg.metric_for(splits.task)
    rules = gate_rules(gate_cfg, splits.task, result.test, result.baselines["dummy"][metric])
    x_test, y_test = splits.x("test"), splits.y("test")

    def judge(current: str | None) -> Decision:
        return judged(name, current, rules, result.test, result.output, x_test, y_test, splits.task, splits.classes,
                      gate_cfg, ctx.cfg.seed)

    def serves(version: str) -> str | None:
        rows = servecheck.sample(len(x_test), ctx.cfg.seed)
        return ctx.checker.check(f"models:/{name}/{version}", x_test.iloc[rows], result.output[rows], splits.task,
                                 splits.classes)

    lineage = {**lineage_tags(splits, ctx), **tags}
    decision = registry.register(client, name, model.model_uri, judge, lineage, check=serves)
    tracking.log_all(client, ctx.parent_run_id, tags=decision.as_tags(),
                     metrics={"champion_test_" + metric: decision.champion} if decision.champion is not None
                     else None)
    return decision


def gate_rules(cfg: GateConfig, task: str, test: dict[str, float], dummy: float) -> gate.Rules:
    """The config's gate, checked against the task's metrics; the floor defaults to beating the dummy."""
    metric = cfg.metric_for(task)
    for name in [metric, *cfg.floors, *cfg.max_regression]:
        if name not in test:
            raise ConfigError(f"gate metric {name!r} is not a {task} metric; use one of: " + ", ".join(test))
    floor = gate.Floor(cfg.floor) if cfg.floor is not None else gate.Floor(dummy, strict=True)
    return gate.Rules(metric, floor, cfg.margin, dict(cfg.floors), dict(cfg.max_regression), cfg.allow_schema_change)


def judged(name: str, current: str | None, rules: gate.Rules, test: dict[str, float], output: np.ndarray,
           x_test: pd.DataFrame, y_test: np.ndarray, task: str, classes: tuple, cfg: GateConfig, seed: int
           ) -> Decision:
    """Score the current champion on the challenger's test rows and apply the gate."""
    from tabflow.serving import network_output

    champion, interval, problem = None, None, None
    if current:
        try:
            missing = registry.missing_columns(name, current, list(x_test.columns))
            if missing:
                raise ValueError(f"it needs column(s) these rows lack: {', '.join(missing[:5])}")
            champion_output = network_output(registry.score_version(name, current, x_test), task, classes)
            champion = evaluation.scores(task, y_test, champion_output)
        except Exception as exc:  # a champion that cannot read these columns is the schema guard's case
            problem = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        else:
            interval = gate.bootstrap(task, rules.metric, y_test, output, champion_output, cfg.resamples,
                                      cfg.confidence, seed)
    verdict = gate.decide(gate.Evidence(test, champion, interval, current, problem), rules)
    return Decision(verdict.verdict, verdict.reason, f"test_{rules.metric}", test[rules.metric],
                    champion[rules.metric] if champion else None, current,
                    gain_low=interval.low if interval else None, gain_high=interval.high if interval else None)


def lineage_tags(splits: Splits, ctx: RunContext) -> dict[str, str]:
    """Where a version came from: data, schema (columns and roles), config, code, packages, runs and seed."""
    return {"data_digest": splits.digest, "config_hash": ctx.cfg.digest(), "parent_run_id": ctx.parent_run_id,
            "schema_hash": hashlib.sha256(json.dumps(splits.roles, sort_keys=True).encode()).hexdigest()[:16],
            "task": splits.task, "target": splits.target, "classes": json.dumps([str(c) for c in splits.classes]),
            "seed": str(ctx.cfg.seed),
            **{f"rows_{k}": str(v) for k, v in splits.sizes().items()}, **tracking.git_state(),
            **{f"version.{k}": v for k, v in tracking.package_versions().items()}}


def _prefixed(prefix: str, scores: dict[str, float]) -> dict[str, float]:
    return {f"{prefix}{k}": v for k, v in scores.items()}


def _flatten(tree: dict, prefix: str = "") -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _log_frame(client: MlflowClient, run_id: str, frame: pd.DataFrame, path: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(tmp) / Path(path).name
        frame.to_parquet(local)
        client.log_artifact(run_id, str(local), str(Path(path).parent))
