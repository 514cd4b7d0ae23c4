"""`tabflow serve`'s app in-process (FastAPI's TestClient, no uvicorn): a real one-epoch tabflow model @champion on a
SQLite store under tmp_path."""

import asyncio
import json

import pandas as pd
import pytest

import tabflow
from tests.unit.serving.served import NAME, app, env, make_store

MAX_BYTES = 16_384
JSON = "application/json"
SENTINEL = "SENTINEL-91c2-do-not-echo"

# Starlette's TestClient warns that it would rather use httpx2; the app under test is unaffected.
pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient` is deprecated")


@pytest.fixture(scope="module")
def served(store):
    """(TestClient, test rows, splits): served with a small body limit and no token."""
    path, splits = store
    with app(path, max_bytes=MAX_BYTES) as http:
        yield http, splits.x("test").head(5).reset_index(drop=True), splits


def split_body(frame: pd.DataFrame) -> str:
    return json.dumps({"dataframe_split": json.loads(frame.to_json(orient="split", index=False))})


def invoke(http, body, content_type: str = "application/json"):
    return http.post("/invocations", content=body, headers={"content-type": content_type})


def test_ping_health_and_version(served):
    http, _, _ = served
    answer = http.get("/ping")
    assert answer.status_code == 200 and answer.json() == {"status": "ok", "version": "1"}, f"/ping: {answer}"
    answer = http.get("/health").json()
    assert answer == {"status": "ok", "version": "1", "registry_ok": True}, f"/health: {answer}"
    answer = http.get("/version").json()
    assert answer == {"tabflow": tabflow.__version__, "model": NAME, "model_version": "1"}, f"/version: {answer}"


def test_metadata_has_the_contract_but_no_training_values(served):
    http, _, splits = served
    meta = http.get("/metadata").json()
    assert (meta["model"], meta["alias"], meta["version"]) == (NAME, "champion", "1"), f"what serves: {meta}"
    assert list(meta["input_schema"]) == list(splits.roles), "the input schema lists the training columns in order"
    assert all(entry["role"] == splits.roles[c] for c, entry in meta["input_schema"].items()), "roles per column"
    assert meta["refused_versions"] == [] and meta["loaded_at"] > 0, f"refusals and the load time: {meta}"
    assert "tags" not in meta, "tags hold lineage: only a token holder sees them"
    assert all(set(entry) == {"role"} for entry in meta["input_schema"].values()), (
        f"no training values (ranges, categories) without a token: {meta['input_schema']}"
    )


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


def test_numbers_beyond_float32_are_422_in_small_and_large_requests(store):
    """The network computes in float32, where 1e39 is infinite: it answered a null probability with a label."""
    path, splits = store
    rows = splits.x("test").head(150)
    column = rows.columns[0]
    with app(path) as http:
        for n in (1, 150):  # the numpy path and the TensorFlow path
            answer = invoke(http, split_body(rows.head(n).assign(**{column: 1e39})))
            assert answer.status_code == 422 and f"column {column!r}" in answer.json()["message"], (n, answer.text)
        assert invoke(http, split_body(rows.head(n).assign(**{column: 3e38}))).status_code == 200, "in range: fine"


def test_a_host_header_not_allowed_is_400(served):
    """A DNS-rebinding page reaches 127.0.0.1 under its own name."""
    http, rows, _ = served
    answer = http.post("/invocations", content=split_body(rows), headers={"host": "evil.example", "content-type": JSON})
    assert answer.status_code == 400, f"another Host should be refused: {answer.status_code}"


def test_a_token_guards_everything_but_ping_and_health(store, tmp_path):
    path, splits = store
    token = "t0ken-" + "x" * 20
    (tmp_path / "token").write_text(token + "\n")
    rows = splits.x("test").head(2)
    good = {"authorization": f"Bearer {token}", "content-type": JSON}
    with app(path, auth_token_file=str(tmp_path / "token")) as http:
        for where in ("/ping", "/health"):
            assert http.get(where).status_code == 200, f"{where} stays open for health checks"
        for bad in (
            {},
            {"authorization": "Bearer wrong"},
            {"authorization": token},
            {"authorization": "Bearer \xe9".encode("latin-1")},
        ):
            answers = [
                http.post("/invocations", content=split_body(rows), headers={**bad, "content-type": JSON}),
                http.get("/metadata", headers=bad),
                http.get("/version", headers=bad),
            ]
            assert [a.status_code for a in answers] == [401] * 3, f"{bad}: {[a.text for a in answers]}"
            assert all(token not in a.text for a in answers), "a 401 never shows the token"
        assert http.get("/openapi.json").status_code == 404 and http.get("/docs").status_code == 404, "no open docs"
        scored = http.post("/invocations", content=split_body(rows), headers=good)
        assert scored.status_code == 200 and len(scored.json()["predictions"]) == 2, scored.text
        meta = http.get("/metadata", headers=good).json()
        assert meta["tags"]["task"] == splits.task, "a token holder sees the tags"
        numeric = next(e for e in meta["input_schema"].values() if e["role"] == "numeric")
        assert {"min", "max"} <= set(numeric), f"and the training ranges: {numeric}"


async def _slow_body(first: bytes, pause: float):
    yield first
    await asyncio.sleep(pause)
    yield b""


def test_concurrent_requests_past_the_limit_get_429_and_slow_bodies_408(store):
    """--max-concurrent and --deadline-s, with the app driven on this loop (httpx's ASGI transport streams the
    body as the client sends it)."""
    import httpx

    from tabflow.serving.http import create_app

    path, splits = store
    body = split_body(splits.x("test").head(1)).encode()

    async def scenario(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            slow = asyncio.create_task(
                client.post("/invocations", content=_slow_body(body[:10], 1.0), headers={"content-type": JSON})
            )
            await asyncio.sleep(0.2)  # the slow request holds the one slot
            fast = await client.post("/invocations", content=body, headers={"content-type": JSON})
            ping = await client.get("/ping")
            return await slow, fast, ping

    with env(path, max_concurrent=1, deadline_s=0.5):
        slow, fast, ping = asyncio.run(scenario(create_app()))
    assert fast.status_code == 429 and "--max-concurrent" in fast.json()["message"], fast.text
    assert ping.status_code == 200, "/ping answers while a request is held"
    assert slow.status_code == 408 and "--deadline-s" in slow.json()["message"], slow.text


def test_a_declared_length_over_the_limit_is_413_before_any_byte_is_read(served):
    """The ASGI app called directly: its receive() would wait forever, so only an answer that reads nothing
    returns."""
    http, _, _ = served
    sent = []

    async def receive():
        await asyncio.Event().wait()

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/invocations",
        "raw_path": b"/invocations",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), (b"content-type", b"text/csv"), (b"content-length", b"1073741824")],
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
    }
    asyncio.run(asyncio.wait_for(http.app(scope, receive, send), 10))
    assert sent[0]["status"] == 413 and b"--max-body-mb" in sent[1]["body"], sent


def test_a_short_webhook_secret_leaves_the_endpoint_off(store):
    """Review L2: the CLI asked for 16+ characters only with --webhook-url; the app took any secret."""
    from fastapi.testclient import TestClient

    from tabflow import settings
    from tabflow.serving.http import create_app

    path, _ = store
    for secret, status in (("short", 404), ("s" * 20, 401)):
        with env(path) as mp:
            mp.setenv(settings.WEBHOOK_SECRET, secret)
            with TestClient(create_app()) as http:
                assert http.post("/hooks/mlflow", content=b"{}").status_code == status, secret


@pytest.mark.parametrize("task", ["binary", "regression"])
def test_the_server_answers_the_stored_threshold_or_interval(tmp_path_factory, splits, task):
    """A binary champion's label at its own threshold (not 0.5); a regression one's interval columns."""
    from tabflow.model.calibrate import After

    after = After(threshold=0.9) if task == "binary" else After(coverage=0.9, half_width=0.5)
    made = make_store(tmp_path_factory, splits, task, after)
    store, _ = next(made)
    try:
        rows = splits.x("test").head(20)
        body = {"dataframe_split": rows.to_dict(orient="split", index=False)}
        with app(store) as http:
            answers = http.post("/invocations", json=json.loads(json.dumps(body, default=str))).json()["predictions"]
    finally:
        made.close()
    if task == "binary":
        assert all((a["probability"] >= 0.9) == (a["label"] == splits.classes[1]) for a in answers)
        assert any(0.5 <= a["probability"] < 0.9 for a in answers), "rows that 0.5 would label otherwise"
    else:
        assert all(a["prediction_upper"] - a["prediction"] == pytest.approx(0.5) for a in answers)
        assert all(a["prediction"] - a["prediction_lower"] == pytest.approx(0.5) for a in answers)
