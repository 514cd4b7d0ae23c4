"""Deployments of the training and scoring flows on a `process` work pool, each on its own schedule.

The code is this project folder (a local source: the worker runs the flows from here), the parameters are the
validated config, and the worker's environment is the profile: MLFLOW_TRACKING_URI, TABFLOW_OPTUNA_STORAGE and
TABFLOW_DASK_ADDRESS as it has them. Nothing secret is stored in the deployment.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy, WorkerStatus
from prefect.exceptions import ObjectNotFound

from tabflow.config import PipelineConfig

PROJECT = Path(__file__).resolve().parent.parent  # holds flows/ and tasks/: the worker's working directory
POOL = "tabflow"


@dataclass(frozen=True)
class Deployed:
    name: str  # FLOW/DEPLOYMENT, what `prefect deployment run` takes
    deployment_id: str
    schedule: str
    workers: int  # polling the pool right now


def deploy_training(
    cfg: PipelineConfig, store: str, schedule: dict, pool: str = POOL, max_late_minutes: float | None = 60
) -> Deployed:
    from flows.training import train

    params = {
        "cfg": cfg.model_dump(mode="json"),
        "store": str(Path(store).resolve()),
        "max_late_minutes": max_late_minutes,
    }
    return _deploy(train, "flows/training.py:train", cfg.model_name, params, schedule, pool)


def deploy_scoring(
    model: str, source: str, output: str, keys: list[str] | None, store: str, schedule: dict, pool: str = POOL
) -> Deployed:
    from flows.scoring import score

    params = {
        "model": model,
        "source": str(Path(source).resolve()),
        "output": str(Path(output).resolve()),
        "keys": keys,
        "store": str(Path(store).resolve()),
    }
    return _deploy(score, "flows/scoring.py:score", model.replace("@", "-").replace("/", "-"), params, schedule, pool)


def _deploy(flow, entrypoint: str, name: str, params: dict, schedule: dict, pool: str) -> Deployed:
    ensure_pool(pool)
    source = flow.from_source(source=str(PROJECT), entrypoint=entrypoint)
    # One run at a time per deployment; a slot that comes while the last run still trains is cancelled, not
    # queued behind it (see also max_late_minutes: runs that waited for a worker are skipped).
    limit = ConcurrencyLimitConfig(limit=1, collision_strategy=ConcurrencyLimitStrategy.CANCEL_NEW)
    deployment_id = source.deploy(
        name=name,
        work_pool_name=pool,
        parameters=params,
        concurrency_limit=limit,
        build=False,
        push=False,
        print_next_steps=False,
        ignore_warnings=True,
        **schedule,
    )
    described = (
        f"cron {schedule['cron']!r}"
        if schedule.get("cron")
        else f"every {schedule['interval']:g} s"
        if schedule.get("interval")
        else "no schedule (runs on demand)"
    )
    return Deployed(f"{flow.name}/{name}", str(deployment_id), described, len(live_workers(pool)))


LOCKED = ("command", "env", "working_dir")  # job variables a flow run could use to run anything on the worker


def locked_job_template() -> dict:
    """The process pool's template without the variables that choose what runs and with which environment: a
    flow run (or anyone who can create one) may set the others, and any key beyond them is refused."""
    from prefect.workers.process import ProcessWorker

    template = ProcessWorker.get_default_base_job_template()
    for key in LOCKED:
        template["variables"]["properties"].pop(key)
    template["variables"]["additionalProperties"] = False
    template["job_configuration"].update(command=None, env={}, working_dir=None)  # the worker's own defaults
    return template


def ensure_pool(pool: str) -> None:
    from prefect.client.schemas.actions import WorkPoolCreate, WorkPoolUpdate

    with get_client(sync_client=True) as client:
        try:
            existing = client.read_work_pool(pool)
        except ObjectNotFound:
            client.create_work_pool(WorkPoolCreate(name=pool, type="process", base_job_template=locked_job_template()))
            return
        if any(k in existing.base_job_template.get("variables", {}).get("properties", {}) for k in LOCKED):
            client.update_work_pool(pool, WorkPoolUpdate(base_job_template=locked_job_template()))  # an old pool


def live_workers(pool: str) -> list[str]:
    with get_client(sync_client=True) as client:
        return [w.name for w in client.read_workers_for_work_pool(pool) if w.status == WorkerStatus.ONLINE]
