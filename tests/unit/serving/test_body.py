"""A request body as a DataFrame (MLflow's scoring protocol), or a 4xx that never echoes the data."""

import json

import pandas as pd
import pytest

from tabflow.serving.body import FORMATS, BadRequest, parse

JSON = "application/json"
EXPECTED = pd.DataFrame({"a": [1.0, 2.0], "b": ["x", "y"]})
SENTINEL = "SENTINEL-7f3a-do-not-echo"


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
    out = parse(as_json(payload), JSON)
    assert list(out.columns) == ["a", "b"], f"columns should be a, b in order: {list(out.columns)}"
    assert out["a"].tolist() == [1.0, 2.0] and out["b"].tolist() == ["x", "y"], f"values should survive: {out}"


def test_a_single_row_of_scalars():
    out = parse(as_json({"inputs": {"a": 3.5, "b": "z"}}), JSON)
    assert out.to_dict(orient="records") == [{"a": 3.5, "b": "z"}], f"scalars should make one row: {out}"


def test_content_type_parameters_and_case_are_ignored():
    out = parse(as_json({"dataframe_records": [{"a": 1}]}), "Application/JSON; charset=utf-8")
    assert out.to_dict(orient="records") == [{"a": 1}], "a charset parameter should not matter"


def test_an_empty_split_keeps_its_columns():
    out = parse(as_json({"dataframe_split": {"columns": ["a", "b"]}}), JSON)
    assert out.empty and list(out.columns) == ["a", "b"], f"no data: an empty frame with the columns: {out}"


def test_csv():
    out = parse(b"a,b\n1.0,x\n2.0,y\n", "text/csv; charset=utf-8")
    pd.testing.assert_frame_equal(out, EXPECTED, check_dtype=False, obj="the CSV frame")


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", "", "multipart/form-data; boundary=x"])
def test_other_content_types_are_415(content_type):
    with pytest.raises(BadRequest) as caught:
        parse(as_json({"inputs": {"a": [SENTINEL]}}), content_type)
    assert caught.value.status == 415, f"{content_type!r} should be 415, got {caught.value.status}"
    assert "application/json or text/csv" in str(caught.value), f"the message names what works: {caught.value}"
    assert SENTINEL not in str(caught.value), "the message must not echo the body"


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
    ],
)
def test_bad_bodies_are_400_without_echoing_the_data(body, content_type, needle):
    with pytest.raises(BadRequest) as caught:
        parse(body, content_type)
    assert caught.value.status == 400, f"a bad body should be 400, got {caught.value.status}"
    assert needle in str(caught.value), f"the message should say {needle!r}: {caught.value}"
    assert SENTINEL not in str(caught.value), f"the message must not echo the body: {caught.value}"
    exc = caught.value
    assert exc.__cause__ is None and (exc.__context__ is None or exc.__suppress_context__), "parser errors are hidden"


def test_the_format_list_names_every_key():
    with pytest.raises(BadRequest) as caught:
        parse(b"{}", JSON)
    assert all(f in str(caught.value) for f in FORMATS), f"the message should list {FORMATS}: {caught.value}"
