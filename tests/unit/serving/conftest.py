import pytest

from tests.unit.serving.served import make_store


@pytest.fixture(scope="module")
def store(tmp_path_factory, splits):
    """(store, splits): version 1 of the served model @champion (tests.unit.serving.served)."""
    yield from make_store(tmp_path_factory, splits)
