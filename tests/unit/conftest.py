import pandas as pd
import pytest

from tabflow import data
from tabflow.config import SplitConfig
from tabflow.splitting import split


@pytest.fixture(scope="session")
def raw() -> pd.DataFrame:
    return data.load_table("builtin:breast_cancer")


@pytest.fixture(scope="session")
def splits(raw):
    table = data.clean_table(raw, "target", SplitConfig(), data.digest_frame(raw))
    return split(table, SplitConfig(), seed=42)
