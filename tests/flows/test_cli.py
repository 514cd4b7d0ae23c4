"""The command as a user runs it: fast help, one-line errors with exit code 2, nothing registered."""

import os
import subprocess
import sys

import pandas as pd

from tabflow.cli import main
from tests.helpers import client_for

HEAVY = ("tensorflow", "keras", "mlflow", "prefect", "optuna", "sklearn")


def tabflow(*args, cwd, timeout=600):
    env = {k: v for k, v in os.environ.items() if k not in ("PREFECT_API_URL", "MLFLOW_TRACKING_URI")}
    env["PREFECT_HOME"] = str(cwd / ".prefect")
    return subprocess.run(
        [sys.executable, "-m", "tabflow.cli", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def test_help_imports_no_heavy_library(tmp_path):
    code = (
        "import sys\nfrom tabflow.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, check=True)
    assert "usage: tabflow" in out.stdout
    assert out.stdout.strip().endswith("[]"), f"--help imported heavy libraries: {out.stdout.splitlines()[-1]}"


def assert_one_line_error(result, expected: str):
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line, got:\n{result.stderr}"
    assert lines[0].startswith("error: ") and expected in lines[0]


def test_missing_file(tmp_path):
    result = tabflow("run", "--data", "nope.csv", cwd=tmp_path)
    assert_one_line_error(result, "data file 'nope.csv' not found")
    assert not (tmp_path / "mlruns" / "mlflow.db").exists(), "a bad input must not even create a store"


def test_unknown_target_is_caught_from_the_header(tmp_path):
    pd.DataFrame({"a": [1, 2], "label": [0, 1]}).to_csv(tmp_path / "t.csv", index=False)
    assert_one_line_error(tabflow("run", "--data", "t.csv", cwd=tmp_path), "pass --target with one of: a, label")


def test_invalid_config_value(tmp_path):
    (tmp_path / "c.yaml").write_text("tune: {pruner: random}\n")
    result = tabflow("run", "--data", "builtin:breast_cancer", "--config", "c.yaml", cwd=tmp_path)
    assert_one_line_error(result, "invalid config value for 'tune.pruner'")


def test_single_class_target_fails_inside_the_flow_with_one_line(tmp_path):
    pd.DataFrame({"a": range(30), "b": [0.5] * 29 + [1.0], "y": ["x"] * 30}).to_csv(tmp_path / "t.csv", index=False)
    result = tabflow("run", "--data", "t.csv", "--target", "y", cwd=tmp_path)
    assert_one_line_error(result, "has a single class ('x')")
    assert "Traceback" not in result.stdout + result.stderr
    client = client_for(tmp_path / "mlruns")
    assert client.search_registered_models() == [], "nothing is registered for bad data"
    assert client.search_runs([e.experiment_id for e in client.search_experiments()]) == [], "nor tracked"


def test_in_process_entry_point_returns_2(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--data", "missing.parquet"]) == 2
    assert "not found" in capsys.readouterr().err


def test_an_unwritable_store_is_one_line_before_any_work(tmp_path):
    """A store under a regular file cannot be created, even by root (read-only modes would not stop root)."""
    (tmp_path / "file").write_text("")
    result = tabflow("--store", "file/store", "run", "--data", "builtin:breast_cancer", cwd=tmp_path)
    assert_one_line_error(result, "cannot write to the store 'file/store' (Not a directory); choose a writable")
