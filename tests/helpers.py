"""Helpers shared by test modules (pytest advises against importing from a conftest)."""

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd

from tabflow.cli.local_prefect import free_port
from tabflow.config import PipelineConfig
from tabflow.promotion.gate import Floor, Rules

__all__ = ["AUC", "client_for", "frame", "free_port", "tiny_config"]

TINY = {"tune": {"n_trials": 3, "max_epochs": 3}, "train": {"folds": 2}}


def tiny_config(**overrides) -> PipelineConfig:
    raw = {"data": {"source": "builtin:breast_cancer"}, **TINY, **overrides}
    return PipelineConfig.model_validate(raw)


def client_for(store: Path) -> mlflow.MlflowClient:
    uri = f"sqlite:///{store.resolve() / 'mlflow.db'}"
    return mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)


def frame(n_a: int, n_b: int) -> pd.DataFrame:
    return pd.DataFrame({"x": np.arange(n_a + n_b, dtype=float), "y": ["a"] * n_a + ["b"] * n_b})


AUC = Rules("auc", Floor(0.8), margin=0.01)


def pointed_at(uri: str) -> Callable[[], None]:
    """Set MLflow's global URIs; return a function that restores them and MLFLOW_TRACKING_URI (which
    set_tracking_uri exports for child processes)."""
    restore = saved_uris()
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return restore


def saved_uris() -> Callable[[], None]:
    """A function that puts MLflow's global URIs and MLFLOW_TRACKING_URI back as they are now. It sets nothing
    itself: a fixture that set them here would export MLFLOW_TRACKING_URI, and a monkeypatch.delenv in the test
    would then restore that export after the fixture had removed it (every later flow then wrote to cwd)."""
    previous, exported = (mlflow.get_tracking_uri(), mlflow.get_registry_uri()), os.environ.get("MLFLOW_TRACKING_URI")

    def restore() -> None:
        mlflow.set_tracking_uri(previous[0])
        mlflow.set_registry_uri(previous[1])
        if exported is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = exported

    return restore


@contextlib.contextmanager
def mlflow_pointed_at(uri: str) -> Iterator[None]:
    """MLflow's global URIs at `uri` for the block, restored after it."""
    restore = pointed_at(uri)
    try:
        yield
    finally:
        restore()


def mixed_frame(n: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    price = [f"{v:.2f}" for v in rng.uniform(1, 100, n)]
    price[3] = "abc"
    return pd.DataFrame(
        {
            "num": rng.normal(size=n),
            "code": rng.integers(0, 4, n),
            "row_number": np.arange(n),
            "customer_id": rng.permutation(n) * 7 + 1000,
            "city": rng.choice(["Oslo", "Lima", "Pune", None], n),
            "flag": rng.integers(0, 2, n).astype(bool),
            "when": pd.date_range("2024-01-01", periods=n, freq="37h").strftime("%Y-%m-%d %H:%M"),
            "note": [f"free text number {i} here" for i in range(n)],
            "price": price,
            "const": 5,
            "y": ["a", "b"] * (n // 2),
        }
    )
