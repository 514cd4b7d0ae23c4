"""The server profile's costs: trials spread over Dask workers, and Prefect's cost per flow run on each profile.

python benchmarks/profile.py dask TRIALS REPEATS       JSON: seconds_tune of `tabflow run` in-process and on a
                                                      Dask cluster of 1 and of 2 worker processes (same study
                                                      size, fresh study each run, workers warmed up first)
python benchmarks/profile.py prefect RUNS              JSON: seconds per flow run of six no-op tasks against the
                                                      embedded temporary server (SQLite; also with heartbeats
                                                      off) and a Prefect server on PostgreSQL, both started here
                                                      on 127.0.0.1
Run from the repository root (it starts its servers with tests/system/servers.py).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def tabflow_run(work: Path, name: str, trials: int, env: dict) -> float:
    """`tabflow run` in a fresh process; returns the parent run's seconds_tune."""
    import mlflow

    subprocess.run(
        [
            sys.executable,
            "-m",
            "tabflow.cli",
            "run",
            "--data",
            "builtin:breast_cancer",
            "--model-name",
            name,
            "--trials",
            str(trials),
        ],
        cwd=work,
        env=env,
        check=True,
        capture_output=True,
    )
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{work / 'mlruns' / 'mlflow.db'}")
    experiment = client.get_experiment_by_name(name).experiment_id
    [parent] = client.search_runs([experiment], filter_string="attributes.run_name LIKE 'train-%'")
    return parent.data.metrics["seconds_tune"]


def dask(trials: int, repeats: int) -> dict:
    from tests.system import servers

    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "PREFECT_API_URL")}
    out: dict[str, list[float]] = {"in-process": [], "1 Dask worker": [], "2 Dask workers": []}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for i in range(repeats):
            out["in-process"].append(tabflow_run(work, f"local{i}", trials, env))
        for n, key in ((1, "1 Dask worker"), (2, "2 Dask workers")):
            with servers.dask_cluster(n, work / f"dask{n}", env={"TF_CPP_MIN_LOG_LEVEL": "2"}) as cluster:
                on_dask = {**env, "TABFLOW_DASK_ADDRESS": cluster.address}
                tabflow_run(work, f"warm{n}", n, on_dask)  # each worker imports TensorFlow once
                for i in range(repeats):
                    out[key].append(tabflow_run(work, f"dask{n}-{i}", trials, on_dask))
                    print(f"{key}: {out[key][-1]:.1f} s", file=sys.stderr, flush=True)
    return {key: statistics.median(v) for key, v in out.items()} | {"trials": trials, "runs": out}


FLOW = """
import json, statistics, sys, time
from prefect import flow, task

@task
def step(x):
    return x + 1

@flow
def six(x: int = 0):
    for _ in range(6):
        x = step(x)
    return x

from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

# heartbeats "off" is how tabflow ran its flows on the embedded server until this measurement
with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None} if sys.argv[2] == "off" else {}):
    six()  # the first run pays for imports and the client
    times = []
    for _ in range(int(sys.argv[1])):
        start = time.perf_counter()
        six()
        times.append(time.perf_counter() - start)
print(json.dumps(times))
"""


def prefect(runs: int) -> dict:
    from tabflow.cli.local_prefect import LocalPrefectServer
    from tabflow.settings import runtime_defaults
    from tests.system import servers

    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        env = {**os.environ, **runtime_defaults(work / "mlruns", work / ".prefect")}
        (work / "flow_cost.py").write_text(FLOW)

        def time_flows(api_url: str, kind: str) -> list[float]:
            done = subprocess.run(
                [sys.executable, "flow_cost.py", str(runs), kind],
                cwd=work,
                capture_output=True,
                text=True,
                env={**env, "PREFECT_API_URL": api_url},
            )
            if done.returncode:
                raise RuntimeError(done.stderr[-3000:])
            return json.loads(done.stdout.strip().splitlines()[-1])

        os.environ.update(runtime_defaults(work / "mlruns", work / ".prefect"))
        local = LocalPrefectServer(work / ".prefect")
        local.wait_ready()
        out["embedded (SQLite)"] = time_flows(local.api_url, "default")
        out["embedded, heartbeats off"] = time_flows(local.api_url, "off")
        local.stop()
        with servers.postgres(work / "pg") as pg:
            pg.create_database("prefect")
            with servers.prefect_server(pg.url("prefect", "postgresql+asyncpg"), work / "server") as server:
                out["server (PostgreSQL)"] = time_flows(server.url, "default")
    return {key: statistics.median(v) for key, v in out.items()} | {"runs": out}


if __name__ == "__main__":
    kind = sys.argv[1]
    result = dask(int(sys.argv[2]), int(sys.argv[3])) if kind == "dask" else prefect(int(sys.argv[2]))
    print(json.dumps(result))
