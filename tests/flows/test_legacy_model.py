"""A model logged by an older tabflow still loads, predicts, serves and is judged by the code checked out now.

The model in tests/fixtures/legacy_model_01ee076 was logged by commit 01ee076 (tests/fixtures/make_legacy_model.py
made it). Its preprocessor pickles tabflow's classes and functions by module path (tabflow.columns.Vocabulary,
DateParts, as_float32, coerce) and its pyfunc is models-from-code doing `from tabflow.serving import TabflowModel`:
a move or rename of those breaks every model already in a user's registry, and this test says so.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import redirect_stderr
from io import StringIO
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from tests.helpers import client_for, mlflow_pointed_at

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "legacy_model_01ee076"
NAME = "legacy"
BIN = Path(sys.executable).parent
SERVED_ROWS = 6
TOLERANCE = 1e-5  # probabilities: the fixture's were computed on another machine and process (float32 network)


def fixture_rows() -> pd.DataFrame:
    return pd.read_parquet(FIXTURE / "test.parquet")


def features() -> pd.DataFrame:
    tags = json.loads((FIXTURE / "tags.json").read_text())
    return fixture_rows().drop(columns=[tags["target"]])


def expected() -> pd.DataFrame:
    return pd.read_parquet(FIXTURE / "expected.parquet")


def register(client: mlflow.MlflowClient, experiment: str, work: Path, logged_model: bool = False) -> str:
    """The fixture as `tabflow run` leaves a version: a parent run holding the test rows (data/test.parquet) and
    the test scores, the model files, and a registered version with the lineage tags.

    The files go in as the run's artifacts (`runs:/<run>/model`), or with `logged_model` as an MLflow 3 logged
    model (`models:/m-<id>`, what tabflow/serving.py log_model makes), its MLmodel's model_id pointed at the new
    id: mlflow.models.get_model_info (the gate's column check on the champion) looks that id up in the store.
    """
    run_id = client.create_run(experiment, run_name="train-legacy").info.run_id
    client.log_artifact(run_id, str(FIXTURE / "test.parquet"), "data")
    metrics = json.loads((FIXTURE / "parent_metrics.json").read_text())
    now = int(time.time() * 1000)
    client.log_batch(run_id, metrics=[mlflow.entities.Metric(k, v, now, 0) for k, v in metrics.items()])
    if logged_model:
        model_id = client.create_logged_model(experiment, name="model", source_run_id=run_id).model_id
        files = work / model_id
        shutil.copytree(FIXTURE / "model", files)
        mlmodel = files / "MLmodel"
        old_id = mlflow.models.Model.load(str(mlmodel)).model_id
        mlmodel.write_text(mlmodel.read_text().replace(old_id, model_id))
        client.log_model_artifacts(model_id, str(files))
        client.finalize_logged_model(model_id, "READY")
        uri = f"models:/{model_id}"
    else:
        client.log_artifacts(run_id, str(FIXTURE / "model"), "model")
        uri = f"runs:/{run_id}/model"
    client.set_terminated(run_id, "FINISHED")
    tags = {**json.loads((FIXTURE / "tags.json").read_text()), "parent_run_id": run_id}
    with mlflow_pointed_at(client.tracking_uri), redirect_stderr(StringIO()):  # "Created version ..."
        version = mlflow.register_model(uri, NAME, tags=tags)
    return str(version.version)


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    """A fresh store with the fixture registered twice, identical models: version 1 of `legacy` from run
    artifacts, version 2 as a logged model."""
    root = tmp_path_factory.mktemp("legacy")
    store = root / "mlruns"
    store.mkdir()
    client = client_for(store)
    experiment = client.create_experiment(NAME, artifact_location=(store / "artifacts" / NAME).as_uri())
    versions = [register(client, experiment, root, logged_model=second) for second in (False, True)]
    assert versions == ["1", "2"], f"a fresh store should number the two registrations 1 and 2, got {versions}"
    return store


def cli_env() -> dict[str, str]:
    """The test process's environment (conftest's quiet, project-local settings), MLflow pointed by --store
    alone, and the session's Prefect test server, so `tabflow predict` does not start a server of its own."""
    import prefect.settings

    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "PREFECT_API_URL")}
    api = prefect.settings.PREFECT_API_URL.value()  # the harness sets it in-process only
    if api:
        env["PREFECT_API_URL"] = api
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


def run_tabflow(store: Path, *args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "tabflow"), "--store", str(store), *args],
        env=cli_env(),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def assert_predictions_match(got: pd.DataFrame, want: pd.DataFrame, where: str) -> None:
    assert list(got.columns[: len(want.columns)]) == list(want.columns), (
        f"{where}: a binary tabflow model answers with columns {list(want.columns)} first, got {list(got.columns)}"
    )
    np.testing.assert_allclose(
        got["probability"].to_numpy(dtype="float64"),
        want["probability"].to_numpy(),
        atol=TOLERANCE,
        rtol=0,
        err_msg=f"{where}: the legacy model's probabilities changed",
    )
    assert got["label"].astype(str).tolist() == want["label"].astype(str).tolist(), (
        f"{where}: the legacy model's labels changed"
    )


