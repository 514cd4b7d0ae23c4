"""The data contract: what a model needs, checked on every request, without echoing the data."""

import numpy as np
import pandas as pd
import pytest

from tabflow.serving.contract import check_input, input_schema, network_output

SCHEMA_FRAME = pd.DataFrame(
    {"x": np.arange(11.0), "city": ["rome"] * 5 + ["oslo"] * 5 + ["SENTINEL-7"]}  # one value seen once
)
ROLES = {"x": "numeric", "city": "categorical"}


def test_the_schema_records_ranges_and_the_categories_the_model_learned():
    """A category seen fewer than MIN_COUNT times shares the "other" code; listing it would publish one
    training row's value (review M8)."""
    schema = input_schema(SCHEMA_FRAME, ROLES)
    assert schema == {
        "x": {"role": "numeric", "min": 0.0, "max": 10.0},
        "city": {"role": "categorical", "categories": ["oslo", "rome"]},
    }


def test_missing_columns_and_text_in_numbers_are_named_not_echoed():
    schema = input_schema(SCHEMA_FRAME, ROLES)
    with pytest.raises(ValueError, match="lacks 1 column") as missing:
        check_input(pd.DataFrame({"city": ["SECRET-VALUE"]}), schema)
    assert "SECRET-VALUE" not in str(missing.value)
    with pytest.raises(ValueError, match="column 'x' must be numeric") as text:
        check_input(pd.DataFrame({"x": ["SECRET-VALUE"], "city": ["rome"]}), schema)
    assert "SECRET-VALUE" not in str(text.value)
    with pytest.raises(ValueError, match="infinite"):
        check_input(pd.DataFrame({"x": [np.inf], "city": ["rome"]}), schema)


def test_extra_columns_are_dropped_and_order_follows_the_schema():
    schema = input_schema(SCHEMA_FRAME, ROLES)
    rows = check_input(pd.DataFrame({"extra": [1], "city": ["rome"], "x": [9.0]}), schema)
    assert list(rows.columns) == ["x", "city"]


def test_network_output_per_task():
    assert network_output(pd.DataFrame({"probability": [0.2], "label": ["a"]}), "binary", ("a", "b")).shape == (1,)
    multi = pd.DataFrame({"probability_a": [0.2], "probability_b": [0.8], "label": ["b"]})
    assert network_output(multi, "multiclass", ("a", "b")).tolist() == [[0.2, 0.8]]
    assert network_output(pd.DataFrame({"prediction": [3.5]}), "regression", ()).tolist() == [3.5]


def test_numbers_beyond_float32_are_refused_like_infinity():
    """The network computes in float32: 1e39 became inf there, and the answer a null probability (review M3)."""
    schema = {"x": {"role": "numeric", "min": 0.0, "max": 1.0}, "city": {"role": "categorical"}}
    for value in (1e39, -1e39, np.inf):
        with pytest.raises(ValueError, match="column 'x' has 1 value"):
            check_input(pd.DataFrame({"x": [value], "city": ["rome"]}), schema)
    assert len(check_input(pd.DataFrame({"x": [3e38], "city": ["rome"]}), schema)) == 1, "in range is fine"
