"""Load during swaps: 8 concurrent clients send one-row requests to `tabflow serve` for 60 s while `champion` moves
three times and a broken version is refused in between.

python benchmarks/load.py STORE MODEL [SECONDS] [CLIENTS]  prints one JSON line: requests served, failed requests,
latency p50 / p99, and the versions that answered. The moves register copies of the champion (same files) as new
versions, plus one version whose network file is corrupt; the server must follow each move, refuse the broken one
while the old version serves on, and fail no request.
"""

from __future__ import annotations

import json
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
from serving import start


def main() -> None:
    store, model = Path(sys.argv[1]), sys.argv[2]
    seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 60.0
    clients = int(sys.argv[4]) if len(sys.argv) > 4 else 8
    import mlflow

    uri = f"sqlite:///{store.resolve() / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    client = mlflow.MlflowClient()
    champion = client.get_model_version_by_alias(model, "champion")
    body = json.dumps({"dataframe_split": example(champion.source)}).encode()
    proc, url = start("tabflow", store, model)
    latencies: list[float] = []
    failures: list[str] = []
    versions: set[str] = set()
    stop = threading.Event()

    def run() -> None:
        while not stop.is_set():
            req = urllib.request.Request(f"{url}/invocations", data=body, headers={"Content-Type": "application/json"})
            began = time.perf_counter()
            try:
                with urllib.request.urlopen(req, timeout=30) as answer:
                    answer.read()
                    versions.add(answer.headers.get("X-Model-Version"))
                latencies.append(time.perf_counter() - began)
            except (urllib.error.URLError, OSError) as exc:
                failures.append(str(exc)[:100])

    threads = [threading.Thread(target=run) for _ in range(clients)]
    try:
        for t in threads:
            t.start()
        moves, refused = swaps(client, model, champion, url, seconds)
        stop.set()
        for t in threads:
            t.join()
    finally:
        proc.kill()
        client.set_registered_model_alias(model, "champion", champion.version)
    ms = np.array(latencies) * 1000
    print(
        json.dumps(
            {
                "clients": clients,
                "seconds": seconds,
                "requests": len(latencies),
                "failed": len(failures),
                "p50_ms": float(np.percentile(ms, 50)),
                "p99_ms": float(np.percentile(ms, 99)),
                "moves": moves,
                "refused": refused,
                "versions_answering": sorted(versions),
                "first_failures": failures[:3],
            }
        )
    )


def example(source: str) -> dict:
    import mlflow

    frame = mlflow.pyfunc.load_model(source).input_example
    return json.loads(frame.head(1).to_json(orient="split", index=False))


def swaps(client, model: str, champion, url: str, seconds: float) -> tuple[int, bool]:
    """Three moves to copies of the champion and one to a broken version, spread over `seconds`."""
    import mlflow

    with tempfile.TemporaryDirectory() as tmp:
        broken = Path(mlflow.artifacts.download_artifacts(champion.source, dst_path=tmp))
        for path in broken.rglob("network.keras"):
            path.write_bytes(b"not a keras file")
        (broken / "registered_model_meta").unlink(missing_ok=True)
        copies = [mlflow.register_model(champion.source, model).version for _ in range(3)]
        bad = mlflow.register_model(str(broken), model).version
        plan = [copies[0], bad, copies[1], copies[2]]
        began, moves, refused = time.monotonic(), 0, False
        for i, version in enumerate(plan):
            time.sleep(max(0.0, began + (i + 0.5) * seconds / len(plan) - time.monotonic()))
            client.set_registered_model_alias(model, "champion", str(version))
            if version == bad:
                refused = wait_for(url, lambda meta: str(bad) in meta["refused_versions"], 60)
            else:
                moves += wait_for(url, lambda meta, v=version: meta["version"] == str(v), 60)
        time.sleep(max(0.0, began + seconds - time.monotonic()))
    return moves, refused


def wait_for(url: str, condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"{url}/metadata", timeout=10) as answer:
            if condition(json.loads(answer.read())):
                return True
        time.sleep(0.2)
    return False


if __name__ == "__main__":
    main()
