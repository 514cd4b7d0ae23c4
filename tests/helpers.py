"""Helpers shared by test modules (pytest advises against importing from a conftest)."""

from pathlib import Path

import mlflow
import numpy as np
import pandas as pd

from tabflow.cli.local_prefect import free_port
from tabflow.config import PipelineConfig
from tabflow.promotion.gate import Floor, Rules

__all__ = ["AUC", "client_for", "frame", "free_port", "tiny_config"]

TINY = {"tune": {"n_trials": 3, "max_epochs": 3}, "train": {"max_epochs": 3, "patience": 2}}


def tiny_config(**overrides) -> PipelineConfig:
    raw = {"data": {"source": "builtin:breast_cancer"}, **TINY, **overrides}
    return PipelineConfig.model_validate(raw)


def client_for(store: Path) -> mlflow.MlflowClient:
    uri = f"sqlite:///{store.resolve() / 'mlflow.db'}"
    return mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)


def frame(n_a: int, n_b: int) -> pd.DataFrame:
    return pd.DataFrame({"x": np.arange(n_a + n_b, dtype=float), "y": ["a"] * n_a + ["b"] * n_b})


AUC = Rules("auc", Floor(0.8), margin=0.01)
