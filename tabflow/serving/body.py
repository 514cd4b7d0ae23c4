"""A request body (MLflow's scoring protocol) as the model's columns, or a 4xx that never echoes the data.

Every size is bounded before a frame is built: rows, cells (rows x the model's columns), the length of a text
cell and the number of columns the model does not use. A frame keeps only the model's columns, so a body of
distinct keys or ragged rows cannot expand into a matrix of its width times its length.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

FORMATS = ("dataframe_split", "dataframe_records", "inputs", "instances")
_SCALARS = frozenset({str, int, float, bool, type(None)})
_FLOAT_MAX = sys.float_info.max


class BadRequest(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Limits:
    """What one request may hold; each limit is named, with its flag, in the 413 that enforces it."""

    rows: int = 100_000
    cells: int = 5_000_000  # rows x the model's columns
    cell_chars: int = 1_000
    extra_columns: int = 256  # columns the model does not use (ignored, but each costs a lookup a row)

    def check_rows(self, rows: int, width: int) -> None:
        if rows > self.rows:
            raise BadRequest(413, f"the body has more than {self.rows} rows (--max-rows)")
        if rows * width > self.cells:
            raise BadRequest(
                413, f"the body has more than {self.cells} cells, rows x the model's {width} columns (--max-cells)"
            )


@dataclass(frozen=True)
class Parsed:
    frame: pd.DataFrame  # the model's columns that the body has, in the model's order
    ignored: int  # how many other columns the body had


def parse(body: bytes, content_type: str, columns: Sequence[str], limits: Limits = Limits()) -> Parsed:
    """The body's values of `columns`; 415 for an unknown type, 400 for a body that does not parse, 413 past a
    limit."""
    kind = content_type.split(";")[0].strip().lower()
    if kind == "text/csv":
        return _csv(body, columns, limits)
    if kind != "application/json":
        raise BadRequest(415, "this content type is not supported; use application/json or text/csv")
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than the interpreter's stack
        raise BadRequest(400, "the body is not valid JSON") from None
    keys = [k for k in FORMATS if isinstance(payload, dict) and k in payload]
    if len(keys) != 1:
        raise BadRequest(400, "the JSON body needs exactly one of: " + ", ".join(FORMATS))
    key, value = keys[0], payload[keys[0]]
    if key == "dataframe_split":
        names, table = _split(value, key)
        where = {n: i for i, n in enumerate(names)}
        rows, column = len(table), lambda c: [row[where[c]] for row in table]
    elif isinstance(value, dict):  # inputs / instances as {column: [values]} or {column: value}
        names = list(value)
        lists = {k: v if isinstance(v, list) else [v] for k, v in value.items()}
        if len({len(v) for v in lists.values()}) > 1:
            raise _malformed(key)
        rows, column = len(next(iter(lists.values()), [])), lists.__getitem__
    elif isinstance(value, list) and all(isinstance(row, dict) for row in value):
        names = list(set().union(*value))
        rows, column = len(value), lambda c: [row.get(c) for row in value]
    else:
        raise _malformed(key)
    present = set(names)
    wanted = [c for c in columns if c in present]
    _check_width(len(names) - len(wanted), limits)
    limits.check_rows(rows, len(columns))
    data = {c: column(c) for c in wanted}  # only now are cells read: the width and the rows are bounded
    for name, cells in data.items():
        _check_cells(name, cells, limits)
    return Parsed(pd.DataFrame(data, index=pd.RangeIndex(rows)), len(names) - len(wanted))


def _split(value, key: str) -> tuple[list, list]:
    """dataframe_split's column names and rows, each row as long as the names."""
    if not isinstance(value, dict) or not isinstance(value.get("columns"), list):
        raise _malformed(key)
    names, data = value["columns"], value.get("data", [])
    if not all(isinstance(n, str) for n in names) or len(set(names)) != len(names):
        raise BadRequest(400, "dataframe_split's columns must be distinct names")
    if not isinstance(data, list) or not all(isinstance(r, list) and len(r) == len(names) for r in data):
        raise _malformed(key)
    return names, data


