from prefect import task

from tabflow.config import PipelineConfig
from tabflow.data import split
from tabflow.data.clean import CleanTable
from tasks import STAGE


@task(name="split-data", **STAGE)
def split_data(table: CleanTable, cfg: PipelineConfig) -> split.Splits:
    return split.split(table, cfg.split, cfg.seed)
