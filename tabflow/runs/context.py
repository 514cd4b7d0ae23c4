"""The flow's MLflow parent run: opened once, FINISHED or FAILED at the end, found by every stage through ids."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from mlflow import MlflowClient

from tabflow import failpoints, tracking
from tabflow.config import PipelineConfig
from tabflow.data.clean import CleanTable
from tabflow.data.split import Splits
from tabflow.liveness import is_dead, worker_id
from tabflow.promotion.registry import sweep
from tabflow.runs import describe
from tabflow.serving.servability import Checker

log = logging.getLogger("tabflow")


@dataclass(frozen=True)
class RunContext:
    """What every stage needs to find the flow's MLflow parent run: ids, not live objects.

    Prefect stores it as a parameter of the Dask subflow, so it holds no secret: the study database's URL is read
    from the environment where the study is opened (tabflow.runs.tune)."""

    store: Path
    tracking_uri: str
    experiment_id: str
    parent_run_id: str
    cfg: PipelineConfig
    checker: Checker = field(default_factory=Checker, compare=False, repr=False)  # servability, pre-started


@contextmanager
def tracked_run(cfg: PipelineConfig, store: Path, tags: dict[str, str]) -> Iterator[RunContext]:
    """One parent run per flow run, FINISHED on success and FAILED on any error."""
    uri = tracking.configure(store)
    client = MlflowClient()
    experiment = tracking.experiment_id(client, cfg.model_name, store)
    all_tags = {
        "config_hash": cfg.digest(),
        "seed": str(cfg.seed),
        **tracking.git_state(),
        **tags,
        **{f"version.{k}": v for k, v in tracking.package_versions().items()},
    }
    close_orphaned_runs(client, experiment)
    sweep(client, cfg.model_name, experiment)  # after: a killed run's versions are now of a run no longer RUNNING
    run_id = tracking.start_run(
        client, experiment, f"train-{time.strftime('%Y%m%d-%H%M%S')}", tags={**all_tags, "worker": worker_id()}
    )
    tracking.log_all(client, run_id, params=tracking.flatten(cfg.model_dump(mode="json")))
    client.log_dict(run_id, cfg.model_dump(mode="json"), tracking.CONFIG)
    log.info("MLflow run %s in experiment %r", run_id, cfg.model_name)
    ctx = RunContext(store=store.resolve(), tracking_uri=uri, experiment_id=experiment, parent_run_id=run_id, cfg=cfg)
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
    failpoints.reach(f"after-{stage}")


def record_data(ctx: RunContext, table: CleanTable, splits: Splits) -> None:
    sizes = {f"rows_{part}": float(n) for part, n in splits.sizes().items()}
    tracking.log_all(
        MlflowClient(),
        ctx.parent_run_id,
        metrics=sizes,
        tags={"data_digest": table.digest, "data_source": ctx.cfg.data.source},
    )
    MlflowClient().log_dict(
        ctx.parent_run_id, {**table.report, "class_balance": splits.class_balance()}, "data/cleaning_report.json"
    )
    describe.log_datasets(MlflowClient(), ctx.parent_run_id, ctx.cfg, splits)
