"""`tabflow serve` against an MLflow server, with a model `tabflow run` trained and registered there (twice: the
same logged model as versions 1 and 2):
- with `--webhook-url`, the MLflow server calls it when the alias moves, and the swap follows at once (the poll
  interval is ten minutes there, so only the webhook can explain a swap within seconds);
- with the registry stopped, it answers every request with the model it has, logs the outage once rather than
  once a poll, and swaps when the registry is back.
"""

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

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


@dataclass
class Registry:
    tracking: servers.Server
    client: mlflow.MlflowClient
    env: dict[str, str]
    root: Path


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("serving")
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
        # MLFLOW_TRACKING_URI, which is removed after, as the finally restores the global URIs
        previous = mlflow.get_tracking_uri(), mlflow.get_registry_uri()  # earlier tests may have set both
        os.environ["MLFLOW_TRACKING_URI"] = tracking.url
        mlflow.set_tracking_uri(tracking.url)
        mlflow.set_registry_uri(tracking.url)
        try:
            second = mlflow.register_model(first.source, "hooked")  # the same logged model, as version 2
        finally:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
            mlflow.set_tracking_uri(previous[0])
            mlflow.set_registry_uri(previous[1])
        assert second.version == "2"
        yield Registry(tracking, client, env, tmp_path)


def serve(reg: Registry, log: str, port: int, *flags: str) -> subprocess.Popen:
    command = [sys.executable, "-m", "tabflow.cli", "--store", str(reg.root / "mlruns"), "serve", "--model"]
    return subprocess.Popen(
        [*command, "hooked", "--port", str(port), *flags],
        env=reg.env,
        cwd=reg.root,
        stderr=subprocess.STDOUT,
        stdout=open(reg.root / log, "w"),  # closed with the process at the end
    )


def other(version: str) -> str:
    return "2" if version == "1" else "1"


def test_an_alias_move_reaches_the_server_through_mlflows_webhook(registry):
    port = servers.free_port()
    url = f"http://127.0.0.1:{port}"
    champion = registry.client.get_model_version_by_alias("hooked", "champion").version
    proc = serve(registry, "serve-hooked.log", port, "--poll", "600", "--webhook-url", f"{url}/hooks/mlflow")
    log = registry.root / "serve-hooked.log"
    try:
        assert until(lambda: metadata(url)["version"] == champion, 180), log.read_text()[-2000:]
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
        registry.client.set_registered_model_alias("hooked", "champion", other(champion))
        assert until(lambda: metadata(url)["version"] == other(champion), 60), (
            f"the webhook did not arrive:\n{log.read_text()[-1500:]}\n{registry.tracking.logs[0].read_text()[-3000:]}"
        )
        assert time.monotonic() - moved < 60 < 600, "swapped long before the next poll"
    finally:
        proc.kill()
        proc.wait()


def test_with_the_registry_down_it_serves_on_logs_once_and_swaps_when_it_is_back(registry):
    port = servers.free_port()
    url = f"http://127.0.0.1:{port}"
    champion = registry.client.get_model_version_by_alias("hooked", "champion").version
    proc = serve(registry, "serve-outage.log", port, "--poll", "1")
    log = registry.root / "serve-outage.log"
    try:
        assert until(lambda: metadata(url)["version"] == champion, 180), log.read_text()[-2000:]
        registry.tracking.stop()
        assert until(lambda: health(url)["registry_ok"] is False, 30), log.read_text()[-2000:]
        answers = [predict(url) for _ in range(40) if not time.sleep(0.25)]  # ten seconds: ten polls fail
        assert all(status == 200 and version == champion for status, version in answers), answers
        outage = log.read_text().count("could not read @champion")
        assert outage == 1, f"the outage is logged once a minute, not once a poll:\n{log.read_text()[-3000:]}"

        registry.tracking.restart()
        registry.client.set_registered_model_alias("hooked", "champion", other(champion))
        assert until(lambda: metadata(url)["version"] == other(champion), 60), log.read_text()[-2000:]
        assert health(url)["registry_ok"] is True and "the registry is back" in log.read_text()
    finally:
        proc.kill()
        proc.wait()


def predict(url: str) -> tuple[int, str | None]:
    from sklearn.datasets import load_breast_cancer

    row = load_breast_cancer(as_frame=True).data.iloc[:1].to_dict("split")
    body = json.dumps({"dataframe_split": {"columns": row["columns"], "data": row["data"]}}).encode()
    request = urllib.request.Request(f"{url}/invocations", data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            return r.status, r.headers.get("x-model-version")
    except urllib.error.HTTPError as exc:
        return exc.code, None


def health(url: str) -> dict:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=5) as r:
            return json.loads(r.read())
    except OSError:
        return {"registry_ok": None}


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
