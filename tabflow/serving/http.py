"""`tabflow serve`: the model an alias points at, over HTTP, following the alias as it moves.

Speaks MLflow's scoring protocol (POST /invocations with dataframe_split, dataframe_records, inputs or instances as
JSON, or CSV; GET /ping, /health, /version), plus GET /metadata. Requests are checked against the model's data
contract; a bad request gets a 4xx that names the problem without echoing the data. A watcher thread polls the
alias and swaps in a new version only after it loaded and scored its input example (tabflow.serving.alias).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from fastapi import Request  # at module level: FastAPI resolves the endpoint's annotation here
from pydantic import BaseModel, Field

import tabflow
from tabflow import settings
from tabflow.serving.alias import Slot
from tabflow.serving.body import FORMATS, BadRequest, _read, parse
from tabflow.serving.contract import check_input
from tabflow.serving.webhooks import signed
from tabflow.tracking import configure


class ServeSettings(BaseModel, frozen=True, extra="forbid"):
    """What `tabflow serve` was asked for. A new setting is a field here and a flag in tabflow/cli/parser.py."""

    model: str
    alias: str = "champion"
    store: str = "mlruns"
    poll_s: float = Field(5.0, gt=0)
    max_bytes: int = Field(10 * 2**20, gt=0)


def create_app():
    """The ASGI app, configured from ServeSettings in TABFLOW_SERVE (uvicorn builds one per worker process)."""
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse, Response

    cfg = ServeSettings.model_validate_json(os.environ[settings.SERVE])
    configure(Path(cfg.store))
    slot = Slot(cfg.model, cfg.alias, cfg.poll_s)
    limit = cfg.max_bytes
    slot.start()
    app = FastAPI(title=f"tabflow: {slot.name}@{slot.alias}", version=tabflow.__version__)

    @app.get("/ping")
    @app.get("/health")
    def health():
        return {"status": "ok", "version": slot.serving().version}

    @app.get("/version")
    def version():
        return {"tabflow": tabflow.__version__, "model": slot.name, "model_version": slot.serving().version}

    @app.get("/metadata")
    def metadata():
        current = slot.serving()
        return {
            "model": slot.name,
            "alias": slot.alias,
            "version": current.version,
            "loaded_at": current.loaded_at,
            "tags": current.tags,
            "input_schema": current.model.schema,
            "refused_versions": slot.refused,
        }

    secret = os.environ.get(settings.WEBHOOK_SECRET)
    if secret:

        @app.post("/hooks/mlflow", include_in_schema=False)
        async def mlflow_webhook(request: Request):
            try:
                body = await _read(request, 2**16)  # MLflow's alias payloads are a few hundred bytes
            except BadRequest as exc:
                return JSONResponse({"error_code": "BAD_REQUEST", "message": str(exc)}, status_code=exc.status)
            if not signed(secret, request.headers, body, time.time()):
                return JSONResponse(
                    {"error_code": "UNAUTHENTICATED", "message": "bad or missing signature"}, status_code=401
                )
            slot.wake.set()  # whatever the event says, the alias as the registry has it now decides
            return {"status": "accepted"}

    body_doc = {
        "requestBody": {
            "content": {
                "application/json": {"schema": {"type": "object", "description": "one of: " + ", ".join(FORMATS)}},
                "text/csv": {"schema": {"type": "string"}},
            }
        }
    }

    @app.post("/invocations", openapi_extra=body_doc)
    async def invocations(request: Request):
        current = slot.serving()  # this request finishes on this model even if a swap happens meanwhile
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
        out = current.model.predict_columns(rows)
        # json, not DataFrame.to_json: its double_precision counts decimals (at most 15), so it rounded a
        # confident probability such as 3.4e-09 to 3.37825e-09; json writes each float's shortest exact repr.
        records = [dict(zip(out, row, strict=True)) for row in zip(*(v.tolist() for v in out.values()), strict=True)]
        answer = json.dumps({"predictions": records})
        return Response(answer, media_type="application/json", headers={"X-Model-Version": current.version})

    return app


def serve(cfg: ServeSettings, host: str, port: int, workers: int) -> None:
    import uvicorn

    os.environ[settings.SERVE] = cfg.model_dump_json()
    uvicorn.run(
        "tabflow.serving.http:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        access_log=False,
    )
