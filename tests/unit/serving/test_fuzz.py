"""Property-based: random JSON, CSV, bytes and headers posted to `tabflow serve`'s app in-process. No answer is a
5xx; every 4xx is short and echoes none of the request's text; no 200 holds a missing prediction."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.serving.served import app

MARK = "§"  # in every generated text: the request's own strings are then recognisable in an answer

pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient` is deprecated")


@pytest.fixture(scope="module")
def http(store):
    path, splits = store
    with app(path, max_bytes=256 * 1024, max_rows=500) as client:
        yield client, list(splits.roles)


def texts():
    return st.text(max_size=12).map(lambda t: MARK + t)


def cells():
    return st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(10**400), max_value=10**400),
        st.floats(allow_nan=True, allow_infinity=True),
        texts(),
        st.lists(st.integers(), max_size=2),
        st.dictionaries(texts(), st.integers(), max_size=2),
    )


@st.composite
def bodies(draw, columns: list[str]):
    """(bytes, content type, the request's own strings)."""
    names = st.one_of(st.sampled_from(columns), texts())
    row = st.dictionaries(names, cells(), max_size=8)
    kind = draw(st.sampled_from(["records", "split", "inputs", "instances", "csv", "bytes", "json"]))
    if kind == "records":
        payload = {"dataframe_records": draw(st.lists(row, max_size=6))}
    elif kind == "split":
        cols = draw(st.lists(names, max_size=8))
        width = draw(st.sampled_from([len(cols), len(cols) + 1, max(len(cols) - 1, 0)]))
        payload = {
            "dataframe_split": {
                "columns": cols,
                "data": draw(st.lists(st.lists(cells(), min_size=width, max_size=width), max_size=6)),
            }
        }
    elif kind in ("inputs", "instances"):
        payload = {
            kind: draw(
                st.one_of(
                    st.dictionaries(names, st.lists(cells(), max_size=4), max_size=8),
                    st.lists(row, max_size=4),
                    cells(),
                )
            )
        }
    elif kind == "json":  # any JSON at all, a format key or not
        payload = draw(
            st.recursive(cells(), lambda inner: st.lists(inner) | st.dictionaries(texts(), inner), max_leaves=20)
        )
    else:
        payload = None
    if kind == "csv":
        header = draw(st.lists(names, min_size=1, max_size=6))
        lines = draw(st.lists(st.lists(st.one_of(texts(), st.floats().map(str)), max_size=7), max_size=5))
        text = "\n".join([",".join(header), *(",".join(line) for line in lines)])
        return text.encode(), draw(st.sampled_from(["text/csv", "text/csv; charset=utf-8"])), [text]
    if kind == "bytes":
        raw = draw(st.binary(max_size=200))
        return raw, draw(st.sampled_from(["application/json", "text/csv", "text/plain", "", MARK + "x/y"])), []
    body = json.dumps(payload).encode()
    return body, "application/json", [s for s in _strings(payload) if MARK in s]


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(data=st.data())
def test_no_request_gets_a_5xx_or_an_echo(http, data):
    client, columns = http
    body, content_type, own = data.draw(bodies(columns))
    extra = data.draw(
        st.dictionaries(
            st.sampled_from(["authorization", "x-mlflow-timestamp", "accept"]),
            st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=20),
            max_size=2,
        )
    )
    headers = {"content-type": content_type.encode("latin-1"), **extra}  # latin-1: as a server reads headers
    answer = client.post("/invocations", content=body, headers=headers)
    assert answer.status_code < 500, f"{answer.status_code}: {answer.text[:300]}"
    if answer.status_code >= 400:
        assert len(answer.content) < 400, f"a 4xx is a line, not a dump: {answer.text[:300]}"
        assert MARK not in answer.text, f"a 4xx echoes no input: {answer.text}"
        assert not [s for s in own if len(s) > 3 and s in answer.text], "nor any of its strings"
    else:
        for prediction in answer.json()["predictions"]:
            assert None not in prediction.values(), f"a 200 always holds a prediction: {prediction}"
