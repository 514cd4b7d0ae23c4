"""System tests run real servers (PostgreSQL, MLflow, Prefect, Dask): every test here carries the `system` mark."""

from pathlib import Path

import pytest

_HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # The hook sees the whole session's items: mark only those collected from this folder.
    for item in items:
        if _HERE in item.path.parents:
            item.add_marker(pytest.mark.system)
