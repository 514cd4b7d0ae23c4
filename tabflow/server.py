"""`tabflow serve`: the model an alias points at, over HTTP, following the alias as it moves.

Speaks MLflow's scoring protocol (POST /invocations with dataframe_split, dataframe_records, inputs or instances as
JSON, or CSV; GET /ping, /health, /version), plus GET /metadata. Requests are checked against the model's data
contract; a bad request gets a 4xx that names the problem without echoing the data. A watcher thread polls the
alias and swaps in a new version only after it loaded and scored its input example: requests in flight finish on
the model they started with, and a version that fails its check is refused while the old one keeps serving.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import logging
import os
import threading
import time
from dataclasses import dataclass, field

import pandas as pd
from fastapi import Request  # at module level: FastAPI resolves the endpoint's annotation here

import tabflow

log = logging.getLogger("tabflow.server")
WEBHOOK_SECRET = "TABFLOW_WEBHOOK_SECRET"  # shared with the MLflow server's webhook; enables POST /hooks/mlflow
FORMATS = ("dataframe_split", "dataframe_records", "inputs", "instances")


class BadRequest(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Loaded:
    """One registered version, ready to serve."""

    name: str
    version: str
    model: object  # tabflow.serving.TabflowModel, unwrapped: MLflow's own schema check would echo the data
    tags: dict
    loaded_at: float = field(default_factory=time.time)


def load(name: str, version: str) -> Loaded:
    """Load a version as a deployment does, and score its input example: a version that cannot is refused."""
    import mlflow

    pyfunc = mlflow.pyfunc.load_model(f"models:/{name}/{version}")
    model = pyfunc.unwrap_python_model()
    example = pyfunc.input_example
    if example is None or not hasattr(model, "schema"):
        raise RuntimeError("it is not a tabflow model with an input example")
    example = pd.DataFrame(example)
    out = model.predict(None, example)
    if len(out) != len(example):
        raise RuntimeError("scoring its input example returned the wrong number of rows")
    if not model.compile_for_rows(example):
        log.warning("version %s of %s: small requests go through scikit-learn's pipeline (slower)", version, name)
    tags = dict(mlflow.MlflowClient().get_model_version(name, version).tags)
    return Loaded(name, version, model, tags)


class Slot:
    """The serving model, swapped atomically (one reference assignment) when the alias moves."""

    def __init__(self, name: str, alias: str, poll_s: float):
        self.name, self.alias, self.poll_s = name, alias, poll_s
        self.current: Loaded | None = None
        self.refused: dict[str, str] = {}  # version -> why it was not swapped in
        self.wake = threading.Event()  # set by an MLflow webhook: check the alias now, not at the next poll

    def start(self) -> None:
        self.refresh()
        if self.current is None:
            raise RuntimeError(self.refused.get("start", f"no version of {self.name!r} holds @{self.alias}"))
        threading.Thread(target=self._watch, name="tabflow-alias-watch", daemon=True).start()

    def _watch(self) -> None:  # a daemon thread: it ends with the server process
        while True:
            self.wake.wait(self.poll_s)
            self.wake.clear()
            try:
                self.refresh()
            except Exception as exc:  # the registry may be briefly unreachable: keep serving, try again
                log.warning("could not read @%s of %s: %s", self.alias, self.name, exc)

    def refresh(self) -> None:
        from mlflow import MlflowClient

        from tabflow.registry import alias_version

        version = alias_version(MlflowClient(), self.name, self.alias)
        if version is None or (self.current and version == self.current.version) or version in self.refused:
            return
        try:
            loaded = load(self.name, version)
        except Exception as exc:
            reason = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
            self.refused[version] = reason
            log.error("version %s of %s refused, still serving %s: %s", version, self.name,
                      self.current.version if self.current else "nothing", reason)
            return
        previous = self.current
        self.current = loaded
        log.warning("now serving version %s of %s (was %s)", version, self.name,
                    previous.version if previous else "none")


WEBHOOK_EVENTS = ("model_version_alias.created", "model_version_alias.deleted")


def signed(secret: str, headers, body: bytes, now: float, max_age_s: float = 300) -> bool:
    """An MLflow webhook delivery's HMAC-SHA256 signature over "<delivery id>.<timestamp>.<body>", sent within
    `max_age_s` (a recorded delivery replayed later is refused)."""
    delivery, stamp = headers.get("x-mlflow-delivery-id", ""), headers.get("x-mlflow-timestamp", "")
    if not delivery or not stamp.isdigit() or abs(now - int(stamp)) > max_age_s:
        return False
    digest = hmac.new(secret.encode(), f"{delivery}.{stamp}.".encode() + body, hashlib.sha256).digest()
    return hmac.compare_digest(f"v1,{base64.b64encode(digest).decode()}", headers.get("x-mlflow-signature", ""))


def register_webhook(url: str, secret: str) -> str:
    """Ask the MLflow tracking server to call `url` when an alias moves (once per url: a restart updates it)."""
    from mlflow import MlflowClient

    client = MlflowClient()
    for hook in client.list_webhooks():
        if hook.url == url:
            client.update_webhook(hook.webhook_id, events=list(WEBHOOK_EVENTS), secret=secret, status="ACTIVE")
            return hook.webhook_id
    return client.create_webhook("tabflow-serve", url, list(WEBHOOK_EVENTS), secret=secret).webhook_id


def parse(body: bytes, content_type: str) -> pd.DataFrame:
    """The request body as a DataFrame; 415 for an unknown type, 400 for a body that does not parse."""
    kind = content_type.split(";")[0].strip().lower()
    if kind == "text/csv":
        try:
            return pd.read_csv(io.BytesIO(body))
        except Exception:
            raise BadRequest(400, "the CSV body could not be parsed; send a header line and rows") from None
    if kind != "application/json":
        raise BadRequest(415, f"content type {kind or 'none'!r} is not supported; use application/json or text/csv")
    try:
        payload = json.loads(body)
    except ValueError:
        raise BadRequest(400, "the body is not valid JSON") from None
    keys = [k for k in FORMATS if isinstance(payload, dict) and k in payload]
    if len(keys) != 1:
        raise BadRequest(400, "the JSON body needs exactly one of: " + ", ".join(FORMATS))
    value = payload[keys[0]]
    try:
        if keys[0] == "dataframe_split":
            if not isinstance(value, dict) or not isinstance(value.get("columns"), list):
                raise ValueError
            return pd.DataFrame(value.get("data", []), columns=value["columns"])
        if isinstance(value, dict):  # inputs / instances as {column: [values]} or {column: value}
            return pd.DataFrame({k: v if isinstance(v, list) else [v] for k, v in value.items()})
        if isinstance(value, list) and all(isinstance(row, dict) for row in value):
            return pd.DataFrame.from_records(value)
        raise ValueError
    except (ValueError, TypeError):
        raise BadRequest(400, f"{keys[0]} is malformed: give a list of row objects, or for dataframe_split "
                              "{\"columns\": [...], \"data\": [[...], ...]} with one value per column") from None


async def _read(request, limit: int) -> bytes:
    """The body, or 413 past `limit` bytes. The rest is read and dropped, never held: answering before the
    client has sent it all would reset the connection under the client instead of giving it the 413."""
    parts, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size <= limit:
            parts.append(chunk)
    if size > limit:
        raise BadRequest(413, f"the body is larger than the limit of {limit} bytes")
    return b"".join(parts)


def create_app():
    """The ASGI app, configured from TABFLOW_SERVE_* (uvicorn builds one per worker process)."""
    from pathlib import Path

    from fastapi import FastAPI
    from fastapi.responses import JSONResponse, Response

    from tabflow.tracking import configure

    configure(Path(os.environ.get("TABFLOW_SERVE_STORE", "mlruns")))
    slot = Slot(os.environ["TABFLOW_SERVE_MODEL"], os.environ.get("TABFLOW_SERVE_ALIAS", "champion"),
                float(os.environ.get("TABFLOW_SERVE_POLL_S", "5")))
    limit = int(os.environ.get("TABFLOW_SERVE_MAX_BYTES", str(10 * 2**20)))
    slot.start()
    app = FastAPI(title=f"tabflow: {slot.name}@{slot.alias}", version=tabflow.__version__)

    @app.get("/ping")
    @app.get("/health")
    def health():
        return {"status": "ok", "version": slot.current.version}

    @app.get("/version")
    def version():
        return {"tabflow": tabflow.__version__, "model": slot.name, "model_version": slot.current.version}

    @app.get("/metadata")
    def metadata():
        current = slot.current
        return {"model": slot.name, "alias": slot.alias, "version": current.version,
                "loaded_at": current.loaded_at, "tags": current.tags, "input_schema": current.model.schema,
                "refused_versions": slot.refused}

    secret = os.environ.get(WEBHOOK_SECRET)
    if secret:
        @app.post("/hooks/mlflow", include_in_schema=False)
        async def mlflow_webhook(request: Request):
            try:
                body = await _read(request, 2**16)  # MLflow's alias payloads are a few hundred bytes
            except BadRequest as exc:
                return JSONResponse({"error_code": "BAD_REQUEST", "message": str(exc)}, status_code=exc.status)
            if not signed(secret, request.headers, body, time.time()):
                return JSONResponse({"error_code": "UNAUTHENTICATED", "message": "bad or missing signature"},
                                    status_code=401)
            slot.wake.set()  # whatever the event says, the alias as the registry has it now decides
            return {"status": "accepted"}

    body_doc = {"requestBody": {"content": {"application/json": {"schema": {"type": "object", "description":
                "one of: " + ", ".join(FORMATS)}}, "text/csv": {"schema": {"type": "string"}}}}}

    @app.post("/invocations", openapi_extra=body_doc)
    async def invocations(request: Request):
        from tabflow.serving import check_input

        current = slot.current  # this request finishes on this model even if a swap happens meanwhile
        try:
            body = await _read(request, limit)
            frame = parse(body, request.headers.get("content-type", ""))
            if frame.empty:
                raise BadRequest(422, "the body holds no rows")
            try:
                rows = check_input(frame, current.model.schema)
            except ValueError as exc:
                raise BadRequest(422, str(exc)) from None
        except BadRequest as exc:
            return JSONResponse({"error_code": "BAD_REQUEST", "message": str(exc)}, status_code=exc.status)
        out = current.model.predict_checked(rows)
        body = '{"predictions": ' + out.to_json(orient="records", double_precision=15) + "}"
        return Response(body, media_type="application/json", headers={"X-Model-Version": current.version})

    return app


def serve(store: str, name: str, alias: str, host: str, port: int, workers: int, poll_s: float,
          max_bytes: int) -> None:
    import uvicorn

    os.environ.update({"TABFLOW_SERVE_STORE": store, "TABFLOW_SERVE_MODEL": name, "TABFLOW_SERVE_ALIAS": alias,
                       "TABFLOW_SERVE_POLL_S": str(poll_s), "TABFLOW_SERVE_MAX_BYTES": str(max_bytes)})
    uvicorn.run("tabflow.server:create_app", factory=True, host=host, port=port, workers=workers,
                log_level="warning", access_log=False)
