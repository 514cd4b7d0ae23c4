"""Batch scoring a file in chunks, with a small stand-in for the unwrapped tabflow model."""

from typing import ClassVar

import numpy as np
import pandas as pd
import pytest

from tabflow.errors import DataError
from tabflow.serving.batch import file_digest, score_file


class Doubler:
    """What score_file needs of a TabflowModel: a schema and predict_checked on checked rows."""

    schema: ClassVar[dict] = {"a": {"role": "numeric"}, "b": {"role": "numeric"}}

    def __init__(self):
        self.chunks: list[int] = []

    def predict_checked(self, rows: pd.DataFrame) -> pd.DataFrame:
        self.chunks.append(len(rows))
        values = rows["a"].to_numpy(dtype="float64") * 2 + rows["b"].to_numpy(dtype="float64")
        return pd.DataFrame({"prediction": values})


def table(n: int = 10) -> pd.DataFrame:
    return pd.DataFrame(
        {"id": [f"r{i}" for i in range(n)], "a": np.arange(n, dtype=float), "b": np.ones(n), "note": ["n"] * n}
    )


def read(path) -> pd.DataFrame:
    return pd.read_csv(path) if path.suffix == ".csv" else pd.read_parquet(path)


@pytest.mark.parametrize(("source_suffix", "target_suffix"), [(".csv", ".csv"), (".parquet", ".parquet")])
def test_chunks_are_scored_in_order_with_keys_and_version(tmp_path, source_suffix, target_suffix):
    source, target = tmp_path / f"in{source_suffix}", tmp_path / f"out{target_suffix}"
    frame = table(10)
    frame.to_csv(source, index=False) if source_suffix == ".csv" else frame.to_parquet(source)
    model = Doubler()
    scored = score_file("m", "4", model, source, target, keys=["id"], chunk_rows=3)
    assert model.chunks == [3, 3, 3, 1], f"10 rows in chunks of 3 should be scored as 3+3+3+1: {model.chunks}"
    out = read(target)
    assert list(out.columns) == ["id", "prediction", "model_version"], f"keys, predictions, version: {out.columns}"
    assert out["id"].tolist() == frame["id"].tolist(), "rows should come out in input order, keys aligned"
    assert out["prediction"].tolist() == (frame["a"] * 2 + frame["b"]).tolist(), "each row's own prediction"
    assert out["model_version"].astype(str).eq("4").all(), "every row should carry the model version"
    assert (scored.model, scored.version, scored.rows, scored.output) == ("m", "4", 10, str(target)), scored
    assert scored.input_digest == file_digest(source), "the digest is of the input file"
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == sorted([source.name, target.name]), f"no .partial left: {left}"


def test_csv_in_parquet_out(tmp_path):
    source, target = tmp_path / "in.csv", tmp_path / "out.parquet"
    table(7).to_csv(source, index=False)
    score_file("m", "1", Doubler(), source, target, keys=["id"], chunk_rows=2)
    out = pd.read_parquet(target)
    assert len(out) == 7 and out["id"].tolist() == [f"r{i}" for i in range(7)], f"all 7 rows in order: {out}"


def test_without_keys_every_column_the_model_does_not_use_passes_through(tmp_path):
    source, target = tmp_path / "in.csv", tmp_path / "out.csv"
    table(4).to_csv(source, index=False)
    score_file("m", "2", Doubler(), source, target)
    out = pd.read_csv(target)
    assert list(out.columns) == ["id", "note", "prediction", "model_version"], f"id and note pass: {out.columns}"


def test_a_bad_chunk_names_its_rows_and_leaves_no_file(tmp_path):
    source, target = tmp_path / "in.csv", tmp_path / "out.csv"
    frame = table(10).astype({"a": object})
    frame.loc[7, "a"] = "not-a-number"  # row 8: the third chunk of 3 (rows 7-9)
    frame.to_csv(source, index=False)
    model = Doubler()
    with pytest.raises(DataError, match=r"rows 7-9 of .*in\.csv.*column 'a' must be numeric"):
        score_file("m", "1", model, source, target, keys=["id"], chunk_rows=3)
    assert model.chunks == [3, 3], f"the two good chunks were scored before the bad one: {model.chunks}"
    assert not target.exists(), "no output file after a failure"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"], f"no .partial left: {list(tmp_path.iterdir())}"


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_a_failure_keeps_an_existing_output_untouched(tmp_path, suffix):
    source, target = tmp_path / "in.parquet", tmp_path / f"out{suffix}"
    table(10).drop(columns=["b"]).to_parquet(source)  # no column b at all: the first chunk fails
    target.write_bytes(b"yesterday's scores")
    with pytest.raises(DataError, match=r"rows 1-4 of .*lacks 1 column\(s\) the model needs: b"):
        score_file("m", "1", Doubler(), source, target, chunk_rows=4)
    assert target.read_bytes() == b"yesterday's scores", "the earlier output must be left as it was"
    assert not (tmp_path / f".out{suffix}.partial").exists(), "no .partial file left"


