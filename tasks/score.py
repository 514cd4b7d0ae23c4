from pathlib import Path

from prefect import task

from tabflow.serving import batch
from tasks import STAGE


@task(name="score-file", **STAGE)
def score_file(model: str, source: str, output: str, keys: list[str] | None) -> batch.Scored:
    name, version, loaded = batch.load_model(model)
    return batch.score_file(name, version, loaded, Path(source), Path(output), keys)


@task(name="log-scoring", **STAGE)
def log_scoring(scored: batch.Scored, source: str, store: str) -> str:
    return batch.log_scoring(scored, Path(source), Path(store))
