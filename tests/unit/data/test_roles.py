"""Column roles."""

import numpy as np
import pandas as pd
import pytest

from tabflow.config import SplitConfig
from tabflow.data import clean
from tabflow.errors import DataError


def mixed_frame(n: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    price = [f"{v:.2f}" for v in rng.uniform(1, 100, n)]
    price[3] = "abc"
    return pd.DataFrame(
        {
            "num": rng.normal(size=n),
            "code": rng.integers(0, 4, n),
            "row_number": np.arange(n),
            "customer_id": rng.permutation(n) * 7 + 1000,
            "city": rng.choice(["Oslo", "Lima", "Pune", None], n),
            "flag": rng.integers(0, 2, n).astype(bool),
            "when": pd.date_range("2024-01-01", periods=n, freq="37h").strftime("%Y-%m-%d %H:%M"),
            "note": [f"free text number {i} here" for i in range(n)],
            "price": price,
            "const": 5,
            "y": ["a", "b"] * (n // 2),
        }
    )


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
