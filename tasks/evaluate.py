from prefect import task

from tabflow import pipeline
from tabflow.splitting import Splits
from tasks import STAGE


@task(name="evaluate-model", **STAGE)
def evaluate_model(model: pipeline.TrainedModel, splits: Splits, run: pipeline.RunContext) -> pipeline.Evaluation:
    with pipeline.timed(run, "evaluate"):
        return pipeline.evaluate(model, splits, run)