def _csv(body: bytes, columns: Sequence[str], limits: Limits) -> Parsed:
    """The header is read alone first, so that only the model's columns are parsed, and at most as many rows as
    the limits allow."""
    bad = BadRequest(400, "the CSV body could not be parsed; send a header line and rows")
    try:
        header = next(csv.reader(io.TextIOWrapper(io.BytesIO(body), encoding="utf-8", newline="")))
    except (StopIteration, csv.Error, UnicodeDecodeError):
        raise bad from None
    present = set(header)
    wanted = [c for c in columns if c in present]
    _check_width(len(header) - len(wanted), limits)
    most, keep = min(limits.rows, limits.cells // max(1, len(columns))), set(wanted)
    try:
        # With none of the model's columns, the first column still counts the rows (for the right 422).
        frame = pd.read_csv(io.BytesIO(body), usecols=(lambda c: c in keep) if keep else [0], nrows=most + 1)
    except Exception:  # pandas raises many types here; none of them is the client's business
        raise bad from None
    limits.check_rows(len(frame), len(columns))
    for name in wanted:
        if not pd.api.types.is_numeric_dtype(frame[name]):  # text (str or object), or dates
            longest = frame[name].map(lambda v: len(v) if isinstance(v, str) else 0).max()
            if longest > limits.cell_chars:
                raise _too_long(name, limits)
    return Parsed(frame[wanted], len(header) - len(wanted))


def _check_width(extra: int, limits: Limits) -> None:
    if extra > limits.extra_columns:
        raise BadRequest(
            413, f"the body has more than {limits.extra_columns} columns the model does not use; send its columns"
        )


def _check_cells(name: str, cells: list, limits: Limits) -> None:
    """Cells are JSON scalars; a number beyond float64 or a text longer than the limit is refused here, before
    pandas converts it (an integer of 400 digits raised OverflowError there)."""
    kinds = set(map(type, cells))
    if not kinds <= _SCALARS:
        raise BadRequest(400, f"column {name!r}: each cell must be a number, a string or null")
    if int in kinds and any(abs(v) > _FLOAT_MAX for v in cells if type(v) is int):
        raise BadRequest(422, f"column {name!r} has a number beyond the range of a float; send finite numbers")
    if str in kinds and max(len(v) for v in cells if type(v) is str) > limits.cell_chars:
        raise _too_long(name, limits)


def _too_long(name: str, limits: Limits) -> BadRequest:
    return BadRequest(413, f"column {name!r} has a cell longer than {limits.cell_chars} characters (--max-cell-chars)")


def _malformed(key: str) -> BadRequest:
    return BadRequest(
        400,
        f"{key} is malformed: give a list of row objects, or for dataframe_split "
        '{"columns": [...], "data": [[...], ...]} with one value per column',
    )


async def read(request, limit: int, deadline: float) -> bytes:
    """The body, or 413 past `limit` bytes, or 408 when it has not all arrived by `deadline` (loop time).

    A body over the limit is drained up to twice the limit (nothing held), so that a client that sends it all
    before reading reads the 413 rather than a reset connection. A declared length past that is refused before
    a byte is read, and the connection closed."""
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared[:20]) > 2 * limit:
        raise BadRequest(413, f"the body is larger than the limit of {limit} bytes (--max-body-mb)")
    parts, size = [], 0
    try:
        async with asyncio.timeout_at(deadline):
            async for chunk in request.stream():
                size += len(chunk)
                if size <= limit:
                    parts.append(chunk)
                elif size > 2 * limit:
                    break
    except TimeoutError:
        raise BadRequest(408, "the body did not arrive in time (--deadline-s)") from None
    if size > limit:
        raise BadRequest(413, f"the body is larger than the limit of {limit} bytes (--max-body-mb)")
    return b"".join(parts)
