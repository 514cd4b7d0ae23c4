"""Validation before anything is fitted."""

import pytest

from tabflow.config import SplitConfig
from tabflow.data import validate
from tabflow.errors import DataError
from tests.helpers import frame


@pytest.mark.parametrize(
    ("table", "target", "expected"),
    [
        (frame(10, 10).iloc[:0], "y", "no rows"),
        (frame(10, 10), "nope", "not found"),
        (frame(10, 10)[["y"]], "y", "no feature columns"),
        (frame(20, 0), "y", "single class"),
        (frame(20, 3), "y", "class 'b' of 'y' has 3 rows"),
    ],
)
def test_validation_says_what_to_do(table, target, expected):
    with pytest.raises(DataError, match=expected):
        validate.validate_table(table, target, SplitConfig())
