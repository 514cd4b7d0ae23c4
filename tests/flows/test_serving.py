"""`tabflow serve` as a real process on 127.0.0.1, spoken to over HTTP; `tabflow predict` on a file."""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

import tasks.evaluate
from flows import training
from tabflow.cli import main
from tabflow.data.read import load_table
from tests.helpers import client_for, tiny_config

NAME = "svc"
SECRET = "SECRET-VALUE-1234"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(url: str, body: bytes | None = None, content_type: str = "application/json"):
    req = urllib.request.Request(url, data=body, headers={"Content-Type": content_type} if body is not None else {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read().decode(), r.headers
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), e.headers


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    store = tmp_path_factory.mktemp("serving") / "mlruns"
    first = training.train(tiny_config(model_name=NAME), store=str(store))
    with serving(store, "--poll", "0.3") as url:
        yield store, url, first


@contextmanager
def serving(store: Path, *flags: str):
    """`tabflow serve` as a real process on a free port, until it answers /ping."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tabflow.cli",
            "--store",
            str(store),
            "serve",
            "--model",
            NAME,
            "--port",
            str(port),
            *flags,
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            assert proc.poll() is None, proc.communicate()[1][-2000:]
            try:
                if call(f"{url}/ping")[0] == 200:
                    break
            except OSError:
                time.sleep(0.5)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the group: uvicorn's worker processes too
        proc.wait()


def rows(n: int = 5) -> pd.DataFrame:
    return load_table("builtin:breast_cancer").drop(columns=["target"]).head(n)


def in_process(store, frame: pd.DataFrame) -> pd.DataFrame:
    mlflow.set_tracking_uri(client_for(store).tracking_uri)
    mlflow.set_registry_uri(client_for(store).tracking_uri)
    return mlflow.pyfunc.load_model(f"models:/{NAME}@champion").predict(frame)


@pytest.mark.parametrize("form", ["dataframe_split", "dataframe_records", "inputs", "instances", "csv"])
def test_each_protocol_form_answers_as_the_model_does(server, form):
    store, url, _ = server
    frame = rows()
    body = {
        "dataframe_split": lambda: json.dumps({"dataframe_split": frame.to_dict(orient="split")}),
        "dataframe_records": lambda: json.dumps({"dataframe_records": frame.to_dict(orient="records")}),
        "inputs": lambda: json.dumps({"inputs": frame.to_dict(orient="list")}),
        "instances": lambda: json.dumps({"instances": frame.to_dict(orient="records")}),
        "csv": lambda: frame.to_csv(index=False),
    }[form]().encode()
    status, text, headers = call(f"{url}/invocations", body, "text/csv" if form == "csv" else "application/json")
    assert status == 200, text
    served = pd.DataFrame(json.loads(text)["predictions"])
    expected = in_process(store, frame)  # TensorFlow's forward pass; the server's is numpy's (small requests)
    np.testing.assert_allclose(served["probability"], expected["probability"], rtol=1e-5, atol=1e-7)  # float32
    assert served["label"].tolist() == expected["label"].tolist() and headers.get("X-Model-Version") == "1"


def bad(record: dict) -> bytes:
    return json.dumps({"dataframe_records": [record]}).encode()


BAD = [  # body, content type, status, words the message must hold
    (b"{not json", "application/json", 400, "not valid JSON"),
    (b'{"rows": []}', "application/json", 400, "exactly one of"),
    (b'{"dataframe_split": {"columns": ["a"], "data": [[1, 2]]}}', "application/json", 400, "malformed"),
    (b'{"dataframe_split": "x", "inputs": {}}', "application/json", 400, "exactly one of"),
    (b'{"dataframe_records": []}', "application/json", 422, "no rows"),
    (b'{"dataframe_records": [{"mean radius": 1}]}', "application/json", 422, "lacks 29 column"),
    (None, "application/json", 422, "must be numeric"),  # text in a numeric column: filled in below
    (b"INF", "text/csv", 422, "infinite or beyond"),  # a row with inf: filled in below
    (b"a,b\n1,2\n", "text/csv", 422, "lacks 30 column"),
    (b"hello", "text/plain", 415, "not supported"),
    (b"x" * (11 * 2**20), "application/json", 413, "larger than the limit"),
    # Hostile bodies (the security review): each refused before a frame of its size is built.
    (b"[" * 100_000, "application/json", 400, "not valid JSON"),
    (
        json.dumps({"dataframe_records": [{f"k{i}": 1} for i in range(20_000)]}).encode(),
        "application/json",
        413,
        "columns the model does not use",
    ),
    (
        (",".join(f"k{i}" for i in range(3_000)) + "\n" + "1\n" * 100_000).encode(),
        "text/csv",
        413,
        "columns the model does not use",
    ),
    (b"mean radius\n" + b"1\n" * 100_001, "text/csv", 413, "--max-rows"),
    (
        b'{"dataframe_split": {"columns": ["mean radius", "x"], "data": [[1, 2], [1]]}}',
        "application/json",
        400,
        "one value per column",
    ),
    (b'{"dataframe_split": {"columns": ["a", "a"], "data": [[1, 2]]}}', "application/json", 400, "distinct names"),
    (b"BIGINT", "application/json", 422, "beyond the range of a float"),
    (b"1e39", "application/json", 422, "beyond +-3.4e+38"),
    (b"LIST", "application/json", 400, "a number, a string or null"),
    (b"LONG", "application/json", 413, "--max-cell-chars"),
]


@pytest.mark.parametrize(("body", "content_type", "status", "words"), BAD)
def test_bad_requests_get_a_4xx_that_names_the_problem_without_the_data(server, body, content_type, status, words):
    _, url, _ = server
    if body is None:
        body = bad({**rows(1).iloc[0].to_dict(), "mean radius": SECRET})
    elif body == b"INF":
        body = rows(1).assign(**{"mean radius": float("inf")}).to_csv(index=False).encode()
    elif body == b"BIGINT":  # 400 digits: json reads a Python int that pandas cannot convert
        body = bad({**rows(1).iloc[0].to_dict(), "mean radius": "N"}).replace(b'"N"', b"1" + b"0" * 400)
    elif body == b"1e39":  # finite in float64, infinite in the network's float32
        body = bad({**rows(1).iloc[0].to_dict(), "mean radius": 1e39})
    elif body == b"LIST":
        body = bad({**rows(1).iloc[0].to_dict(), "mean radius": [SECRET]})
    elif body == b"LONG":
        body = bad({**rows(1).iloc[0].to_dict(), "mean radius": SECRET * 100})
    got, text, _ = call(f"{url}/invocations", body, content_type)
    assert got == status, text
    assert words in json.loads(text)["message"] and SECRET not in text and len(text) < 400
    assert call(f"{url}/ping")[0] == 200, "the server still answers"


def test_metadata_version_and_openapi(server):
    _, url, _ = server
    meta = json.loads(call(f"{url}/metadata")[1])
    assert meta["model"] == NAME and meta["alias"] == "champion" and meta["version"] == "1"
    assert meta["input_schema"]["mean radius"] == {"role": "numeric"}, "no training values without a token"
    assert "tags" not in meta, "lineage only for a token holder"
    assert json.loads(call(f"{url}/version")[1])["model_version"] == "1"
    assert "/invocations" in json.loads(call(f"{url}/openapi.json")[1])["paths"]


def test_a_token_file_guards_the_server(server, tmp_path):
    """--auth-token-file: 401 without the token, the model and its lineage with it, /ping open."""
    store, _, first = server
    token = "k" * 32
    (tmp_path / "token").write_text(token)
    body = json.dumps({"dataframe_split": rows(1).to_dict(orient="split")}).encode()
    with serving(store, "--auth-token-file", str(tmp_path / "token")) as url:
        assert call(f"{url}/invocations", body)[0] == 401 and call(f"{url}/metadata")[0] == 401
        assert call(f"{url}/ping")[0] == 200, "/ping stays open for health checks"
        authorized = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        request = urllib.request.Request(f"{url}/invocations", data=body, headers=authorized)
        with urllib.request.urlopen(request, timeout=30) as answer:
            assert answer.status == 200 and len(json.loads(answer.read())["predictions"]) == 1
        request = urllib.request.Request(f"{url}/metadata", headers=authorized)
        with urllib.request.urlopen(request, timeout=30) as answer:
            assert json.loads(answer.read())["tags"]["parent_run_id"] == first.parent_run_id


def test_alias_moves_are_followed_without_a_failed_request(server, monkeypatch):
    """8 clients send requests all along (the load test's short form; benchmarks/load.py is the long one); a new
    version is trained and takes champion; then a broken version is forced onto champion and refused, the old
    one serving on; then champion rolls back. Not one request fails."""
    store, url, _ = server
    body = json.dumps({"dataframe_split": rows(3).to_dict(orient="split")}).encode()
    seen, failures, stop = [], [], threading.Event()

    def client():
        while not stop.is_set():
            try:
                status, text, headers = call(f"{url}/invocations", body)
                (seen.append(headers.get("X-Model-Version")) if status == 200 else failures.append((status, text)))
            except OSError as exc:
                failures.append(exc)

    threads = [threading.Thread(target=client) for _ in range(8)]
    for thread in threads:
        thread.start()
    try:
        second = training.train(tiny_config(model_name=NAME, seed=7), store=str(store))
        if second.decision.verdict != "PROMOTE":  # the gate's call; this test is about following the alias
            assert (
                main(["--store", str(store), "promote", NAME, second.decision.version, "--reason", "test", "--force"])
                == 0
            )
        deadline = time.monotonic() + 60
        while json.loads(call(f"{url}/metadata")[1])["version"] != second.decision.version:
            assert time.monotonic() < deadline, "the server did not follow the alias"
            time.sleep(0.2)

        real = tasks.evaluate.evaluate

        def evaluate_then_break(model, splits, ctx):
            scored = real(model, splits, ctx)
            for path in store.rglob("network.keras"):
                if model.model_uri.split("/")[-1] in str(path):
                    path.write_bytes(b"not a keras file")
            return scored

        monkeypatch.setattr(tasks.evaluate, "evaluate", evaluate_then_break)
        broken = training.train(tiny_config(model_name=NAME, seed=8), store=str(store))
        assert broken.decision.verdict != "PROMOTE", "a broken artifact never becomes champion by the gate"
        assert (
            main(["--store", str(store), "promote", NAME, broken.decision.version, "--reason", "test", "--force"]) == 0
        )
        deadline = time.monotonic() + 30
        while broken.decision.version not in json.loads(call(f"{url}/metadata")[1])["refused_versions"]:
            assert time.monotonic() < deadline, "the broken version was neither served nor refused"
            time.sleep(0.2)
        time.sleep(1)
        assert json.loads(call(f"{url}/metadata")[1])["version"] == second.decision.version, "the old one serves on"
        assert main(["--store", str(store), "rollback", NAME, "--to", "1", "--reason", "broken"]) == 0
        deadline = time.monotonic() + 30
        while json.loads(call(f"{url}/metadata")[1])["version"] != "1":
            assert time.monotonic() < deadline, "the rollback was not picked up"
            time.sleep(0.2)
        time.sleep(0.5)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert failures == [] and len(seen) > 20
    assert seen[0] == "1" and second.decision.version in seen and seen[-1] == "1"
    assert broken.decision.version not in seen


def test_batch_scoring_a_file_equals_in_process_predictions(server, tmp_path):
    store, *_ = server
    frame = load_table("builtin:breast_cancer").drop(columns=["target"])
    frame.insert(0, "customer", [f"c{i}" for i in range(len(frame))])
    source, output = tmp_path / "in.csv", tmp_path / "out.parquet"
    frame.to_csv(source, index=False)
    assert (
        main(["--store", str(store), "predict", "--model", NAME, "--input", str(source), "--output", str(output)]) == 0
    )
    out = pd.read_parquet(output)
    expected = in_process(store, pd.read_csv(source))
    version = str(client_for(store).get_model_version_by_alias(NAME, "champion").version)
    assert list(out.columns) == ["customer", "probability", "label", "model_version"]
    assert out["customer"].tolist() == frame["customer"].tolist() and set(out["model_version"]) == {version}
    np.testing.assert_allclose(out["probability"], expected["probability"], rtol=1e-12)
    client = client_for(store)
    [run] = client.search_runs([client.get_experiment_by_name(f"{NAME}-scoring").experiment_id])
    assert run.data.metrics["rows"] == len(frame) and run.data.tags["model_version"] == version
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from flows import artifact_key

    with get_client(sync_client=True) as prefect:  # the scoring flow run's result, where the Prefect UI shows it
        cards = prefect.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[f"scoring-{artifact_key(NAME)}"]))
        )
    assert [c.type for c in cards] == ["markdown"], "one scoring run, one summary"
    assert f"{len(frame):,} rows" in cards[0].data and run.data.tags["input_digest"] in cards[0].data

    missing = tmp_path / "missing.csv"
    frame.drop(columns=["mean radius"]).to_csv(missing, index=False)
    assert (
        main(
            [
                "--store",
                str(store),
                "predict",
                "--model",
                NAME,
                "--input",
                str(missing),
                "--output",
                str(tmp_path / "never.csv"),
            ]
        )
        == 2
    )
    assert not (tmp_path / "never.csv").exists() and not list(tmp_path.glob(".never*")), "nothing half-written"


def test_several_workers_serve_the_champion(server):
    """--workers 2: uvicorn's worker processes each load the champion and answer."""
    store, *_ = server
    version = str(client_for(store).get_model_version_by_alias(NAME, "champion").version)
    body = json.dumps({"dataframe_split": rows(1).to_dict(orient="split")}).encode()
    with serving(store, "--workers", "2") as url:
        answers = [call(f"{url}/invocations", body) for _ in range(30)]
    assert {(status, headers.get("X-Model-Version")) for status, _, headers in answers} == {(200, version)}
