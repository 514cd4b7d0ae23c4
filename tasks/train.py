from prefect import task

from tabflow.data.split import Splits
from tabflow.model.study import TuneResult
from tabflow.runs.context import RunContext, timed
from tabflow.runs.train import TrainedModel, train_final
from tasks import STAGE


@task(name="train-model", **STAGE)
def train_model(splits: Splits, best: TuneResult, run: RunContext) -> TrainedModel:
    with timed(run, "train"):
        return train_final(splits, best, run.cfg.train, run)
