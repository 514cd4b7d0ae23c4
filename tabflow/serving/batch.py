"""Batch scoring: a file in, the same rows' keys plus predictions plus the model version out, in bounded memory.

The input is read in chunks (CSV or Parquet), each chunk checked against the model's data contract and scored, and
written to a temporary file beside the output, which replaces the output only once every chunk is written: a
failure leaves no half-written file.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from tabflow import settings
from tabflow.errors import DataError
from tabflow.serving import integrity
from tabflow.serving.contract import check_input


@dataclass(frozen=True)
class Scored:
    model: str
    version: str
    rows: int
    input_digest: str
    output: str
    seconds: float


def chunks(path: Path, rows: int, text: frozenset[str] = frozenset()) -> Iterator[pd.DataFrame]:
    """The file in chunks of `rows`; in a CSV, the columns named in `text` are read as text, so that a key column
    has one type in every chunk (digits in the first, "A7" in a later one broke the Parquet output)."""
    if path.suffix.lower() == ".csv":
        yield from pd.read_csv(path, chunksize=rows, dtype=dict.fromkeys(text, "string"))  # absent names: ignored
        return
    import pyarrow.parquet as pq

    for batch in pq.ParquetFile(path).iter_batches(batch_size=rows):
        yield batch.to_pandas()


def columns(path: Path) -> list[str]:
    if path.suffix.lower() == ".csv":
        return list(pd.read_csv(path, nrows=0).columns)
    import pyarrow.parquet as pq

    return list(pq.ParquetFile(path).schema_arrow.names)


def load_model(ref: str):
    """NAME, NAME@alias or NAME/version -> (name, version, the unwrapped tabflow model), as a deployment loads it."""
    from mlflow import MlflowClient

    from tabflow.tracking import resolve

    name, version = resolve(MlflowClient(), ref if ("@" in ref or "/" in ref) else f"{ref}@champion")
    return name, version, integrity.load(name, version).unwrap_python_model()


def log_scoring(scored: Scored, source: Path, store: Path) -> str:
    """One MLflow run per batch, in the experiment `<model>-scoring`: what was scored, with which version."""
    from mlflow import MlflowClient

    from tabflow import tracking

    client = MlflowClient()
    experiment = tracking.experiment_id(
        client,
        f"{scored.model}-scoring",
        store,
        note=f"Batch scoring runs of the model `{scored.model}`: one run per file scored, with the version, the "
        "input's digest and the output path.",
    )
    run_id = tracking.start_run(
        client,
        experiment,
        f"score-{time.strftime('%Y%m%d-%H%M%S')}",
        tags={"model": scored.model, "model_version": scored.version, "input_digest": scored.input_digest},
    )
    tracking.log_all(
        client,
        run_id,
        params={"input": str(source), "output": scored.output, "model_uri": f"models:/{scored.model}/{scored.version}"},
        metrics={"rows": scored.rows, "seconds": scored.seconds},
    )
    client.set_terminated(run_id, "FINISHED")
    return run_id


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    return h.hexdigest()[:16]


def score_file(
    name: str,
    version: str,
    model,
    source: Path,
    target: Path,
    keys: list[str] | None = None,
    chunk_rows: int = settings.CHUNK_ROWS,
) -> Scored:
    """`model` is the unwrapped tabflow pyfunc (tabflow.serving.pyfunc.TabflowModel) of `name` version `version`."""
    for path, what in ((source, "input"), (target, "output")):
        if path.suffix.lower() not in (".csv", ".parquet", ".pq"):
            raise DataError(f"{what} {str(path)!r} must be a .csv or .parquet file")
    if not source.is_file():
        raise DataError(f"input file {str(source)!r} not found; check the path")
    start, total = time.perf_counter(), 0
    try:  # a new file of our own (O_EXCL: never a planted symlink, never another run's), published by a rename
        fd, partial = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".partial")
    except OSError as exc:
        raise DataError(f"cannot write beside {str(target)!r} ({exc.strerror}); check the output directory") from None
    tmp, sink = Path(partial), open(fd, "wb")  # noqa: SIM115  closed in the finally
    writer: Any = None
    passthrough = keys if keys is not None else [c for c in columns(source) if c not in model.schema]
    try:
        for i, frame in enumerate(chunks(source, chunk_rows, frozenset(passthrough) - set(model.schema))):
            absent = [k for k in passthrough if k not in frame.columns]
            if absent:
                raise DataError(f"--keys names column(s) the input lacks: {', '.join(absent)}")
            try:
                checked = check_input(frame, model.schema)
            except ValueError as exc:
                raise DataError(f"rows {total + 1}-{total + len(frame)} of {str(source)!r}: {exc}") from None
            out = pd.concat([frame[passthrough].reset_index(drop=True), model.predict_checked(checked)], axis=1)
            out["model_version"] = version
            writer = _write(out, sink, target.suffix.lower(), writer, first=i == 0)
            total += len(frame)
        if writer is not None and hasattr(writer, "close"):
            writer.close()
        if total == 0:
            raise DataError(f"input file {str(source)!r} has no rows")
        sink.flush()
        os.fsync(sink.fileno())  # on disk before the rename publishes it
        os.replace(tmp, target)
        _fsync_dir(target.parent)
    finally:
        if hasattr(writer, "close"):
            writer.close()  # a Parquet writer left open by a failed chunk (closing twice is harmless)
        sink.close()
        if tmp.exists():
            tmp.unlink()
    return Scored(name, version, total, file_digest(source), str(target), time.perf_counter() - start)


def _write(frame: pd.DataFrame, sink, suffix: str, writer, first: bool):
    if suffix == ".csv":
        _neutralise_formulas(frame).to_csv(sink, header=first, index=False)
        return True
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=False)
    if writer is None:
        writer = pq.ParquetWriter(sink, table.schema)
    writer.write_table(table.cast(writer.schema))  # a chunk whose key column is all empty keeps the first types
    return writer


FORMULA = ("=", "+", "-", "@", "\t", "\r")  # how a spreadsheet recognises a formula (OWASP's CSV injection list)


def _neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """Text cells a spreadsheet would run as a formula, prefixed with a quote so that they show as text. Only in
    CSV: Parquet is read by programs, and keeps the values as they were."""
    out = frame
    for name in frame.columns:
        col = frame[name]
        if pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
            continue
        text = col.astype("string")
        risky = text.str.startswith(FORMULA, na=False)
        if risky.any():
            out = out.copy() if out is frame else out
            out[name] = text.where(~risky, "'" + text)
    return out


def _fsync_dir(path: Path) -> None:
    """The rename itself on disk (a crash after os.replace could otherwise lose it)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
