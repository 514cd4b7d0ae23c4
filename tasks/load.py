import pandas as pd
from prefect import task

from tabflow import data
from tabflow.config import DataConfig
from tasks import STAGE


@task(name="load-table", **STAGE)
def load_table(cfg: DataConfig) -> pd.DataFrame:
    return data.load_table(cfg.source)
