"""`tabflow serve --webhook-url`: the MLflow server calls it when the alias moves, and the swap follows at once
(the poll interval is ten minutes here, so only the webhook can explain a swap within seconds)."""

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

import mlflow
import pytest

from tabflow.settings import runtime_defaults
from tests.system import servers

CONFIG = """
data: {source: "builtin:breast_cancer"}
model_name: hooked
tune: {n_trials: 2, max_epochs: 2}
"""
SECRET = "a-webhook-secret-for-tests"


def test_an_alias_move_reaches_the_server_through_mlflows_webhook(tmp_path, monkeypatch):
    (tmp_path / "run.yaml").write_text(CONFIG)
    # what an MLflow server needs to call a plain-http server on this machine; and the webhook list is cached
    # for 60 s by default: the promotion by `tabflow run` filled that cache before the webhook existed
    hooks = {
        "MLFLOW_WEBHOOK_ALLOWED_SCHEMES": "http,https",
        "MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS": "true",
        "MLFLOW_WEBHOOK_CACHE_TTL": "1",
    }
    with servers.mlflow_server(
        f"sqlite:///{tmp_path / 'mlflow.db'}", tmp_path / "artifacts", tmp_path / "mlflow", env=hooks
    ) as tracking:
        env = {
            **os.environ,
            **runtime_defaults(tmp_path / "mlruns", tmp_path / ".prefect"),
            "MLFLOW_TRACKING_URI": tracking.url,
            "TABFLOW_WEBHOOK_SECRET": SECRET,
        }
        env.pop("PREFECT_API_URL", None)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "tabflow.cli",
                "--store",
                str(tmp_path / "mlruns"),
                "run",
                "--config",
                str(tmp_path / "run.yaml"),
            ],
            env=env,
            cwd=tmp_path,
            check=True,
            capture_output=True,
            timeout=600,
        )
        client = mlflow.MlflowClient(tracking_uri=tracking.url, registry_uri=tracking.url)
        first = client.get_model_version("hooked", "1")
        # register_model reads the global URIs (a models:/m-... source needs them); set_tracking_uri also exports
        # MLFLOW_TRACKING_URI, which monkeypatch removes after the test, as the finally restores the global URIs
        previous = mlflow.get_tracking_uri(), mlflow.get_registry_uri()  # earlier tests may have set both
        monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking.url)
        mlflow.set_tracking_uri(tracking.url)
        mlflow.set_registry_uri(tracking.url)
        try:
            second = mlflow.register_model(first.source, "hooked")  # the same logged model, as version 2
        finally:
            mlflow.set_tracking_uri(previous[0])
            mlflow.set_registry_uri(previous[1])
        assert second.version == "2"

        port = servers.free_port()
        url = f"http://127.0.0.1:{port}"
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tabflow.cli",
                "--store",
                str(tmp_path / "mlruns"),
                "serve",
                "--model",
                "hooked",
                "--port",
                str(port),
                "--poll",
                "600",
                "--webhook-url",
                f"{url}/hooks/mlflow",
            ],
            env=env,
            cwd=tmp_path,
            stderr=subprocess.STDOUT,
            stdout=open(tmp_path / "serve.log", "w"),  # noqa: SIM115  closed with the process at the end
        )
        try:
            assert until(lambda: metadata(url)["version"] == "1", 180), (tmp_path / "serve.log").read_text()[-2000:]
            forged = urllib.request.Request(
                f"{url}/hooks/mlflow",
                data=b"{}",
                method="POST",
                headers={
                    "x-mlflow-signature": "v1,AAAA",
                    "x-mlflow-delivery-id": "x",
                    "x-mlflow-timestamp": str(int(time.time())),
                },
            )
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(forged, timeout=5)
            assert refused.value.code == 401, "a delivery without the right signature must be refused"

            moved = time.monotonic()
            client.set_registered_model_alias("hooked", "champion", second.version)
            assert until(lambda: metadata(url)["version"] == second.version, 60), (
                "the webhook did not arrive:\n"
                + (tmp_path / "serve.log").read_text()[-1500:]
                + "\n"
                + tracking.logs[0].read_text()[-3000:]
            )
            assert time.monotonic() - moved < 60 < 600, "swapped long before the next poll"
        finally:
            proc.kill()
            proc.wait()


def metadata(url: str) -> dict:
    try:
        with urllib.request.urlopen(f"{url}/metadata", timeout=5) as r:
            return json.loads(r.read())
    except OSError:
        return {"version": None}


def until(check, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.5)
    return False
