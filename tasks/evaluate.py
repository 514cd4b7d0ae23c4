from prefect import task

from tabflow.data.split import Splits
from tabflow.runs.context import RunContext, timed
from tabflow.runs.evaluate import Evaluation, evaluate
from tabflow.runs.train import TrainedModel
from tasks import STAGE


@task(name="evaluate-model", **STAGE)
def evaluate_model(model: TrainedModel, splits: Splits, run: RunContext) -> Evaluation:
    with timed(run, "evaluate"):
        return evaluate(model, splits, run)
