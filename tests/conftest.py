"""Quiet, project-local settings for every test, set before Prefect, MLflow or TensorFlow are imported."""

import os
import tempfile
from pathlib import Path

from tabflow.settings import runtime_defaults

_SESSION_DIR = Path(tempfile.mkdtemp(prefix="tabflow-tests-"))
for _key, _value in runtime_defaults(_SESSION_DIR / "store", _SESSION_DIR / "prefect").items():
    os.environ.setdefault(_key, _value)
os.environ.pop("MLFLOW_TRACKING_URI", None)  # each test points MLflow at its own store under tmp_path
os.environ.pop("MLFLOW_REGISTRY_URI", None)
os.environ.pop("PREFECT_API_URL", None)  # the flow tests start their own temporary Prefect server

import pandas as pd  # noqa: E402  after the settings above: these pull in scikit-learn
import pytest  # noqa: E402

from tabflow.config import SplitConfig  # noqa: E402
from tabflow.data import clean, read  # noqa: E402
from tabflow.data.split import split  # noqa: E402


@pytest.fixture(scope="session")
def raw() -> pd.DataFrame:
    return read.load_table("builtin:breast_cancer")


@pytest.fixture(scope="session")
def splits(raw):
    table = clean.clean_table(raw, "target", SplitConfig(), read.digest_frame(raw))
    return split(table, SplitConfig(), seed=42)


@pytest.fixture(scope="module")
def empty_mlflow_db(tmp_path_factory) -> Path:
    """An MLflow SQLite database with its tables made once per module: creating them costs seconds a store, so
    tests copy this file instead."""
    import mlflow

    path = tmp_path_factory.mktemp("template") / "mlflow.db"
    uri = f"sqlite:///{path}"
    mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri).search_experiments()
    return path
