from prefect import task

from tabflow import pipeline
from tabflow.splitting import Splits
from tabflow.tuning import TuneResult
from tasks import STAGE


@task(name="train-model", **STAGE)
def train_model(splits: Splits, best: TuneResult, run: pipeline.RunContext) -> pipeline.TrainedModel:
    with pipeline.timed(run, "train"):
        return pipeline.train_final(splits, best, run.cfg.train, run)
