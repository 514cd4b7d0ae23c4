import os

from prefect import task

from tabflow.data.split import Splits
from tabflow.model import study
from tabflow.model.study import TuneResult
from tabflow.runs import tune
from tabflow.runs.context import RunContext, timed
from tasks import STAGE


@task(name="tune-model", **STAGE)
def tune_model(splits: Splits, run: RunContext) -> TuneResult:
    """The whole study is one task: a task per trial costs seconds of API work on the embedded server."""
    with timed(run, "tune"):
        return tune.tune(splits, run)


@task(name="open-study", **STAGE)
def open_study(splits: Splits, run: RunContext) -> tuple[tuple[int, ...], int]:
    """Creates (or resumes) the study before any worker opens it; returns retried trials and finished ones kept."""
    return study.begin(tune.open_tuning(splits, run))


@task(name="tune-share", **STAGE)
def tune_share(splits: Splits, run: RunContext, share: int, workers_per_host: dict[str, int]) -> int:
    """One Dask worker's trials; TensorFlow gets this machine's cores divided by the workers sharing it."""
    from distributed import get_worker

    host = get_worker().address.rsplit(":", 1)[0]
    threads = max(1, (os.cpu_count() or 1) // workers_per_host.get(host, 1))
    return tune.tune_share(splits, run, share, threads)


@task(name="best-trial", **STAGE)
def finish_tuning(splits: Splits, run: RunContext, kept: int, retried: tuple[int, ...]) -> TuneResult:
    return tune.finish_tuning(splits, run, kept, retried)
