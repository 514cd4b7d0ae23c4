"""Serving: `tabflow serve` against `mlflow models serve --env-manager local` on the same registered model.

python benchmarks/serving.py STORE MODEL [REQUESTS]  prints one JSON line. Both servers run as separate processes
on 127.0.0.1 and are measured in turns by the same client: sequential single-row requests (latency p50 / p99 and
rows per second), then sequential 1,000-row requests (rows per second). Each server gets a warm-up first.
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(kind: str, store: Path, model: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    uri = f"sqlite:///{store.resolve() / 'mlflow.db'}"
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    if kind == "tabflow":
        cmd = [
            sys.executable,
            "-m",
            "tabflow.cli",
            "--store",
            str(store),
            "serve",
            "--model",
            model,
            "--port",
            str(port),
        ]
    else:
        cmd = [
            sys.executable,
            "-m",
            "mlflow",
            "models",
            "serve",
            "-m",
            f"models:/{model}@champion",
            "--env-manager",
            "local",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            urllib.request.urlopen(f"{url}/ping", timeout=1)
            return proc, url
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"{kind} server did not start")


def post(url: str, body: bytes) -> float:
    req = urllib.request.Request(f"{url}/invocations", data=body, headers={"Content-Type": "application/json"})
    start = time.perf_counter()
    with urllib.request.urlopen(req, timeout=60) as r:
        r.read()
        assert r.status == 200
    return time.perf_counter() - start


def measure(url: str, one: bytes, batch: bytes, requests: int) -> dict:
    for _ in range(20):
        post(url, one)
    single = [post(url, one) for _ in range(requests)]
    batches = [post(url, batch) for _ in range(max(5, requests // 50))]
    return {
        "p50_ms": 1000 * statistics.median(single),
        "p99_ms": 1000 * float(np.quantile(single, 0.99)),
        "single_rows_per_s": requests / sum(single),
        "batch_rows_per_s": 1000 * len(batches) / sum(batches),
    }


def model_size(store: Path, model: str) -> dict:
    """The champion's files: the whole logged model, and its network (every fold network in one .keras file)."""
    import tempfile

    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{store.resolve() / 'mlflow.db'}")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(mlflow.artifacts.download_artifacts(f"models:/{model}@champion", dst_path=tmp))
        files = [f for f in path.rglob("*") if f.is_file()]
        return {
            "model_mb": sum(f.stat().st_size for f in files) / 2**20,
            "network_mb": sum(f.stat().st_size for f in files if f.name == "network.keras") / 2**20,
        }


def main() -> None:
    from tabflow.data.read import load_table

    store, model = Path(sys.argv[1]), sys.argv[2]
    requests = int(sys.argv[3]) if len(sys.argv) > 3 else 500
    rows = load_table("builtin:breast_cancer").drop(columns=["target"])
    one = json.dumps({"dataframe_split": rows.head(1).to_dict(orient="split")}).encode()
    big = rows.sample(1000, replace=True, random_state=0)
    batch = json.dumps({"dataframe_split": big.to_dict(orient="split")}).encode()
    out = {"model": model_size(store, model)}
    for kind in ("mlflow", "tabflow"):
        proc, url = start(kind, store, model)
        try:
            out[kind] = measure(url, one, batch, requests)
        finally:
            proc.kill()
            proc.wait()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
