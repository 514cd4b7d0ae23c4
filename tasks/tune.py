from prefect import task

from tabflow import pipeline
from tabflow.splitting import Splits
from tabflow.tuning import TuneResult
from tasks import STAGE


@task(name="tune-model", **STAGE)
def tune_model(splits: Splits, run: pipeline.RunContext) -> TuneResult:
    """The whole study is one task: a task per trial costs seconds of API work on the embedded server."""
    with pipeline.timed(run, "tune"):
        return pipeline.tune(splits, run)
