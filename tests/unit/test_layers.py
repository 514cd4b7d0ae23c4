"""The layers hold: the import contract in pyproject.toml (import-linter), and `tabflow --help` stays light."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_import_contract_holds():
    done = subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports")], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, (
        "a pure package imports Prefect, flows/, tasks/ or the CLI, or a lower layer imports a higher one:\n"
        + done.stdout[-3000:]
    )
    assert "Contracts: 2 kept, 0 broken" in done.stdout, done.stdout[-1000:]
