"""MLflow set-up, batched logging through MlflowClient with explicit run ids (no thread-local active run), and
registry look-ups (which version an alias or a reference names)."""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from importlib import metadata
from pathlib import Path

import pandas as pd
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID, MLFLOW_RUN_NAME

from tabflow import settings
from tabflow.errors import TabflowError

STACK = ("tensorflow-cpu", "tensorflow", "keras", "mlflow", "prefect", "optuna", "scikit-learn", "pandas", "numpy")


def tracking_uri(store: Path) -> str:
    """The standard MLFLOW_TRACKING_URI when set, else a SQLite file inside the local store (absolute path)."""
    return os.environ.get(settings.TRACKING_URI) or f"sqlite:///{store.resolve() / 'mlflow.db'}"


def is_local(uri: str) -> bool:
    return uri.startswith(("sqlite:", "file:")) or "://" not in uri


def configure(store: Path) -> str:
    """Point MLflow (tracking and registry) at the store; returns the URI in use."""
    import mlflow

    uri = tracking_uri(store)
    if is_local(uri) and (problem := settings.unwritable(store)):
        raise TabflowError(problem)
    users = {name: os.environ.get(name) for name in (settings.TRACKING_URI, settings.REGISTRY_URI)}
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    # Both calls also export their variable; undo that, or the next flow run in this process (and every process
    # it starts) would take this store for the user's choice and ignore its own.
    for name, value in users.items():
        if value is None:
            os.environ.pop(name, None)
    return uri


EXPERIMENT_KIND = "mlflow.experimentKind"  # MLflow 3's UI: which kind of work an experiment holds
NOTE = "mlflow.note.content"  # the description the MLflow UI shows on an experiment or a run


def experiment_id(client: MlflowClient, name: str, store: Path, note: str | None = None) -> str:
    """One experiment per model name, tagged as model training with a description (`note`, else what training
    runs hold); on a local store its artifacts sit beside the database, never in cwd."""
    found = client.get_experiment_by_name(name)
    if found:
        experiment = found.experiment_id
        if found.tags.get(EXPERIMENT_KIND):
            return experiment
    else:
        location = (store.resolve() / "artifacts" / name).as_uri() if is_local(client.tracking_uri) else None
        experiment = client.create_experiment(name, artifact_location=location)
    client.set_experiment_tag(experiment, EXPERIMENT_KIND, "custom_model_development")
    client.set_experiment_tag(
        experiment,
        NOTE,
        note
        or f"tabflow's training runs for the model `{name}`: one parent run per `tabflow run` (data, splits, "
        "baselines, test metrics, the decision and its reason in its description), with a child run per Optuna "
        f"trial and one for the final fit. Versions are registered as `{name}`; `champion` is what serves.",
    )
    return experiment


def ui_link(uri: str, experiment: str, run: str | None = None, port: int = settings.UI_PORT) -> str:
    """The MLflow UI page of an experiment's training runs, or of one run, in the view for model training (MLflow
    3 opens on its GenAI view otherwise). A local store's UI is the one `tabflow ui` starts; a server's address
    loses any user:password it holds."""
    from urllib.parse import urlsplit

    if uri.startswith(("http://", "https://")):
        parts = urlsplit(uri)
        base = f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}{parts.path.rstrip('/')}"
    else:
        base = f"http://127.0.0.1:{port}"
    page = f"#/experiments/{experiment}" + (f"/runs/{run}" if run else "")
    return f"{base}/{page}?workflowType=machine_learning"


def start_run(
    client: MlflowClient,
    experiment: str,
    name: str,
    parent: str | None = None,
    tags: dict | None = None,
    start_time: float | None = None,
) -> str:
    """A run; `start_time` (epoch seconds) for one written after the fact, so the UI shows its true duration."""
    tags = {MLFLOW_RUN_NAME: name, **{k: str(v) for k, v in (tags or {}).items()}}  # a tracking server wants text
    if parent:
        tags[MLFLOW_PARENT_RUN_ID] = parent
    millis = int(start_time * 1000) if start_time else None
    return client.create_run(experiment, run_name=name, tags=tags, start_time=millis).info.run_id


def log_all(
    client: MlflowClient,
    run_id: str,
    metrics: dict[str, float] | None = None,
    history: dict[str, list[float]] | None = None,
    params: dict | None = None,
    tags: dict | None = None,
) -> None:
    """Everything in one log_batch call per 1,000 values: one call is about as cheap as a single log_metric."""
    now = int(time.time() * 1000)
    rows = [Metric(k, float(v), now, 0) for k, v in (metrics or {}).items()]
    for key, values in (history or {}).items():
        rows += [Metric(key, float(v), now, step) for step, v in enumerate(values)]
    ps = [Param(k, str(v)) for k, v in (params or {}).items()]
    ts = [RunTag(k, str(v)) for k, v in (tags or {}).items()]
    for start in range(0, max(len(rows), 1), 1000):  # MLflow caps a batch at 1,000 metrics
        first = start == 0
        client.log_batch(
            run_id, metrics=rows[start : start + 1000], params=ps if first else [], tags=ts if first else []
        )


def git_state(cwd: Path | None = None) -> dict[str, str]:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=5, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return {"git_commit": "unknown"}
    return {"git_commit": commit, "git_dirty": str(bool(dirty)).lower()}


def package_versions() -> dict[str, str]:
    versions = {}
    for name in STACK:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def flatten(tree: dict, prefix: str = "") -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def prefixed(prefix: str, scores: dict[str, float]) -> dict[str, float]:
    return {f"{prefix}{k}": v for k, v in scores.items()}


def log_frame(client: MlflowClient, run_id: str, frame: pd.DataFrame, path: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(tmp) / Path(path).name
        frame.to_parquet(local)
        client.log_artifact(run_id, str(local), str(Path(path).parent))


CHAMPION = "champion"  # the alias deployments pull
TEST_ROWS = "data/test.parquet"  # on the parent run: `tabflow promote` judges a version again on them
CONFIG = "config.json"  # on the parent run: the validated config, so a version is judged by its own gate
CARD = "model_card.md"  # on the parent run: the model card of the version it registered


def champion_version(client: MlflowClient, name: str) -> str | None:
    return alias_version(client, name, CHAMPION)


def alias_version(client: MlflowClient, name: str, alias: str) -> str | None:
    """None when there is no such model or alias yet; a registry that fails (unreachable, 5xx, 401) raises."""
    try:
        return str(client.get_model_version_by_alias(name, alias).version)
    except MlflowException as exc:
        if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            return None
        raise


def resolve(client: MlflowClient, ref: str) -> tuple[str, str]:
    """NAME, NAME@alias or NAME/version -> (name, version); NAME alone means its champion (or newest version)."""
    if "'" in ref or "\\" in ref:  # it goes into a search filter: no quoting games (model names never hold them)
        raise TabflowError(f"no model version {ref!r}: a model name holds letters, digits, '_', '.' and '-'")
    try:
        if "@" in ref:
            name, alias = ref.split("@", 1)
            return name, str(client.get_model_version_by_alias(name, alias).version)
        if "/" in ref:
            name, version = ref.rsplit("/", 1)
            return name, str(client.get_model_version(name, version).version)
        versions = client.search_model_versions(f"name = '{ref}'")
    except MlflowException:
        raise TabflowError(
            f"no model version {ref!r}; give NAME, NAME@alias or NAME/VERSION of a registered model"
        ) from None
    if not versions:
        raise TabflowError(f"no registered model {ref!r}; run `tabflow run` first or check the name")
    return ref, champion_version(client, ref) or str(max(int(v.version) for v in versions))
