"""Quiet, project-local settings for every test, set before Prefect, MLflow or TensorFlow are imported."""

import os
import tempfile
from pathlib import Path

from tabflow.cli import runtime_defaults

_SESSION_DIR = Path(tempfile.mkdtemp(prefix="tabflow-tests-"))
for _key, _value in runtime_defaults(_SESSION_DIR / "store", _SESSION_DIR / "prefect").items():
    os.environ.setdefault(_key, _value)
os.environ.pop("MLFLOW_TRACKING_URI", None)  # each test points MLflow at its own store under tmp_path
os.environ.pop("PREFECT_API_URL", None)  # the flow tests start their own temporary Prefect server
