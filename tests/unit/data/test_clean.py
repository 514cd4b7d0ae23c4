"""Cleaning and its report."""

import numpy as np
import pandas as pd
import pytest

from tabflow.config import SplitConfig
from tabflow.data import clean
from tabflow.errors import DataError
from tests.helpers import frame


def test_clean_drops_and_reports_without_mutating_the_input():
    raw = frame(10, 10).assign(const=1.0, text="t", n=np.arange(20))
    raw.loc[0, "y"] = None
    raw = pd.concat([raw, raw.iloc[[1]]], ignore_index=True)
    before = raw.copy()
    table = clean.clean_table(raw, "y", SplitConfig(), "d")
    pd.testing.assert_frame_equal(raw, before)
    assert table.report["rows_missing_target"] == 1 and table.report["rows_duplicate"] == 1
    assert table.report["columns_dropped"] == {"const": "constant", "text": "constant"}
    assert table.roles == {"x": "numeric", "n": "numeric"}
    assert table.features == ("x", "n") and len(table.frame) == 19


def test_clean_fails_when_no_feature_is_left():
    with pytest.raises(DataError, match="no usable feature columns"):
        clean.clean_table(frame(10, 10).assign(x=1.0), "y", SplitConfig(), "d")
    with pytest.raises(DataError, match="no usable feature columns"):
        clean.clean_table(frame(10, 10), "y", SplitConfig(), "d", columns={"x": "drop"})
