"""Flow tests run the real flow on the embedded stack: a temporary Prefect server, SQLite MLflow, Optuna journal."""

from pathlib import Path

import mlflow
import pytest
from prefect.testing.utilities import prefect_test_harness

from tabflow.config import PipelineConfig

TINY = {"tune": {"n_trials": 3, "max_epochs": 3}, "train": {"max_epochs": 3, "patience": 2}}


@pytest.fixture(scope="session", autouse=True)
def prefect_server():
    """One temporary Prefect server (its own database) for the session: starting one costs 10-30 s."""
    with prefect_test_harness(server_startup_timeout=180):
        yield


def tiny_config(**overrides) -> PipelineConfig:
    raw = {"data": {"source": "builtin:breast_cancer"}, **TINY, **overrides}
    return PipelineConfig.model_validate(raw)


def client_for(store: Path) -> mlflow.MlflowClient:
    uri = f"sqlite:///{store.resolve() / 'mlflow.db'}"
    return mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)

