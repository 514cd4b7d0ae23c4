import pandas as pd
from prefect import task

from tabflow.config import PipelineConfig
from tabflow.data import clean, read
from tasks import STAGE


@task(name="clean-table", **STAGE)
def clean_table(frame: pd.DataFrame, cfg: PipelineConfig) -> clean.CleanTable:
    return clean.clean_table(
        frame, cfg.data.target, cfg.split, read.digest_frame(frame), cfg.data.columns, cfg.data.max_text_share, cfg.task
    )
