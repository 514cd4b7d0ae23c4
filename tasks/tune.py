import os

from prefect import task

from tabflow import pipeline, tuning
from tabflow.splitting import Splits
from tabflow.tuning import TuneResult
from tasks import STAGE


@task(name="tune-model", **STAGE)
def tune_model(splits: Splits, run: pipeline.RunContext) -> TuneResult:
    """The whole study is one task: a task per trial costs seconds of API work on the embedded server."""
    with pipeline.timed(run, "tune"):
        return pipeline.tune(splits, run)


@task(name="open-study", **STAGE)
def open_study(splits: Splits, run: pipeline.RunContext) -> tuple[tuple[int, ...], int]:
    """Creates (or resumes) the study before any worker opens it; returns retried trials and finished ones kept."""
    return tuning.begin(pipeline.open_tuning(splits, run))


@task(name="tune-share", **STAGE)
def tune_share(splits: Splits, run: pipeline.RunContext, share: int, workers_per_host: dict[str, int]) -> int:
    """One Dask worker's trials; TensorFlow gets this machine's cores divided by the workers sharing it."""
    from distributed import get_worker

    host = get_worker().address.rsplit(":", 1)[0]
    threads = max(1, (os.cpu_count() or 1) // workers_per_host.get(host, 1))
    return pipeline.tune_share(splits, run, share, threads)


@task(name="best-trial", **STAGE)
def finish_tuning(splits: Splits, run: pipeline.RunContext, kept: int, retried: tuple[int, ...]) -> TuneResult:
    return pipeline.finish_tuning(splits, run, kept, retried)
