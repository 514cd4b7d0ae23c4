"""A request body as the model's columns (MLflow's scoring protocol), or a 4xx that never echoes the data; every
size is bounded before a frame is built."""

import json
import tracemalloc

import pandas as pd
import pytest

from tabflow.serving.body import FORMATS, BadRequest, Limits, parse

JSON = "application/json"
EXPECTED = pd.DataFrame({"a": [1.0, 2.0], "b": ["x", "y"]})
SENTINEL = "SENTINEL-7f3a-do-not-echo"
COLUMNS = ["a", "b"]  # the model's columns
DEFAULT = Limits()


def as_json(payload) -> bytes:
    return json.dumps(payload).encode()


@pytest.mark.parametrize(
    "payload",
    [
        {"dataframe_split": {"columns": ["a", "b"], "data": [[1.0, "x"], [2.0, "y"]]}},
        {"dataframe_split": {"columns": ["a", "b"], "index": [0, 1], "data": [[1.0, "x"], [2.0, "y"]]}},
        {"dataframe_records": [{"a": 1.0, "b": "x"}, {"a": 2.0, "b": "y"}]},
        {"inputs": {"a": [1.0, 2.0], "b": ["x", "y"]}},
        {"instances": {"a": [1.0, 2.0], "b": ["x", "y"]}},
        {"inputs": [{"a": 1.0, "b": "x"}, {"a": 2.0, "b": "y"}]},
        {"instances": [{"a": 1.0, "b": "x"}, {"a": 2.0, "b": "y"}]},
    ],
    ids=[
        "split",
        "split-with-index",
        "records",
        "inputs-columns",
        "instances-columns",
        "inputs-rows",
        "instances-rows",
    ],
)
def test_every_json_format_gives_the_same_frame(payload):
    out = parse(as_json(payload), JSON, COLUMNS).frame
    assert list(out.columns) == ["a", "b"], f"columns should be a, b in order: {list(out.columns)}"
    assert out["a"].tolist() == [1.0, 2.0] and out["b"].tolist() == ["x", "y"], f"values should survive: {out}"


def test_a_single_row_of_scalars():
    out = parse(as_json({"inputs": {"a": 3.5, "b": "z"}}), JSON, COLUMNS).frame
    assert out.to_dict(orient="records") == [{"a": 3.5, "b": "z"}], f"scalars should make one row: {out}"


def test_content_type_parameters_and_case_are_ignored():
    out = parse(as_json({"dataframe_records": [{"a": 1}]}), "Application/JSON; charset=utf-8", COLUMNS).frame
    assert out.to_dict(orient="records") == [{"a": 1}], "a charset parameter should not matter"


def test_an_empty_split_keeps_its_columns():
    out = parse(as_json({"dataframe_split": {"columns": ["a", "b"]}}), JSON, COLUMNS).frame
    assert out.empty and list(out.columns) == ["a", "b"], f"no data: an empty frame with the columns: {out}"


def test_csv():
    out = parse(b"a,b\n1.0,x\n2.0,y\n", "text/csv; charset=utf-8", COLUMNS).frame
    pd.testing.assert_frame_equal(out, EXPECTED, check_dtype=False, obj="the CSV frame")


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", "", "multipart/form-data; boundary=x"])
def test_other_content_types_are_415(content_type):
    with pytest.raises(BadRequest) as caught:
        parse(as_json({"inputs": {"a": [SENTINEL]}}), content_type, COLUMNS)
    assert caught.value.status == 415, f"{content_type!r} should be 415, got {caught.value.status}"
    assert "application/json or text/csv" in str(caught.value), f"the message names what works: {caught.value}"
    message = str(caught.value)
    assert SENTINEL not in message and not any(k in message for k in ("plain", "xml", "multipart")), (
        f"the message must echo neither the body nor the content type: {message}"
    )


