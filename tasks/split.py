from prefect import task

from tabflow import splitting
from tabflow.config import PipelineConfig
from tabflow.data import CleanTable
from tasks import STAGE


@task(name="split-data", **STAGE)
def split_data(table: CleanTable, cfg: PipelineConfig) -> splitting.Splits:
    return splitting.split(table, cfg.split, cfg.seed)