def test_a_late_failure_in_parquet_keeps_the_existing_output(tmp_path):
    source, target = tmp_path / "in.csv", tmp_path / "out.parquet"
    frame = table(10).astype({"b": object})
    frame.loc[9, "b"] = "oops"  # the last chunk fails after a Parquet writer has written three
    frame.to_csv(source, index=False)
    target.write_bytes(b"keep me")
    with pytest.raises(DataError, match="rows 10-10"):
        score_file("m", "1", Doubler(), source, target, keys=["id"], chunk_rows=3)
    assert target.read_bytes() == b"keep me", "the earlier output must be left as it was"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "out.parquet"], "no .partial left"


def test_input_and_key_errors(tmp_path):
    source = tmp_path / "in.csv"
    table(3).to_csv(source, index=False)
    with pytest.raises(DataError, match=r"output .*out\.json.* must be a \.csv or \.parquet"):
        score_file("m", "1", Doubler(), source, tmp_path / "out.json")
    with pytest.raises(DataError, match=r"input file .* not found"):
        score_file("m", "1", Doubler(), tmp_path / "missing.csv", tmp_path / "out.csv")
    with pytest.raises(DataError, match=r"--keys names column.* the input lacks: customer"):
        score_file("m", "1", Doubler(), source, tmp_path / "out.csv", keys=["id", "customer"])
    assert not (tmp_path / "out.csv").exists(), "no output after a key error"


def test_an_input_without_rows_is_an_error(tmp_path):
    source, target = tmp_path / "in.parquet", tmp_path / "out.csv"
    table(3).iloc[:0].to_parquet(source)
    with pytest.raises(DataError, match="has no rows"):
        score_file("m", "1", Doubler(), source, target)
    assert not target.exists(), "no output for an empty input"


def test_two_runs_on_one_target_do_not_share_a_temporary_file(tmp_path):
    """Each run writes its own O_EXCL temporary file: interleaved chunks of two runs gave a headerless tail."""
    import threading

    source, target = tmp_path / "in.csv", tmp_path / "out.csv"
    table(50).to_csv(source, index=False)
    errors: list = []

    def run():
        try:
            score_file("m", "4", Doubler(), source, target, keys=["id"], chunk_rows=1)
        except Exception as exc:  # collected: the assertion below says which
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out = read(target)
    assert not errors and list(out.columns) == ["id", "prediction", "model_version"] and len(out) == 50, (errors, out)


def test_a_planted_symlink_at_the_old_temporary_name_is_not_followed(tmp_path):
    source, target, victim = tmp_path / "in.csv", tmp_path / "out.csv", tmp_path / "victim.txt"
    table(5).to_csv(source, index=False)
    victim.write_text("precious")
    (tmp_path / ".out.csv.partial").symlink_to(victim)
    score_file("m", "4", Doubler(), source, target, keys=["id"])
    assert victim.read_text() == "precious" and len(read(target)) == 5, "the victim file is unchanged"


def test_a_key_column_of_digits_then_text_keeps_one_type_in_parquet(tmp_path):
    """Read as text: chunk 1's 1, 2, 3 and chunk 2's A7 made Parquet's cast to the first chunk's schema fail."""
    source, target = tmp_path / "in.csv", tmp_path / "out.parquet"
    table(6).assign(id=["1", "2", "3", "A7", "A8", "A9"]).to_csv(source, index=False)
    score_file("m", "4", Doubler(), source, target, keys=["id"], chunk_rows=3)
    assert pd.read_parquet(target)["id"].tolist() == ["1", "2", "3", "A7", "A8", "A9"]


def test_formula_cells_are_neutralised_in_csv_and_kept_in_parquet(tmp_path):
    """A spreadsheet runs =, +, -, @ cells as formulas (CSV injection); Parquet is for programs."""
    source = tmp_path / "in.csv"
    cells = ["=cmd|' /C calc'!A0", "+1+1", "@SUM(A1)", "-2+3", "plain"]
    table(5).assign(id=cells).to_csv(source, index=False)
    score_file("m", "4", Doubler(), source, tmp_path / "out.csv", keys=["id"])
    score_file("m", "4", Doubler(), source, tmp_path / "out.parquet", keys=["id"])
    as_csv = pd.read_csv(tmp_path / "out.csv")["id"].tolist()
    assert as_csv == ["'" + c for c in cells[:4]] + ["plain"], f"quoted in CSV: {as_csv}"
    assert pd.read_parquet(tmp_path / "out.parquet")["id"].tolist() == cells, "unchanged in Parquet"
    assert pd.read_csv(tmp_path / "out.csv")["prediction"].tolist()[0] == 1.0, "numbers are numbers still"
