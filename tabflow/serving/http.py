"""`tabflow serve`: the model an alias points at, over HTTP, following the alias as it moves.

Speaks MLflow's scoring protocol (POST /invocations with dataframe_split, dataframe_records, inputs or instances as
JSON, or CSV; GET /ping, /health, /version), plus GET /metadata. Requests are checked against the model's data
contract; a bad request gets a 4xx that names the problem without echoing the data. A watcher thread polls the
alias and swaps in a new version only after it loaded and scored its input example (tabflow.serving.alias).

Hardened for a shared network: every size a request may have is bounded before a frame is built
(tabflow.serving.body), its body must arrive within a deadline, model work runs on a few threads off the event
loop (so /ping answers meanwhile), requests past a concurrency limit get 429, and an optional bearer token guards
every endpoint but /ping and /health. Host headers are checked against a list (DNS rebinding).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
import time
from pathlib import Path

import numpy as np
from fastapi import Request  # at module level: FastAPI resolves the endpoint's annotation here
from pydantic import BaseModel, Field

import tabflow
from tabflow import settings
from tabflow.errors import first_line
from tabflow.serving.alias import Slot
from tabflow.serving.body import FORMATS, BadRequest, Limits, parse, read
from tabflow.serving.contract import Throttle, check_input
from tabflow.serving.webhooks import Deliveries
from tabflow.tracking import configure

log = logging.getLogger("tabflow.server")


LOOPBACK = ("127.0.0.1", "localhost", "::1")


class ServeSettings(BaseModel, frozen=True, extra="forbid"):
    """What `tabflow serve` was asked for. A new setting is a field here and a flag in tabflow/cli/parser.py.
    The token itself is never here (this travels to the workers as an environment variable): only its file."""

    model: str
    alias: str = "champion"
    store: str = "mlruns"
    poll_s: float = Field(5.0, gt=0)
    max_bytes: int = Field(10 * 2**20, gt=0)
    max_rows: int = Field(Limits.rows, gt=0)
    max_cells: int = Field(Limits.cells, gt=0)
    max_cell_chars: int = Field(Limits.cell_chars, gt=0)
    max_concurrent: int = Field(16, gt=0)  # requests being answered at once; more get 429
    deadline_s: float = Field(30.0, gt=0)  # for a request's body to arrive; slower ones get 408
    auth_token_file: str | None = None
    allowed_hosts: tuple[str, ...] = LOOPBACK  # Host headers answered: a DNS-rebinding page gets 400

    def limits(self) -> Limits:
        return Limits(rows=self.max_rows, cells=self.max_cells, cell_chars=self.max_cell_chars)

    def token(self) -> bytes | None:
        """The bearer token every endpoint but /ping and /health asks for, if one is set."""
        if self.auth_token_file:
            text = Path(self.auth_token_file).read_text().strip()
        else:
            text = os.environ.get(settings.SERVE_TOKEN, "").strip()
        return text.encode() if text else None


def create_app():
    """The ASGI app, configured from ServeSettings in TABFLOW_SERVE (uvicorn builds one per worker process)."""
    import anyio
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse, Response
    from starlette.middleware.trustedhost import TrustedHostMiddleware

    cfg = ServeSettings.model_validate_json(os.environ[settings.SERVE])
    token, limits = cfg.token(), cfg.limits()
    configure(Path(cfg.store))
    slot = Slot(cfg.model, cfg.alias, cfg.poll_s)
    slot.start()
    docs = None if token is not None else "/docs"  # with a token, no page of the API is open to all
    app = FastAPI(
        title=f"tabflow: {slot.name}@{slot.alias}",
        version=tabflow.__version__,
        docs_url=docs,
        redoc_url=None,
        openapi_url=docs and "/openapi.json",
    )
    if "*" not in cfg.allowed_hosts:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(cfg.allowed_hosts))
    threads = anyio.CapacityLimiter(min(4, os.cpu_count() or 1))  # model work, off the event loop
    busy = [0]  # requests being answered (one event loop: no lock needed)
    ignored = Throttle()

    def error(status: int, message: str, code: str = "BAD_REQUEST", **headers: str):
        return JSONResponse({"error_code": code, "message": message}, status_code=status, headers=headers)

    def authorized(request: Request) -> bool:
        if token is None:
            return True
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode("latin-1"), token)

    def unauthorized():
        return error(401, "a valid Authorization: Bearer token is needed", "UNAUTHENTICATED")

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception):
        log.error("%s %s failed: %s", request.method, request.url.path, first_line(exc))
        return error(500, "the server could not answer; its log says why", "INTERNAL_ERROR")

    @app.get("/ping")
    def ping():
        return {"status": "ok", "version": slot.serving().version}

    @app.get("/health")
    def health():  # registry_ok: whether the alias could be read at the last poll (serving goes on either way)
        return {"status": "ok", "version": slot.serving().version, "registry_ok": slot.registry_ok}

    @app.get("/version")
    def version(request: Request):
        if not authorized(request):
            return unauthorized()
        return {"tabflow": tabflow.__version__, "model": slot.name, "model_version": slot.serving().version}

    @app.get("/metadata")
    def metadata(request: Request):
        """The schema's names and roles for anyone; training values, tags and refusal reasons only with the
        token (there is none to give without one)."""
        if not authorized(request):
            return unauthorized()
        current, refused = slot.serving(), dict(slot.refused)  # a copy: the watcher thread may add to it
        detail = token is not None
        return {
            "model": slot.name,
            "alias": slot.alias,
            "version": current.version,
            "loaded_at": current.loaded_at,
            "registry_ok": slot.registry_ok,
            "input_schema": {c: e if detail else {"role": e["role"]} for c, e in current.model.schema.items()},
            **({"tags": current.tags, "refused_versions": refused} if detail else {"refused_versions": list(refused)}),
        }

    secret = os.environ.get(settings.WEBHOOK_SECRET)
    if secret and len(secret) < 16:
        log.warning("%s is under 16 characters: POST /hooks/mlflow stays off", settings.WEBHOOK_SECRET)
    elif secret:

        @app.post("/hooks/mlflow", include_in_schema=False)
        async def mlflow_webhook(request: Request):
            loop = asyncio.get_running_loop()
            try:
                body = await read(request, 2**16, loop.time() + cfg.deadline_s)  # MLflow's are a few 100 bytes
            except BadRequest as exc:
                return error(exc.status, str(exc))
            if not deliveries.fresh(secret, request.headers, body, time.time()):
                return error(401, "bad, missing or replayed signature", "UNAUTHENTICATED")
            slot.wake.set()  # whatever the event says, the alias as the registry has it now decides
            return {"status": "accepted"}

        deliveries = Deliveries()

    body_doc = {
        "requestBody": {
            "content": {
                "application/json": {"schema": {"type": "object", "description": "one of: " + ", ".join(FORMATS)}},
                "text/csv": {"schema": {"type": "string"}},
            }
        }
    }

    def answer(body: bytes, content_type: str, current) -> bytes:
        """The work of a request, on a worker thread: parse, check, predict, write."""
        parsed = parse(body, content_type, list(current.model.schema), limits)
        if parsed.ignored and ignored.ready():
            log.warning("ignoring column(s) the model does not use (%d in one request)", parsed.ignored)
        if not len(parsed.frame):
            raise BadRequest(422, "the body holds no rows")
        try:
            rows = check_input(parsed.frame, current.model.schema)
        except ValueError as exc:
            raise BadRequest(422, str(exc)) from None
        out = current.model.predict_columns(rows)
        if not all(np.isfinite(v).all() for v in out.values() if v.dtype.kind == "f"):
            raise RuntimeError("the model's output holds a value that is not a finite number")
        # json, not DataFrame.to_json: its double_precision counts decimals (at most 15), so it rounded a
        # confident probability such as 3.4e-09 to 3.37825e-09; json writes each float's shortest exact repr.
        records = [dict(zip(out, row, strict=True)) for row in zip(*(v.tolist() for v in out.values()), strict=True)]
        return json.dumps({"predictions": records}).encode()

    @app.post("/invocations", openapi_extra=body_doc)
    async def invocations(request: Request):
        if not authorized(request):
            return unauthorized()  # before the body is read: the model is not touched
        if busy[0] >= cfg.max_concurrent:
            return error(429, f"more than {cfg.max_concurrent} requests at once (--max-concurrent); retry later")
        busy[0] += 1
        try:
            loop = asyncio.get_running_loop()
            body = await read(request, cfg.max_bytes, loop.time() + cfg.deadline_s)
            current = slot.serving()  # after the body: this request finishes on this model even if it swaps
            kind = request.headers.get("content-type", "")
            out = await anyio.to_thread.run_sync(answer, body, kind, current, limiter=threads)
        except BadRequest as exc:
            close = {"Connection": "close"} if exc.status in (408, 413) else {}
            return error(exc.status, str(exc), **close)
        finally:
            busy[0] -= 1
        return Response(out, media_type="application/json", headers={"X-Model-Version": current.version})

    return app


def serve(cfg: ServeSettings, host: str, port: int, workers: int) -> None:
    import uvicorn

    os.environ[settings.SERVE] = cfg.model_dump_json()
    # MLflow's client retries a refused connection for minutes by default: the alias watcher would notice an
    # outage that late. Fail fast instead (the watcher retries at each poll, loads back off on their own); a value
    # the user set wins.
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", str(settings.SERVE_REGISTRY_RETRIES))
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", str(settings.SERVE_REGISTRY_TIMEOUT_S))
    uvicorn.run(
        "tabflow.serving.http:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        access_log=False,
        server_header=False,
        timeout_keep_alive=5,
    )
