"""No secret travels inside a flow-run parameter: Prefect stores parameters and shows them in its UI and API."""

import json
from pathlib import Path

from flows import training
from tabflow import settings
from tabflow.runs.context import RunContext
from tests.helpers import tiny_config

SENTINEL = "Sentinel-Passw0rd-4711"


def test_the_dask_subflow_stores_no_study_database_password(monkeypatch, splits):
    monkeypatch.setenv(settings.OPTUNA_STORAGE, f"postgresql+psycopg2://tabflow:{SENTINEL}@db:5432/optuna")
    run = RunContext(
        store=Path("/tmp/store"),
        tracking_uri="sqlite:////tmp/store/mlflow.db",
        experiment_id="1",
        parent_run_id="abc",
        cfg=tiny_config(),
    )
    stored = training._tune_shared.serialize_parameters({"splits": splits, "run": run, "address": "tcp://h:8786"})
    assert SENTINEL not in json.dumps(stored, default=str), (
        "the Dask subflow's parameters (what Prefect stores) must not hold the study database's password"
    )
