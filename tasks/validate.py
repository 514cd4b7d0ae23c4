import pandas as pd
from prefect import task

from tabflow.config import PipelineConfig
from tabflow.data import validate
from tasks import STAGE


@task(name="validate-table", **STAGE)
def validate_table(frame: pd.DataFrame, cfg: PipelineConfig) -> pd.DataFrame:
    task_name = validate.validate_table(frame, cfg.data.target, cfg.split, cfg.task)
    cfg.gate.check_task(task_name)  # a gate metric of another task fails now, not after training
    return frame
