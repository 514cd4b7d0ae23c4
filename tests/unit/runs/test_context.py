"""The parent run: FINISHED on success, FAILED on any error, with its config logged; orphans closed."""

import json
import socket
import subprocess
import sys

import pytest

from tabflow import tracking
from tabflow.runs.context import tracked_run
from tests.helpers import client_for, saved_uris, tiny_config


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    restore = saved_uris()  # not mlflow.set_tracking_uri at teardown: it exports the URI to every later test
    yield tmp_path / "mlruns"
    restore()


def test_a_run_that_finishes_is_finished_and_keeps_its_config(store):
    cfg = tiny_config(model_name="ctx", gate={"margin": 0.03})
    with tracked_run(cfg, store, {"prefect_flow_run_id": "f-1"}) as ctx:
        run_id = ctx.parent_run_id
    run = client_for(store).get_run(run_id)
    assert run.info.status == "FINISHED" and run.data.tags["prefect_flow_run_id"] == "f-1"
    assert run.data.params["gate.margin"] == "0.03" and run.data.tags["config_hash"] == cfg.digest()
    logged = json.loads((store / "artifacts" / "ctx" / run_id / "artifacts" / tracking.CONFIG).read_text())
    assert logged["gate"]["margin"] == 0.03, "the validated config is an artifact: `tabflow promote` reads it"


def test_a_run_that_fails_is_failed(store):
    started = []

    def fail_inside() -> None:
        with tracked_run(tiny_config(model_name="ctx"), store, {}) as ctx:
            started.append(ctx.parent_run_id)
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        fail_inside()
    (run_id,) = started
    assert client_for(store).get_run(run_id).info.status == "FAILED", "an error marks the parent run FAILED"


def test_runs_left_running_by_a_dead_process_are_closed(store):
    with tracked_run(tiny_config(model_name="ctx"), store, {}) as ctx:
        client = client_for(store)
        orphan = tracking.start_run(client, ctx.experiment_id, "orphan", tags={"worker": "nohost:1"})
        gone = subprocess.Popen([sys.executable, "-c", "pass"])
        gone.wait()
        dead = tracking.start_run(
            client, ctx.experiment_id, "dead", tags={"worker": f"{socket.gethostname()}:{gone.pid}"}
        )
    with tracked_run(tiny_config(model_name="ctx"), store, {}):
        pass
    assert client.get_run(dead).info.status == "KILLED", "a run of a dead process on this host is closed"
    assert client.get_run(orphan).info.status == "RUNNING", "a run of another host is left alone"