@pytest.mark.parametrize(
    ("body", "content_type", "needle"),
    [
        (f'{{"inputs": {{"a": ["{SENTINEL}"'.encode(), JSON, "not valid JSON"),
        (b"\xff\xfe" + SENTINEL.encode(), JSON, "not valid JSON"),
        (as_json({"columns": ["a"], "data": [[SENTINEL]]}), JSON, "exactly one of"),
        (as_json({"inputs": [SENTINEL], "instances": [SENTINEL]}), JSON, "exactly one of"),
        (as_json([{"a": SENTINEL}]), JSON, "exactly one of"),
        (as_json(SENTINEL), JSON, "exactly one of"),
        (as_json({"dataframe_split": [[SENTINEL]]}), JSON, "dataframe_split is malformed"),
        (as_json({"dataframe_split": {"data": [[SENTINEL]]}}), JSON, "dataframe_split is malformed"),
        (as_json({"dataframe_split": {"columns": "a", "data": [[SENTINEL]]}}), JSON, "dataframe_split is malformed"),
        (
            as_json({"dataframe_split": {"columns": ["a"], "data": [[SENTINEL, SENTINEL]]}}),
            JSON,
            "dataframe_split is malformed",
        ),
        (as_json({"inputs": [[SENTINEL, 1]]}), JSON, "inputs is malformed"),
        (as_json({"instances": SENTINEL}), JSON, "instances is malformed"),
        (as_json({"dataframe_records": [{"a": SENTINEL}, [SENTINEL]]}), JSON, "dataframe_records is malformed"),
        (as_json({"inputs": {"a": [1, 2], "b": [SENTINEL]}}), JSON, "inputs is malformed"),
        (b"", "text/csv", "CSV body could not be parsed"),
        (b"[" * 100_000, JSON, "not valid JSON"),
        (b'{"inputs": {"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}}", JSON, "not valid JSON"),
        (as_json({"dataframe_records": [{"a": [SENTINEL], "b": "x"}]}), JSON, "a number, a string or null"),
        (as_json({"dataframe_split": {"columns": ["a", "a"], "data": [[1, 2]]}}), JSON, "distinct names"),
        (b"a,b\n\xff\xfe,x\n", "text/csv", "CSV body could not be parsed"),
    ],
    ids=[
        "truncated-json",
        "not-utf8",
        "no-format-key",
        "two-format-keys",
        "a-list",
        "a-string",
        "split-not-a-dict",
        "split-without-columns",
        "split-columns-not-a-list",
        "split-row-too-long",
        "inputs-list-of-lists",
        "instances-a-string",
        "records-mixed",
        "inputs-ragged-columns",
        "empty-csv",
        "deep-json",
        "deep-json-in-a-cell",
        "a-list-in-a-cell",
        "split-duplicate-columns",
        "csv-not-utf8",
    ],
)
def test_bad_bodies_are_400_without_echoing_the_data(body, content_type, needle):
    with pytest.raises(BadRequest) as caught:
        parse(body, content_type, COLUMNS)
    assert caught.value.status == 400, f"a bad body should be 400, got {caught.value.status}"
    assert needle in str(caught.value), f"the message should say {needle!r}: {caught.value}"
    assert SENTINEL not in str(caught.value), f"the message must not echo the body: {caught.value}"
    exc = caught.value
    assert exc.__cause__ is None and (exc.__context__ is None or exc.__suppress_context__), "parser errors are hidden"


def test_the_format_list_names_every_key():
    with pytest.raises(BadRequest) as caught:
        parse(b"{}", JSON, COLUMNS)
    assert all(f in str(caught.value) for f in FORMATS), f"the message should list {FORMATS}: {caught.value}"


def limited(status: int, needle: str, body: bytes, content_type: str = JSON, limits: Limits = DEFAULT) -> float:
    """Parse under `limits`: the 4xx with its limit named. Returns the parse's peak of allocated MB (memory, not
    time: it does not depend on the machine's load)."""
    tracemalloc.start()
    try:
        with pytest.raises(BadRequest) as caught:
            parse(body, content_type, COLUMNS, limits)
        peak = tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()
    assert caught.value.status == status and needle in str(caught.value), f"want {status} {needle!r}: {caught.value}"
    return peak


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (as_json({"dataframe_records": [{f"k{i}": 1} for i in range(20_000)]}), JSON),
        (as_json({"inputs": {f"k{i}": [1] for i in range(3_000)}}), JSON),
        ((",".join(f"k{i}" for i in range(3_000)) + "\n" + "1\n" * 100_000).encode(), "text/csv"),
        ((",".join(f"k{i}" for i in range(200_000)) + "\n").encode(), "text/csv"),
    ],
    ids=["records-distinct-keys", "inputs-wide", "csv-wide-header-short-rows", "csv-200k-columns"],
)
def test_bodies_that_would_expand_are_refused_by_their_width(body, content_type):
    """The review's H3: a few hundred KB of distinct keys or a wide header made millions of cells."""
    peak = limited(413, "columns the model does not use", body, content_type)
    assert peak < 50, f"{peak:.0f} MB allocated: the width should be refused before any cell is read"


def test_a_ragged_split_is_malformed_not_padded():
    body = as_json({"dataframe_split": {"columns": ["a", "b"], "data": [[1, "x"]] + [[1]] * 100_000}})
    limited(400, "one value per column", body)


def test_rows_and_cells_have_limits():
    rows = as_json({"dataframe_records": [{"a": 1, "b": "x"}] * 11})
    limited(413, "more than 10 rows (--max-rows)", rows, limits=Limits(rows=10))
    limited(413, "more than 20 cells", rows, limits=Limits(cells=20))
    csv = b"a,b\n" + b"1,x\n" * 11
    limited(413, "more than 10 rows (--max-rows)", csv, "text/csv", Limits(rows=10))
    assert len(parse(csv, "text/csv", COLUMNS, Limits(rows=11)).frame) == 11, "at the limit is fine"


@pytest.mark.parametrize("content_type", [JSON, "text/csv"])
def test_a_long_text_cell_is_413_naming_its_column(content_type):
    cell = "x" * 1_000_000  # a datetime parser was quadratic in this (review H4)
    body = as_json({"inputs": {"a": [1], "b": [cell]}}) if content_type == JSON else f"a,b\n1,{cell}\n".encode()
    limited(413, "column 'b' has a cell longer than 1000 characters (--max-cell-chars)", body, content_type)


def test_an_integer_beyond_float_range_is_422_not_a_crash():
    """json reads 400 digits as a Python int; pandas raised OverflowError on it (review M2)."""
    limited(422, "column 'a' has a number beyond the range", b'{"inputs": {"a": [1' + b"0" * 400 + b'], "b": ["x"]}}')


def test_only_the_models_columns_are_kept_and_the_rest_counted():
    parsed = parse(as_json({"dataframe_records": [{"b": "x", "note": SENTINEL, "a": 1}]}), JSON, COLUMNS)
    assert list(parsed.frame.columns) == ["a", "b"] and parsed.ignored == 1, f"kept and ignored: {parsed}"
    partial = parse(as_json({"dataframe_records": [{"a": 1}, {"a": 2, "b": "y"}]}), JSON, COLUMNS).frame
    assert partial["b"].isna().tolist() == [True, False], "a key some rows lack is missing in those rows"