def test_the_fixture_is_what_the_tests_expect():
    frame, want = fixture_rows(), expected()
    assert len(frame) == len(want) > SERVED_ROWS, "expected.parquet holds one prediction per test row"
    assert (want["probability"] - 0.5).abs().min() > 100 * TOLERANCE, (
        "no probability sits so close to the 0.5 threshold that a rounding difference could flip its label"
    )
    assert frame["amount"].isna().any() and not (FIXTURE / "mlflow.db").exists(), (
        "the test rows include missing numbers; the fixture holds no tracking database"
    )


def test_loads_and_predicts_in_a_process_that_imported_the_current_tabflow(store):
    import tabflow.columns
    import tabflow.serving  # noqa: F401

    path = list(sys.path)
    try:
        with mlflow_pointed_at(client_for(store).tracking_uri):
            loaded = mlflow.pyfunc.load_model(f"models:/{NAME}/1")
            got = loaded.predict(features())
    finally:
        sys.path[:] = path  # load_model prepends the model's code/ folder
    assert_predictions_match(got, expected(), "mlflow.pyfunc.load_model('models:/legacy/1').predict")
    model = loaded.unwrap_python_model()
    from tabflow.serving.pyfunc import TabflowModel

    assert type(model) is TabflowModel, (
        "the legacy models-from-code file imports TabflowModel from tabflow.serving: it must be today's class"
    )


def test_tabflow_predict_scores_a_file_with_the_legacy_version(store, tmp_path):
    source, output = tmp_path / "rows.parquet", tmp_path / "scored.parquet"
    features().to_parquet(source, index=False)
    done = run_tabflow(
        store, "predict", "--model", f"{NAME}/1", "--input", str(source), "--output", str(output), cwd=tmp_path
    )
    assert done.returncode == 0, f"tabflow predict should score the legacy version:\n{done.stderr[-3000:]}"
    out = pd.read_parquet(output)
    assert_predictions_match(out, expected(), "tabflow predict")
    assert set(out["model_version"]) == {"1"}, "every scored row names the version that scored it"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(url: str, body: bytes) -> tuple[int, str]:
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_tabflow_serve_answers_as_the_legacy_model_predicted(store, tmp_path):
    client_for(store).set_registered_model_alias(NAME, "champion", "1")
    frame = features()
    rows = pd.concat([frame.head(SERVED_ROWS - 1), frame[frame["amount"].isna()].head(1)])  # one with a gap
    want = expected().loc[rows.index].reset_index(drop=True)
    split = json.loads(rows.reset_index(drop=True).to_json(orient="split", date_format="iso", index=False))
    body = json.dumps({"dataframe_split": split}).encode()

    port, log = free_port(), tmp_path / "serve.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [
                str(BIN / "tabflow"),
                "--store",
                str(store),
                "serve",
                "--model",
                NAME,
                "--alias",
                "champion",
                "--port",
                str(port),
            ],
            env=cli_env(),
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            assert proc.poll() is None, f"tabflow serve exited early:\n{log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"tabflow serve did not answer /ping in 180 s:\n{log.read_text()}"
            try:
                with urllib.request.urlopen(f"{url}/ping", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            time.sleep(0.5)
        status, text = post(f"{url}/invocations", body)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the group: uvicorn's worker processes too
        proc.wait()
    assert status == 200, f"tabflow serve should answer the legacy champion's rows with 200, got {status}: {text}"
    assert_predictions_match(pd.DataFrame(json.loads(text)["predictions"]), want, "tabflow serve /invocations")


def test_tabflow_promote_judges_the_legacy_version_against_another_champion(store, tmp_path):
    client_for(store).set_registered_model_alias(NAME, "champion", "2")
    done = run_tabflow(store, "promote", NAME, "1", "--reason", "test", cwd=tmp_path)
    verdict = done.stdout.strip().split(" ", 1)[0] if done.stdout.strip() else ""
    assert "Traceback" not in done.stderr and done.returncode in (0, 1), (
        f"the gate should judge the legacy version (exit 0 or 1), not fail (exit {done.returncode}):\n"
        f"{done.stderr[-3000:]}"
    )
    assert verdict in ("PROMOTE", "HOLD", "REJECT"), (
        f"tabflow promote prints its verdict first, got:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    )
    assert (done.returncode == 0) == (verdict == "PROMOTE"), f"exit 0 means PROMOTE, 1 HOLD or REJECT: {done.stdout}"
    assert "cannot score" not in done.stdout, (
        f"the legacy champion (version 2) should be scored on the test rows, not fail the gate's check:\n{done.stdout}"
    )
