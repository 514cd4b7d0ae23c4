"""`tabflow serve`'s app in-process (FastAPI's TestClient, no uvicorn): a real one-epoch tabflow model @champion on a
SQLite store under tmp_path."""

import json

import mlflow
import pandas as pd
import pytest

import tabflow
from tabflow import settings, tracking
from tabflow.model.inputs import prepare
from tabflow.model.network import MLPParams, fit_network
from tabflow.serving import pyfunc
from tests.helpers import saved_uris

NAME = "served"
MAX_BYTES = 16_384
SENTINEL = "SENTINEL-91c2-do-not-echo"

# Starlette's TestClient warns that it would rather use httpx2; the app under test is unaffected.
pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient` is deprecated")


@pytest.fixture(scope="module")
def served(tmp_path_factory, splits):
    """(TestClient, test rows): version 1 of NAME @champion, served with a small body limit and no polling."""
    store = tmp_path_factory.mktemp("serve") / "store"
    restore = saved_uris()  # the global URIs as they are, to restore them at the end
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        mp.delenv(settings.WEBHOOK_SECRET, raising=False)
        try:
            tracking.configure(store)
            client = mlflow.MlflowClient()
            experiment = tracking.experiment_id(client, NAME, store)
            run_id = tracking.start_run(client, experiment, "fit")
            data = prepare(splits)
            network, _ = fit_network(MLPParams(width=4, depth=1), data, epochs=1, seed=0)
            info = pyfunc.log_model(network, data.preprocessor, splits.x("train"), splits.roles, splits.classes, run_id)
            version = mlflow.register_model(info.model_uri, NAME, tags={"task": splits.task})
            client.set_registered_model_alias(NAME, tracking.CHAMPION, version.version)
            from tabflow.serving.http import ServeSettings

            # poll_s: the watcher thread stays asleep for the module
            serve = ServeSettings(model=NAME, store=str(store), poll_s=3600, max_bytes=MAX_BYTES)
            mp.setenv(settings.SERVE, serve.model_dump_json())
            from fastapi.testclient import TestClient  # here, not at import: its warning is filtered in tests

            from tabflow.serving.http import create_app

            with TestClient(create_app()) as http:
                yield http, splits.x("test").head(5).reset_index(drop=True), splits
        finally:
            restore()


def split_body(frame: pd.DataFrame) -> str:
    return json.dumps({"dataframe_split": json.loads(frame.to_json(orient="split", index=False))})


def invoke(http, body, content_type: str = "application/json"):
    return http.post("/invocations", content=body, headers={"content-type": content_type})


def test_ping_health_and_version(served):
    http, _, _ = served
    for path in ("/ping", "/health"):
        answer = http.get(path)
        assert answer.status_code == 200 and answer.json() == {"status": "ok", "version": "1"}, f"{path}: {answer}"
    answer = http.get("/version").json()
    assert answer == {"tabflow": tabflow.__version__, "model": NAME, "model_version": "1"}, f"/version: {answer}"


def test_metadata_has_the_contract_and_tags(served):
    http, _, splits = served
    meta = http.get("/metadata").json()
    assert (meta["model"], meta["alias"], meta["version"]) == (NAME, "champion", "1"), f"what serves: {meta}"
    assert list(meta["input_schema"]) == list(splits.roles), "the input schema lists the training columns in order"
    assert all(entry["role"] == splits.roles[c] for c, entry in meta["input_schema"].items()), "roles per column"
    assert meta["tags"]["task"] == splits.task and meta["refused_versions"] == {}, f"tags and refusals: {meta}"
    assert meta["loaded_at"] > 0, "the load time is reported"


def test_invocations_answer_dataframe_split_records_and_csv_alike(served):
    http, rows, splits = served
    split = invoke(http, split_body(rows))
    assert split.status_code == 200, f"dataframe_split should be scored: {split.text}"
    assert split.headers["x-model-version"] == "1", "the answer names the version that scored it"
    predictions = split.json()["predictions"]
    assert len(predictions) == 5, f"one prediction per row: {predictions}"
    assert all(0 <= p["probability"] <= 1 and str(p["label"]) in map(str, splits.classes) for p in predictions), (
        f"binary rows answer a probability and a label: {predictions}"
    )
    records = invoke(http, json.dumps({"dataframe_records": json.loads(rows.to_json(orient="records"))}))
    assert records.json() == split.json(), "dataframe_records should answer as dataframe_split does"
    csv = invoke(http, rows.to_csv(index=False).encode(), "text/csv")
    assert csv.status_code == 200, f"CSV should be scored: {csv.text}"
    got = [p["probability"] for p in csv.json()["predictions"]]
    assert got == pytest.approx([p["probability"] for p in predictions], abs=1e-6), "CSV answers as JSON does"


def test_extra_columns_and_shuffled_order_are_accepted(served):
    http, rows, _ = served
    base = invoke(http, split_body(rows)).json()
    shuffled = rows[list(reversed(rows.columns))].assign(note=SENTINEL)
    answer = invoke(http, split_body(shuffled))
    assert answer.status_code == 200 and answer.json() == base, "column order and extra columns should not matter"


def test_a_missing_column_is_422_naming_it(served):
    http, rows, _ = served
    missing = rows.columns[0]
    answer = invoke(http, split_body(rows.drop(columns=[missing]).assign(note=SENTINEL)))
    assert answer.status_code == 422, f"a missing column should be 422, got {answer.status_code}"
    assert missing in answer.json()["message"], f"the message should name {missing!r}: {answer.json()}"
    assert SENTINEL not in answer.text, "the answer must not echo the request's data"


def test_a_text_value_in_a_numeric_column_is_422_without_echo(served):
    http, rows, _ = served
    bad = rows.astype({rows.columns[1]: object})
    bad.loc[2, rows.columns[1]] = SENTINEL
    answer = invoke(http, split_body(bad))
    assert answer.status_code == 422 and "must be numeric" in answer.json()["message"], answer.text
    assert SENTINEL not in answer.text, "the answer must not echo the request's data"


def test_no_rows_is_422(served):
    http, rows, _ = served
    answer = invoke(http, json.dumps({"dataframe_split": {"columns": list(rows.columns), "data": []}}))
    assert answer.status_code == 422 and "no rows" in answer.json()["message"], answer.text


def test_a_body_over_the_limit_is_413(served):
    http, rows, _ = served
    big = pd.concat([rows] * 40, ignore_index=True).to_csv(index=False).encode()
    assert len(big) > MAX_BYTES, "the body must be over the limit for this test"
    answer = invoke(http, big, "text/csv")
    assert answer.status_code == 413 and str(MAX_BYTES) in answer.json()["message"], answer.text
    assert invoke(http, rows.to_csv(index=False).encode(), "text/csv").status_code == 200, "a small body still works"


def test_other_content_types_are_415_and_bad_json_400(served):
    http, _, _ = served
    answer = invoke(http, SENTINEL, "text/plain")
    assert answer.status_code == 415 and answer.json()["error_code"] == "BAD_REQUEST", answer.text
    assert SENTINEL not in answer.text, "a 415 must not echo the body"
    broken = invoke(http, '{"inputs": {"x": ["' + SENTINEL)
    assert broken.status_code == 400 and "not valid JSON" in broken.json()["message"], broken.text
    assert SENTINEL not in broken.text, "a 400 must not echo the body"
