"""Flow tests run the real flow on the embedded stack: a temporary Prefect server, SQLite MLflow, Optuna journal."""

import pytest
from prefect.testing.utilities import prefect_test_harness


@pytest.fixture(scope="session", autouse=True)
def prefect_server():
    """One temporary Prefect server (its own database) for the session: starting one costs 10-30 s."""
    with prefect_test_harness(server_startup_timeout=180):
        yield
