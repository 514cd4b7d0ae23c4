"""Every bad input the data issue lists, as a fixture written by the test: one DataError naming the problem and
the fix. (tests/flows/test_cli.py checks that a DataError reaches the user as one line with exit code 2.)"""

import numpy as np
import pandas as pd
import pytest

from tabflow.config import SplitConfig
from tabflow.data import clean, read, validate
from tabflow.errors import DataError


def ingest(path, target: str = "y") -> clean.CleanTable:
    """What the flow's load, validate and clean tasks do."""
    frame = read.load_table(str(path))
    validate.validate_table(frame, target, SplitConfig())
    return clean.clean_table(frame, target, SplitConfig(), read.digest_frame(frame))


def rows(n: int = 40, classes=("a", "b")) -> str:
    return "".join(f"{i * 0.5},{i % 3},{classes[i % len(classes)]}\n" for i in range(n))


CASES = {
    "empty file": ("t.csv", b"", "is empty"),
    "header only": ("t.csv", b"x,z,y\n", "has no rows"),
    "unknown target": ("t.csv", ("x,z,label\n" + rows()).encode(), "target column 'y' not found"),
    "target all missing": ("t.csv", ("x,z,y\n" + "1,2,\n" * 30).encode(), "has no values"),
    "single class": ("t.csv", ("x,z,y\n" + rows(classes=("a",))).encode(), "has a single class ('a')"),
    "too few rows of a class": (
        "t.csv",
        ("x,z,y\n" + rows(30, ("a",)) + "1,1,b\n").encode(),
        "class 'b' of 'y' has 1 rows",
    ),
    "all features constant": ("t.csv", ("x,z,y\n" + "1,2,a\n1,2,b\n" * 20).encode(), "no usable feature columns"),
    "not UTF-8 or Windows-1252": ("t.csv", b"x,z,y\n\x81\x8d,1,a\n", "neither UTF-8 nor Windows-1252"),
    "wrong delimiter": ("t.csv", ("x:z:y\n" + rows().replace(",", ":")).encode(), "parsed as a single column"),
    "duplicate column names": ("t.csv", ("x,x,y\n" + rows()).encode(), "duplicate column names: 'x' (2x)"),
    "infinite values": ("t.csv", ("x,z,y\ninf,1,a\n" + rows()).encode(), "column 'x' has 1 infinite value"),
    "text in a numeric column": (
        "t.csv",
        ("x,z,y\n" + "".join(f"{'n.a.' if i % 3 == 0 else i},{i},{'ab'[i % 2]}\n" for i in range(40))).encode(),
        "column 'x' holds numbers but 35% of its values are text",
    ),
    "binary data": ("t.csv", b"x,y\n\x00\x01\x02", "binary data, not CSV text"),
    "Parquet that is not Parquet": ("t.parquet", b"x,z,y\n1,2,a\n", "as Parquet"),
    "a control character in a column name": (
        "t.csv",
        ('"x\nFORGED log line",z,y\n' + rows()).encode(),
        "column name 'x\\\\nFORGED log line' holds a control character",
    ),
    "10,000 columns": (
        "t.csv",
        (",".join(f"c{i}" for i in range(10_000)) + ",y\n" + ("1," * 10_000 + "a\n") * 5).encode(),
        "has 10,001 columns, over the 2,000 tabflow trains on",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_fails_with_one_clear_line(tmp_path, case):
    name, content, expected = CASES[case]
    (tmp_path / name).write_bytes(content)
    with pytest.raises(DataError, match=expected.replace("(", r"\(").replace(")", r"\)")) as err:
        ingest(tmp_path / name)
    message = str(err.value)
    assert "\n" not in message and ";" in message, "one line: the problem, then what to do"


def test_semicolon_and_windows_1252_files_are_read(tmp_path):
    lines = [f"{i * 0.5};{'Málaga' if i % 2 else 'Köln'};{'ab'[i % 3 % 2]}\n" for i in range(40)]
    (tmp_path / "t.csv").write_bytes(("x;city;y\n" + "".join(lines)).encode("cp1252"))
    table = ingest(tmp_path / "t.csv")
    assert set(table.frame["city"]) == {"Málaga", "Köln"} and table.roles["x"] == "numeric"


def test_parquet_with_mixed_types_reads_like_csv(tmp_path):
    frame = pd.DataFrame({"x": np.arange(40) * 0.5, "city": ["A", "B"] * 20, "y": ["a", "b", "b", "a"] * 10})
    frame.to_parquet(tmp_path / "t.parquet")
    assert ingest(tmp_path / "t.parquet").roles == {"x": "numeric", "city": "categorical"}


def test_a_symbolic_link_is_refused(tmp_path):
    """The run records the path it read and the digest of what it found; a link can point elsewhere tomorrow."""
    (tmp_path / "real.csv").write_text("x,z,y\n" + rows())
    (tmp_path / "link.csv").symlink_to(tmp_path / "real.csv")
    with pytest.raises(DataError, match="is a symbolic link; pass the path of the file it points to"):
        ingest(tmp_path / "link.csv")


def test_a_file_that_grows_while_it_is_read_is_refused(tmp_path, monkeypatch):
    """An export still being written: the read saw part of it. Simulated by appending during the read."""
    path = tmp_path / "t.csv"
    path.write_text("x,z,y\n" + rows())
    real = read._read_csv

    def read_while_written(source):
        frame = real(source)
        with open(source, "a") as fh:
            fh.write(rows(5))
        return frame

    monkeypatch.setattr(read, "_read_csv", read_while_written)
    with pytest.raises(DataError, match="changed while it was read; run again once it is written completely"):
        ingest(path)


def test_an_unwritable_store_is_one_line(tmp_path):
    """A store under a file cannot be created, even by root (a read-only directory would not stop root)."""
    from tabflow import tracking
    from tabflow.errors import TabflowError
    from tests.helpers import saved_uris

    (tmp_path / "file").write_text("")
    restore = saved_uris()
    try:
        with pytest.raises(TabflowError, match=r"cannot write to the store .* choose a writable --store"):
            tracking.configure(tmp_path / "file" / "store")
    finally:
        restore()
