import pandas as pd
from prefect import task

from tabflow import data
from tabflow.config import PipelineConfig
from tasks import STAGE


@task(name="clean-table", **STAGE)
def clean_table(frame: pd.DataFrame, cfg: PipelineConfig) -> data.CleanTable:
    return data.clean_table(frame, cfg.data.target, cfg.split, data.digest_frame(frame), cfg.data.columns,
                            cfg.data.max_text_share, cfg.task)
