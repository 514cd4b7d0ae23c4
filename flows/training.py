"""The training flow: a table in, a tuned, evaluated and (maybe) promoted model in the registry out."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from prefect import flow, get_run_logger
from prefect.runtime import flow_run
from prefect.states import Completed, State

from flows import artifact_key
from tabflow import settings
from tabflow.config import PipelineConfig
from tabflow.data.split import Splits
from tabflow.errors import TabflowError
from tabflow.model.study import TuneResult, shares
from tabflow.promotion.decision import Decision
from tabflow.runs import describe
from tabflow.runs.context import RunContext, record_data, timed, tracked_run
from tabflow.runs.evaluate import Evaluation
from tabflow.runs.schedule import skip_reason
from tabflow.runs.train import TrainedModel
from tabflow.tracking import ui_link
from tasks.clean import clean_table
from tasks.evaluate import evaluate_model
from tasks.load import load_table
from tasks.promote import promote_model
from tasks.split import split_data
from tasks.train import train_model
from tasks.tune import finish_tuning, open_study, tune_model, tune_share
from tasks.validate import validate_table


@dataclass(frozen=True)
class TrainingSummary:
    model_name: str
    tracking_uri: str
    parent_run_id: str
    experiment_id: str
    tuning: TuneResult
    model: TrainedModel
    scores: Evaluation
    decision: Decision
    cleaning: dict
    class_balance: dict


def _run_name() -> str:
    """A flow run's name before its data is read: the model's name (renamed with the data digest once read)."""
    cfg = flow_run.parameters.get("cfg")
    name = cfg.model_name if isinstance(cfg, PipelineConfig) else (cfg or {}).get("model_name", "")
    return name or "train"


@flow(name="train", flow_run_name=_run_name, log_prints=False, persist_result=False)
def train(cfg: PipelineConfig, store: str = "mlruns", max_late_minutes: float | None = None) -> TrainingSummary | State:
    """Bad input fails before the MLflow run opens; any later failure marks the run FAILED, registers nothing.
    A scheduled run later than `max_late_minutes` ends at once as Completed, named Skipped, with the reason."""
    late = skip_reason(flow_run.scheduled_start_time, datetime.now(UTC), max_late_minutes)
    if late:
        return Completed(name="Skipped", message=late)
    table = clean_table(validate_table(load_table(cfg.data), cfg), cfg)
    rename_run(f"{cfg.model_name}-{table.digest[:4]}")
    splits = split_data(table, cfg)
    tags = {"prefect_flow_run_id": str(flow_run.id or "")}
    with tracked_run(cfg, Path(store), tags) as run:
        record_data(run, table, splits)
        dask = os.environ.get(settings.DASK_ADDRESS)
        best = tune_on_dask(splits, run, dask) if dask else tune_model(splits, run)
        model = train_model(splits, best, run)
        scores = evaluate_model(model, splits, run)
        decision = promote_model(model, scores, splits, run, {**tags, **tags_of(best)})
    summary = TrainingSummary(
        cfg.model_name,
        run.tracking_uri,
        run.parent_run_id,
        run.experiment_id,
        best,
        model,
        scores,
        decision,
        table.report,
        splits.class_balance(),
    )
    publish(summary, describe.run_note(scores, decision, tags_of(best), cfg, splits))
    return summary


def tags_of(best: TuneResult) -> dict[str, str]:
    return {"study": best.study_name, "best_trial": str(best.best_number)}


def rename_run(name: str) -> None:
    """Name the flow run from the model and its data, where the Prefect UI lists runs."""
    from prefect.client.orchestration import get_client

    if flow_run.id:
        with get_client(sync_client=True) as client:
            client.update_flow_run(flow_run.id, name=name)


def publish(summary: TrainingSummary, note: str) -> None:
    """The run's result where the Prefect UI shows it: the summary (keyed by model, so the UI keeps its history
    across runs), a table of the trials and a link to the MLflow run."""
    from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact

    key = artifact_key(summary.model_name)
    link = ui_link(summary.tracking_uri, summary.experiment_id, summary.parent_run_id)
    create_markdown_artifact(f"{note}\n\n[The MLflow run]({link})", key=f"summary-{key}", description="tabflow run")
    rows = [
        {
            "trial": t["number"],
            "state": t["state"],
            summary.tuning.objective: t["value"],
            **dict(sorted(t["params"].items())),
        }
        for t in summary.tuning.trials
    ]
    create_table_artifact(rows, key=f"trials-{key}", description=f"study {summary.tuning.study_name}")
    create_link_artifact(link, link_text=f"MLflow run {summary.parent_run_id}", key=f"mlflow-run-{key}")


def tune_on_dask(splits: Splits, run: RunContext, address: str) -> TuneResult:
    """The study spread over a Dask cluster: one share of trials per worker, all on the one shared study."""
    from prefect_dask import DaskTaskRunner

    with timed(run, "tune"):
        return _tune_shared.with_options(task_runner=DaskTaskRunner(address=address))(splits, run, address)


@flow(name="tune-on-dask", log_prints=False, persist_result=False)
def _tune_shared(splits: Splits, run: RunContext, address: str) -> TuneResult:
    from distributed import Client

    retried, kept = open_study(splits, run)  # here, once: workers only open it
    try:
        with Client(address, set_as_default=False, timeout=30) as client:
            workers = [worker.rsplit(":", 1)[0] for worker in client.scheduler_info(n_workers=-1)["workers"]]
    except OSError as exc:
        raise TabflowError(
            f"cannot reach the Dask scheduler at {address} ({exc}); check TABFLOW_DASK_ADDRESS "
            "and that the scheduler runs"
        ) from None
    if not workers:
        raise TabflowError(
            f"the Dask cluster at {address} has no workers; start some with `dask worker {address} "
            "--nthreads 1`, or unset TABFLOW_DASK_ADDRESS to tune in this process"
        )
    per_host = {host: workers.count(host) for host in workers}
    remaining = max(run.cfg.tune.n_trials - kept, 0)  # retried trials are queued: the first ones any worker runs
    futures = [tune_share.submit(splits, run, n, per_host) for n in shares(remaining, len(workers))]
    get_run_logger().info("trials per Dask worker: %s", [future.result() for future in futures])
    return finish_tuning(splits, run, kept, retried)
