"""Environment variable names and runtime knobs, in one place.

Nothing here reads the environment at import: commands and flows read it when they start. The numbers behind
the speed and memory knobs are in benchmarks/RESULTS.md.
"""

from __future__ import annotations

import os
from pathlib import Path

# The server profile: set these and the same commands run against real servers (README, "server profile").
OPTUNA_STORAGE = "TABFLOW_OPTUNA_STORAGE"  # the study database shared by trial workers, e.g. postgresql+psycopg2://
DASK_ADDRESS = "TABFLOW_DASK_ADDRESS"  # trials on this Dask scheduler's workers
WEBHOOK_SECRET = "TABFLOW_WEBHOOK_SECRET"  # signs MLflow's alias webhooks; enables POST /hooks/mlflow
TRACKING_URI = "MLFLOW_TRACKING_URI"  # MLflow's own: a tracking server instead of the local store
REGISTRY_URI = "MLFLOW_REGISTRY_URI"  # MLflow's own: a registry apart from tracking (tabflow uses one for both)
PREFECT_API_URL = "PREFECT_API_URL"  # Prefect's own: a Prefect server instead of a temporary one
PREFECT_HOME = "PREFECT_HOME"  # Prefect's own: its state (tabflow keeps it in ./.prefect)

# tabflow serve's settings (tabflow.serving.http.ServeSettings as JSON), handed from the CLI to each uvicorn
# worker process through the environment.
SERVE = "TABFLOW_SERVE"
SERVE_TOKEN = "TABFLOW_SERVE_TOKEN"  # the bearer token of tabflow serve, when --auth-token-file is not given
FAILPOINT = "TABFLOW_FAILPOINT"  # the kill tests' SIGKILL point (tabflow.failpoints); never set in production

# Secrets tabflow reads; one still holding docker/.env.example's placeholder stops a command at start.
SECRETS = ("MLFLOW_TRACKING_PASSWORD", OPTUNA_STORAGE, "PREFECT_API_AUTH_STRING", SERVE_TOKEN, WEBHOOK_SECRET)
PLACEHOLDER = "change-me"


def placeholders(env: dict[str, str]) -> list[str]:
    """The secrets in `env` that still hold the example's placeholder (a guessable password in production)."""
    return [name for name in SECRETS if PLACEHOLDER in env.get(name, "")]


# Data rules.
MAX_COLUMNS = 2_000  # a wider table is refused: select its columns first (each costs the network width)
MAX_CLASSES = 20  # an integer target with more distinct values is a quantity (regression), not classes
CATEGORICAL_INT_MAX = 10  # integer feature columns with at most this many values are codes, not quantities
MIN_COUNT = 5  # a category seen fewer times in training shares the "other" code: too rare to learn from
ONE_HOT_MAX = 16  # a column with up to this many codes enters the network one-hot; a larger one is embedded
IMBALANCED = 0.5  # class_weight "auto" weights classes when the rarest has under this share of the most common

# Speed and memory.
CHUNK_ROWS = 100_000  # rows transformed or scored at once: intermediates stay a bounded size
SMALL_REQUEST = 100  # rows; up to this many, serving replays the preprocessing in numpy (tabflow.features.replay)
CHUNK_CELLS = 250_000  # bootstrap resamples x rows at once: the count matrix stays in cache
CALIBRATION_ROWS = 200  # held-out rows below which no temperature is fitted: too few to trust a sharpening
IMPORTANCE_COLUMNS = 100  # columns up to which a run measures permutation importance on the test rows
SAMPLE_ROWS = 200  # test rows the servability check scores
UI_PORT = 5000  # tabflow ui's default port: the links a run prints point there
SERVE_REGISTRY_RETRIES = 1  # MLflow client retries per registry request in tabflow serve (MLflow's default: 7)
SERVE_REGISTRY_TIMEOUT_S = 30  # seconds per registry request in tabflow serve (MLflow's default: 120)
SERVECHECK_S = 600  # seconds a servability check may take (a first load imports TensorFlow)
HEARTBEAT_S = 30  # Optuna heartbeat on a study database: a dead worker's trial is failed and retried
MAX_REJUDGE = 3  # times a challenger is judged again when the champion moves while it is being decided
MAX_SHOWN_CATEGORIES = 1000  # categories per column listed in a model's data contract


def unwritable(store: Path) -> str | None:
    """Why the store (or a tracking server's local caches) cannot be written, or None: checked before a run
    starts, so that it fails in a line and not halfway through."""
    try:
        store.mkdir(parents=True, exist_ok=True)
        probe = store / f".write-probe-{os.getpid()}"
        probe.touch()
        probe.unlink()
    except OSError as exc:
        return f"cannot write to the store {str(store)!r} ({exc.strerror}); choose a writable --store"
    return None


def runtime_defaults(store: Path, prefect_home: Path) -> dict[str, str]:
    """Environment that keeps Prefect, MLflow and Keras state out of $HOME and their chatter off the terminal.

    It must be in place before they are imported (Prefect reads its settings at import).
    """
    prefect_home.mkdir(parents=True, exist_ok=True)  # Prefect fails on a home whose parent is missing
    return {
        "PREFECT_HOME": str(prefect_home),
        "PREFECT_LOGGING_LEVEL": "WARNING",
        "PREFECT_LOGGING_TO_API_ENABLED": "false",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_REGISTER_BLOCKS_ON_START": "false",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
        "KERAS_HOME": str(store.resolve() / ".keras"),
        "MPLCONFIGDIR": str(store.resolve() / ".matplotlib"),
        "MLFLOW_LOGGING_LEVEL": "WARNING",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        # oneDNN's reordered float sums make results differ between CPUs, and it prints a notice at import.
        "TF_ENABLE_ONEDNN_OPTS": "0",
        "GIT_PYTHON_REFRESH": "quiet",
    }
