"""Column roles."""

import pytest

from tabflow.config import SplitConfig
from tabflow.data import clean
from tabflow.errors import DataError
from tests.helpers import mixed_frame


def test_roles_are_inferred_like_a_careful_analyst_would():
    table = clean.clean_table(mixed_frame(), "y", SplitConfig(), "d")
    assert table.report["roles"] == {
        "num": "numeric",
        "code": "categorical",
        "row_number": "id",
        "customer_id": "id",
        "city": "categorical",
        "flag": "categorical",
        "when": "datetime",
        "note": "text",
        "price": "numeric",
        "const": "drop",
    }
    assert table.report["cells_coerced_to_missing"] == {"price": 1}
    assert table.features == ("num", "code", "city", "flag", "when", "price")
    summary = clean.describe_cleaning(table.report)
    assert "column 'note' dropped: free text" in summary and "'price': 1 text value(s)" in summary


def test_roles_set_in_the_config_win():
    table = clean.clean_table(mixed_frame(), "y", SplitConfig(), "d", columns={"code": "numeric", "num": "drop"})
    assert table.roles["code"] == "numeric" and "num" not in table.roles
    assert table.report["columns_dropped"]["num"] == "role drop set in data.columns"
    with pytest.raises(DataError, match=r"data\.columns names 'nope'"):
        clean.clean_table(mixed_frame(), "y", SplitConfig(), "d", columns={"nope": "drop"})


def test_mostly_numeric_column_with_too_much_text_fails():
    raw = mixed_frame().assign(price=["1.5", "2.5", "x"] * 13 + ["3"])
    with pytest.raises(DataError, match=r"column 'price' holds numbers but 32% of its values are text \(e.g. 'x'\)"):
        clean.clean_table(raw, "y", SplitConfig(), "d")
