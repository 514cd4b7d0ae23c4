"""The server profile end to end: PostgreSQL, an MLflow server with basic auth, a Prefect server and process
worker, two Dask workers. A deployment with an interval schedule fires, tunes on both Dask workers against one
study in PostgreSQL, logs to the MLflow server and promotes; then a scheduled batch-scoring deployment scores a
file with the champion. Only settings (environment variables) differ from the embedded profile."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import optuna
import pandas as pd
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId
from prefect.settings import PREFECT_API_URL, temporary_settings

from tabflow.data.read import load_table
from tabflow.model.study import WORKER_ATTR
from tabflow.settings import runtime_defaults
from tests.system import servers

PROJECT = Path(__file__).resolve().parents[2]
NAME = "profile"
CONFIG = """
data: {source: "builtin:breast_cancer"}
model_name: profile
tune: {n_trials: 4, max_epochs: 3}
train: {folds: 2}
"""


def test_a_scheduled_run_tunes_on_dask_and_promotes_on_the_server_profile(tmp_path, monkeypatch):
    (tmp_path / "train.yaml").write_text(CONFIG)
    with servers.postgres(tmp_path / "postgres") as pg:
        for db in ("mlflow", "prefect", "optuna"):
            pg.create_database(db)
        with (
            servers.mlflow_server(
                pg.url("mlflow"), tmp_path / "artifacts", tmp_path / "mlflow", auth=True, wait=False
            ) as tracking,
            servers.prefect_server(
                pg.url("prefect", "postgresql+asyncpg"), tmp_path / "prefect", wait=False
            ) as prefect,
        ):
            tracking.wait()
            prefect.wait()
            env = {
                **runtime_defaults(tmp_path / "mlruns", tmp_path / ".prefect"),
                "MLFLOW_TRACKING_URI": tracking.url,
                "MLFLOW_TRACKING_USERNAME": tracking.username,
                "MLFLOW_TRACKING_PASSWORD": tracking.password,
                "PREFECT_API_URL": prefect.url,
                "TABFLOW_OPTUNA_STORAGE": pg.url("optuna", "postgresql+psycopg2"),
            }
            with servers.dask_cluster(2, tmp_path / "dask", env=env) as dask:
                env["TABFLOW_DASK_ADDRESS"] = dask.address
                dask_pids = {f"{os.uname().nodename}:{pid}" for pid in dask.pids()}
                with servers.prefect_worker("tabflow", prefect.url, tmp_path / "worker", env=env, cwd=PROJECT):
                    out = tabflow(
                        env, tmp_path, "deploy", "train", "--config", str(tmp_path / "train.yaml"), "--interval", "30"
                    )
                    assert "deployed train/profile" in out
                    run = wait_for_completed_run(prefect.url, "train/profile")
                    check_study(env["TABFLOW_OPTUNA_STORAGE"], dask_pids)
                    check_no_secret_in_flow_runs(prefect.url, pg.password)
                    for key in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
                        monkeypatch.setenv(key, env[key])  # MLflow's client reads basic auth from these
                    check_tracking(env, run)
                    check_no_secret_in_logs(tmp_path, {pg.password, tracking.password})

                    rows = load_table("builtin:breast_cancer").drop(columns=["target"]).head(50)
                    rows.assign(row_id=range(50)).to_csv(tmp_path / "rows.csv", index=False)
                    tabflow(
                        env,
                        tmp_path,
                        "deploy",
                        "score",
                        "--model",
                        NAME,
                        "--input",
                        str(tmp_path / "rows.csv"),
                        "--output",
                        str(tmp_path / "scored.parquet"),
                        "--interval",
                        "30",
                    )
                    wait_for_completed_run(prefect.url, "score/profile")
                    scored = pd.read_parquet(tmp_path / "scored.parquet")
                    # key columns of a CSV come out as text (leading zeros kept, one type in every chunk)
                    assert list(scored["row_id"]) == [str(i) for i in range(50)]
                    assert scored["probability"].between(0, 1).all()
                    assert set(scored["model_version"]) == {"1"}


def tabflow(env: dict, cwd: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "tabflow.cli", "--store", str(cwd / "mlruns"), *args],
        env={**os.environ, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def wait_for_completed_run(api_url: str, deployment: str, timeout_s: float = 420):
    """The first run of the deployment that the scheduler created, once it is final; then the deployment is
    deleted so that no further run starts while the servers stop."""
    with temporary_settings(updates={PREFECT_API_URL: api_url}), get_client(sync_client=True) as client:
        dep = client.read_deployment_by_name(deployment)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            runs = client.read_flow_runs(deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[dep.id])))
            final = [r for r in runs if r.state and r.state.is_final() and r.state.name != "Cancelled"]
            if final:
                client.delete_deployment(dep.id)
                run = final[0]
                assert run.state.is_completed(), f"{deployment} run ended {run.state.name}: {run.state.message}"
                assert run.auto_scheduled, "the run should come from the schedule, not from a manual trigger"
                return run
            time.sleep(2)
    raise AssertionError(f"no run of {deployment} finished within {timeout_s:.0f} s")


def check_no_secret_in_flow_runs(api_url: str, secret: str) -> None:
    """Prefect stores every flow run's parameters (its UI and API show them): the Dask subflow's included."""
    with temporary_settings(updates={PREFECT_API_URL: api_url}), get_client(sync_client=True) as client:
        runs = client.read_flow_runs()
    assert any(r.name and r.flow_id for r in runs) and len(runs) >= 2, "the training run and its Dask subflow"
    leaked = [r.name for r in runs if secret in json.dumps(r.parameters, default=str)]
    assert not leaked, f"flow runs whose stored parameters hold the database password: {leaked}"


def check_study(url: str, dask_pids: set[str]) -> None:
    summaries = optuna.get_all_study_summaries(url)
    assert len(summaries) == 1 and summaries[0].study_name.startswith(NAME)
    trials = optuna.load_study(study_name=summaries[0].study_name, storage=url).get_trials()
    assert len([t for t in trials if t.state.is_finished()]) == 4
    workers = {t.user_attrs[WORKER_ATTR] for t in trials}
    assert workers <= dask_pids and len(workers) == 2, f"trials ran on {workers}, Dask workers are {dask_pids}"


def check_tracking(env: dict, run) -> None:
    client = mlflow.MlflowClient(tracking_uri=env["MLFLOW_TRACKING_URI"], registry_uri=env["MLFLOW_TRACKING_URI"])
    experiment = client.get_experiment_by_name(NAME).experiment_id
    parents = client.search_runs([experiment], filter_string="attributes.run_name LIKE 'train-%'")
    assert [p.info.status for p in parents] == ["FINISHED"]
    assert parents[0].data.tags["prefect_flow_run_id"] == str(run.id)
    children = client.search_runs(
        [experiment], filter_string=f"tags.mlflow.parentRunId = '{parents[0].info.run_id}' and tags.kind = 'trial'"
    )
    assert len(children) == 4
    assert client.get_model_version_by_alias(NAME, "champion").version == "1"
    version = client.get_model_version_by_alias(NAME, "champion")
    secrets = {env["MLFLOW_TRACKING_PASSWORD"], env["TABFLOW_OPTUNA_STORAGE"].split(":")[2].split("@")[0]}
    recorded = json.dumps(
        [[r.data.params, r.data.tags] for r in [*parents, *children]] + [version.tags, dict(version.__dict__)],
        default=str,
    )
    assert not [s for s in secrets if s in recorded], "no password in MLflow params, tags or the version"


def check_no_secret_in_logs(root: Path, secrets: set[str]) -> None:
    """Every log the servers and the worker wrote (the flow runs' output included)."""
    logs = [p for p in root.rglob("*.log") if p.is_file()]
    assert logs, "the services write logs under the test's directory"
    leaked = [str(p) for p in logs for s in secrets if s in p.read_text(errors="replace")]
    assert not leaked, f"logs holding a password: {leaked}"
