import pandas as pd
from prefect import task

from tabflow.config import DataConfig
from tabflow.data import read
from tasks import STAGE


@task(name="load-table", **STAGE)
def load_table(cfg: DataConfig) -> pd.DataFrame:
    return read.load_table(cfg.source)
