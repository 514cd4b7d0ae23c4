import pandas as pd
from prefect import task

from tabflow import data
from tabflow.config import PipelineConfig
from tasks import STAGE


@task(name="validate-table", **STAGE)
def validate_table(frame: pd.DataFrame, cfg: PipelineConfig) -> pd.DataFrame:
    data.validate_table(frame, cfg.data.target, cfg.split, cfg.task)
    return frame
