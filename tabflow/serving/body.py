"""A request body (MLflow's scoring protocol) as a DataFrame, or a 4xx that never echoes the data."""

from __future__ import annotations

import io
import json

import pandas as pd

FORMATS = ("dataframe_split", "dataframe_records", "inputs", "instances")


class BadRequest(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


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
        raise BadRequest(
            400,
            f"{keys[0]} is malformed: give a list of row objects, or for dataframe_split "
            '{"columns": [...], "data": [[...], ...]} with one value per column',
        ) from None


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
