"""Read a table: a CSV or Parquet file, or a built-in demo table. Raw frames are never mutated."""

from __future__ import annotations

import contextlib
import hashlib
from pathlib import Path

import pandas as pd

from tabflow import settings
from tabflow.config import BUILTIN_PREFIX
from tabflow.errors import DataError, first_line

BUILTINS = ("breast_cancer", "wine", "digits", "diabetes")  # scikit-learn's bundled tables: binary, 3 and 10
# classes, regression


def check_source(source: str) -> None:
    """The checks that need no reading: a known built-in, or an existing file with a known suffix."""
    if source.startswith(BUILTIN_PREFIX):
        name = source[len(BUILTIN_PREFIX) :]
        if name not in BUILTINS:
            raise DataError(
                f"unknown built-in table {name!r}; available: " + ", ".join(f"{BUILTIN_PREFIX}{b}" for b in BUILTINS)
            )
        return
    if Path(source).is_symlink():  # the run records the path it read, and the digest of what it found there
        raise DataError(f"data file {source!r} is a symbolic link; pass the path of the file it points to")
    if not Path(source).is_file():
        raise DataError(f"data file {source!r} not found; check the path or use builtin:breast_cancer")
    if Path(source).suffix.lower() not in (".csv", ".parquet", ".pq"):
        raise DataError(f"cannot read {source!r}: use a .csv or .parquet file")


ENCODINGS = ("utf-8-sig", "cp1252")  # UTF-8 (with or without a byte-order mark), then Excel's Western default


DELIMITERS = ",;\t|"


def peek_columns(source: str) -> list[str] | None:
    """The column names from the header alone, so the CLI can catch a wrong --target in milliseconds."""
    check_source(source)
    if source.startswith(BUILTIN_PREFIX):
        return None
    with contextlib.suppress(Exception):  # unreadable files get their full error from load_table
        if _is_csv(source):
            encoding, delimiter = sniff_csv(source)
            names = [str(c) for c in pd.read_csv(source, nrows=0, sep=delimiter, encoding=encoding).columns]
            return names if len(names) > 1 else None  # one column: load_table explains the delimiter
        import pyarrow.parquet as pq

        return list(pq.read_schema(source).names)
    return None


def load_table(source: str) -> pd.DataFrame:
    """Read a CSV or Parquet file, or a built-in demo table; unreadable input fails with what to do."""
    check_source(source)
    if source.startswith(BUILTIN_PREFIX):
        from sklearn import datasets

        loader = getattr(datasets, f"load_{source[len(BUILTIN_PREFIX) :]}")
        return loader(as_frame=True).frame  # real column names plus `target`
    before = _state(source)
    frame = _read_csv(source) if _is_csv(source) else _read_parquet(source)
    if _state(source) != before:
        raise DataError(f"data file {source!r} changed while it was read; run again once it is written completely")
    if frame.shape[1] > settings.MAX_COLUMNS:
        raise DataError(
            f"{source!r} has {frame.shape[1]:,} columns, over the {settings.MAX_COLUMNS:,} tabflow trains on; "
            "select the columns that matter before training"
        )
    odd = [str(c) for c in frame.columns if any(ord(ch) < 32 or ord(ch) == 127 for ch in str(c))]
    if odd:  # a line break in a name would split a log line, and a terminal code could rewrite one
        raise DataError(f"column name {odd[0][:60]!r} holds a control character (e.g. a line break); rename it")
    if frame.shape[1] == 1 and _is_csv(source):
        raise DataError(
            f"{source!r} parsed as a single column ({str(frame.columns[0])[:40]!r}); tabflow reads "
            "comma-, semicolon-, tab- or pipe-separated files: re-export it with one of those"
        )
    return frame


def _state(source: str) -> tuple[int, int]:
    info = Path(source).stat()
    return info.st_size, info.st_mtime_ns


def _is_csv(source: str) -> bool:
    return Path(source).suffix.lower() == ".csv"


def sniff_csv(source: str) -> tuple[str, str]:
    """The encoding and delimiter, from the first 64 KiB; the full read retries other encodings if needed."""
    import csv

    with open(source, "rb") as fh:
        sample = fh.read(65536)
    if not sample.strip():
        raise DataError(f"data file {source!r} is empty; give a table with a header and rows")
    if b"\x00" in sample:
        raise DataError(f"{source!r} holds binary data, not CSV text; export the table as CSV (UTF-8) or Parquet")
    text = None
    for encoding in ENCODINGS:
        with contextlib.suppress(UnicodeDecodeError):
            text = sample[: sample.rfind(b"\n") + 1 or None].decode(encoding)
            break
    if text is None:
        raise DataError(f"{source!r} is neither UTF-8 nor Windows-1252 text; re-export it as UTF-8")
    try:
        delimiter = csv.Sniffer().sniff(text.splitlines()[0], delimiters=DELIMITERS).delimiter
    except csv.Error:
        delimiter = ","
    return encoding, delimiter


def _read_csv(source: str) -> pd.DataFrame:
    first, delimiter = sniff_csv(source)
    _refuse_duplicate_names(source, first, delimiter)
    for encoding in ENCODINGS[ENCODINGS.index(first) :]:
        try:
            return pd.read_csv(source, sep=delimiter, encoding=encoding, low_memory=False)
        except UnicodeDecodeError:
            continue  # a byte past the sniffed sample; the next encoding may read it
        except pd.errors.EmptyDataError:
            raise DataError(f"data file {source!r} is empty; give a table with a header and rows") from None
        except (OSError, ValueError, pd.errors.ParserError) as exc:
            raise DataError(f"cannot read {source!r} as CSV ({first_line(exc, 160)}); check the export") from None
    raise DataError(f"{source!r} is neither UTF-8 nor Windows-1252 text; re-export it as UTF-8")


def _refuse_duplicate_names(source: str, encoding: str, delimiter: str) -> None:
    """pandas silently renames a repeated header to `name.1`; two columns with one name are a mistake."""
    import csv

    with open(source, encoding=encoding, errors="replace", newline="") as fh:
        header = next(csv.reader(fh, delimiter=delimiter), [])
    _check_unique(source, header)


def _check_unique(source: str, names: list[str]) -> None:
    seen = pd.Series(names).value_counts()
    repeated = [f"{name!r} ({count}x)" for name, count in seen.items() if count > 1]
    if repeated:
        raise DataError(
            f"{source!r} has duplicate column names: {', '.join(repeated)}; rename them so each column has its own name"
        )


def _read_parquet(source: str) -> pd.DataFrame:
    import pyarrow.parquet as pq

    try:
        _check_unique(source, list(pq.read_schema(source).names))
        return pd.read_parquet(source)
    except DataError:
        raise
    except Exception as exc:  # pyarrow raises several types for a file that is not Parquet
        raise DataError(
            f"cannot read {source!r} as Parquet ({first_line(exc, 160)}); check that it is a Parquet "
            "file, or save it with a .csv name if it is CSV text"
        ) from None


def digest_frame(frame: pd.DataFrame) -> str:
    """A content digest (values, column names and dtypes), stable across processes."""
    h = hashlib.sha256()
    h.update(repr([(str(c), str(t)) for c, t in frame.dtypes.items()]).encode())
    h.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return h.hexdigest()[:16]
