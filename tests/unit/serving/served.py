"""`tabflow serve`'s app in-process (FastAPI's TestClient, no uvicorn), over a real one-epoch tabflow model @champion
on a SQLite store: the helpers the serving tests share (the `store` fixture is in conftest.py)."""

from contextlib import contextmanager

import mlflow
import pytest

from tabflow import settings, tracking
from tabflow.model.inputs import prepare
from tabflow.model.network import MLPParams, fit_network
from tabflow.serving import pyfunc
from tests.helpers import saved_uris

NAME = "served"


def make_store(tmp_path_factory, splits, task: str | None = None, after=None):
    """(store, splits): version 1 of NAME @champion, a real one-epoch tabflow model on a SQLite store; `task` and
    `after` (tabflow.model.calibrate.After) log it as another task or with a threshold or an interval."""
    store = tmp_path_factory.mktemp("serve") / "store"
    restore = saved_uris()  # the global URIs as they are, to restore them at the end
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        try:
            tracking.configure(store)
            client = mlflow.MlflowClient()
            experiment = tracking.experiment_id(client, NAME, store)
            run_id = tracking.start_run(client, experiment, "fit")
            data = prepare(splits)
            network, _ = fit_network(MLPParams(width=4, depth=1), data, epochs=1, seed=0)
            task = task or splits.task
            classes = splits.classes if task != "regression" else ()
            info = pyfunc.log_model(
                network, data.preprocessor, splits.x("train"), splits.roles, classes, run_id, task, after
            )
            version = mlflow.register_model(info.model_uri, NAME, tags={"task": splits.task})
            client.set_registered_model_alias(NAME, tracking.CHAMPION, version.version)
            yield store, splits
        finally:
            restore()


@contextmanager
def env(store, **settings_):
    """The environment create_app reads, for these ServeSettings (the watcher thread stays asleep)."""
    from tabflow.serving.http import ServeSettings

    serve = ServeSettings(model=NAME, store=str(store), poll_s=3600, allowed_hosts=("testserver",), **settings_)
    restore = saved_uris()
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        mp.delenv(settings.WEBHOOK_SECRET, raising=False)
        mp.delenv(settings.SERVE_TOKEN, raising=False)
        mp.setenv(settings.SERVE, serve.model_dump_json())
        try:
            yield mp
        finally:
            restore()


@contextmanager
def app(store, **settings_):
    """A TestClient of `tabflow serve`'s app with these ServeSettings."""
    from fastapi.testclient import TestClient  # here, not at import: its warning is filtered in tests

    from tabflow.serving.http import create_app

    with env(store, **settings_), TestClient(create_app()) as http:
        yield http
