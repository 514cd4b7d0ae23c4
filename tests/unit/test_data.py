import numpy as np
import pandas as pd
import pytest

from tabflow import data
from tabflow.config import SplitConfig
from tabflow.errors import DataError


def test_builtin_has_real_names_and_a_target(raw):
    assert raw.shape == (569, 31)
    assert "mean radius" in raw.columns and "target" in raw.columns


def test_digest_is_stable_and_content_sensitive(raw):
    assert data.digest_frame(raw) == data.digest_frame(raw.copy())
    changed = raw.copy()
    changed.iloc[0, 0] += 1
    assert data.digest_frame(changed) != data.digest_frame(raw)


def test_csv_and_parquet_load_the_same_table(tmp_path, raw):
    raw.to_csv(tmp_path / "t.csv", index=False)
    raw.to_parquet(tmp_path / "t.parquet")
    pd.testing.assert_frame_equal(data.load_table(str(tmp_path / "t.parquet")), raw)
    assert np.allclose(data.load_table(str(tmp_path / "t.csv")).to_numpy(), raw.to_numpy())


@pytest.mark.parametrize(("content", "name", "expected"), [
    (None, "missing.csv", "not found"),
    ("", "empty.csv", "is empty"),
    ("a,b\n1,2\n", "t.txt", "use a .csv or .parquet"),
    ("not parquet at all", "t.parquet", "t.parquet' as Parquet"),
])
def test_unreadable_files_get_a_data_error(tmp_path, content, name, expected):
    if content is not None:
        (tmp_path / name).write_text(content)
    with pytest.raises(DataError, match=expected):
        data.load_table(str(tmp_path / name))


def test_peek_finds_a_wrong_target_from_the_header(tmp_path):
    (tmp_path / "t.csv").write_text("a,b,label\n1,2,x\n")
    cols = data.peek_columns(str(tmp_path / "t.csv"))
    assert cols == ["a", "b", "label"]
    with pytest.raises(DataError, match="target column 'target' not found; pass --target with one of: a, b, label"):
        data.require_target(cols, "target")


def frame(n_a: int, n_b: int) -> pd.DataFrame:
    return pd.DataFrame({"x": np.arange(n_a + n_b, dtype=float), "y": ["a"] * n_a + ["b"] * n_b})


@pytest.mark.parametrize(("table", "target", "expected"), [
    (frame(10, 10).iloc[:0], "y", "no rows"),
    (frame(10, 10), "nope", "not found"),
    (frame(10, 10)[["y"]], "y", "no feature columns"),
    (frame(20, 0), "y", "single class"),
    (frame(20, 3), "y", "class 'b' of 'y' has 3 rows"),
])
def test_validation_says_what_to_do(table, target, expected):
    with pytest.raises(DataError, match=expected):
        data.validate_table(table, target, SplitConfig())


def test_clean_drops_and_reports_without_mutating_the_input():
    raw = frame(10, 10).assign(const=1.0, text="t", n=np.arange(20))
    raw.loc[0, "y"] = None
    raw = pd.concat([raw, raw.iloc[[1]]], ignore_index=True)
    before = raw.copy()
    table = data.clean_table(raw, "y", SplitConfig(), "d")
    pd.testing.assert_frame_equal(raw, before)
    assert table.report["rows_missing_target"] == 1 and table.report["rows_duplicate"] == 1
    assert table.report["columns_dropped"] == {"const": "constant", "text": "constant"}
    assert table.roles == {"x": "numeric", "n": "numeric"}
    assert table.features == ("x", "n") and len(table.frame) == 19


def test_clean_fails_when_no_feature_is_left():
    with pytest.raises(DataError, match="no usable feature columns"):
        data.clean_table(frame(10, 10).assign(x=1.0), "y", SplitConfig(), "d")
    with pytest.raises(DataError, match="no usable feature columns"):
        data.clean_table(frame(10, 10), "y", SplitConfig(), "d", columns={"x": "drop"})


def mixed_frame(n: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    price = [f"{v:.2f}" for v in rng.uniform(1, 100, n)]
    price[3] = "abc"
    return pd.DataFrame({
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
    })


def test_roles_are_inferred_like_a_careful_analyst_would():
    table = data.clean_table(mixed_frame(), "y", SplitConfig(), "d")
    assert table.report["roles"] == {
        "num": "numeric", "code": "categorical", "row_number": "id", "customer_id": "id", "city": "categorical",
        "flag": "categorical", "when": "datetime", "note": "text", "price": "numeric", "const": "drop"}
    assert table.report["cells_coerced_to_missing"] == {"price": 1}
    assert table.features == ("num", "code", "city", "flag", "when", "price")
    summary = data.describe_cleaning(table.report)
    assert "column 'note' dropped: free text" in summary and "'price': 1 text value(s)" in summary


def test_roles_set_in_the_config_win():
    table = data.clean_table(mixed_frame(), "y", SplitConfig(), "d", columns={"code": "numeric", "num": "drop"})
    assert table.roles["code"] == "numeric" and "num" not in table.roles
    assert table.report["columns_dropped"]["num"] == "role drop set in data.columns"
    with pytest.raises(DataError, match="data.columns names 'nope'"):
        data.clean_table(mixed_frame(), "y", SplitConfig(), "d", columns={"nope": "drop"})


def test_mostly_numeric_column_with_too_much_text_fails():
    raw = mixed_frame().assign(price=["1.5", "2.5", "x"] * 13 + ["3"])
    with pytest.raises(DataError, match=r"column 'price' holds numbers but 32% of its values are text \(e.g. 'x'\)"):
        data.clean_table(raw, "y", SplitConfig(), "d")


def test_preprocessor_handles_unseen_categories_and_missing_values():
    from tabflow.model import fit_preprocessor

    table = data.clean_table(mixed_frame(), "y", SplitConfig(), "d")
    x = table.frame[list(table.features)]
    pre = fit_preprocessor(x, table.roles)
    fresh = x.head(3).copy()
    fresh.loc[0, "city"] = "Atlantis"  # never seen in training
    fresh.loc[1, ["num", "when", "code"]] = [None, None, None]
    out = pre.transform(fresh)
    assert out.shape == (3, pre.transform(x).shape[1]) and np.isfinite(out).all()
