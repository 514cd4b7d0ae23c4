"""Reading files and built-in tables."""

import numpy as np
import pandas as pd
import pytest

from tabflow.data import read, validate
from tabflow.errors import DataError


def test_builtin_has_real_names_and_a_target(raw):
    assert raw.shape == (569, 31)
    assert "mean radius" in raw.columns and "target" in raw.columns


def test_digest_is_stable_and_content_sensitive(raw):
    assert read.digest_frame(raw) == read.digest_frame(raw.copy())
    changed = raw.copy()
    changed.iloc[0, 0] += 1
    assert read.digest_frame(changed) != read.digest_frame(raw)


def test_csv_and_parquet_load_the_same_table(tmp_path, raw):
    raw.to_csv(tmp_path / "t.csv", index=False)
    raw.to_parquet(tmp_path / "t.parquet")
    pd.testing.assert_frame_equal(read.load_table(str(tmp_path / "t.parquet")), raw)
    assert np.allclose(read.load_table(str(tmp_path / "t.csv")).to_numpy(), raw.to_numpy())


@pytest.mark.parametrize(
    ("content", "name", "expected"),
    [
        (None, "missing.csv", "not found"),
        ("", "empty.csv", "is empty"),
        ("a,b\n1,2\n", "t.txt", "use a .csv or .parquet"),
        ("not parquet at all", "t.parquet", "t.parquet' as Parquet"),
    ],
)
def test_unreadable_files_get_a_data_error(tmp_path, content, name, expected):
    if content is not None:
        (tmp_path / name).write_text(content)
    with pytest.raises(DataError, match=expected):
        read.load_table(str(tmp_path / name))


def test_peek_finds_a_wrong_target_from_the_header(tmp_path):
    (tmp_path / "t.csv").write_text("a,b,label\n1,2,x\n")
    cols = read.peek_columns(str(tmp_path / "t.csv"))
    assert cols == ["a", "b", "label"]
    with pytest.raises(DataError, match="target column 'target' not found; pass --target with one of: a, b, label"):
        validate.require_target(cols, "target")
