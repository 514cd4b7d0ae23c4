from prefect import task

from tabflow import pipeline
from tabflow.errors import TabflowError
from tabflow.registry import Decision
from tabflow.splitting import Splits
from tasks import STAGE


def _flaky(task, task_run, state) -> bool:
    """Retry registry hiccups, not our own verdicts or bad input."""
    try:
        state.result()
    except TabflowError:
        return False
    except Exception:
        return True
    return False


@task(name="promote-model", retries=2, retry_delay_seconds=[2, 10], retry_condition_fn=_flaky, **STAGE)
def promote_model(model: pipeline.TrainedModel, scores: pipeline.Evaluation, splits: Splits,
                  run: pipeline.RunContext, tags: dict[str, str]) -> Decision:
    """Retried: it talks to the registry, and a failed attempt deletes the version it registered."""
    with pipeline.timed(run, "promote"):
        return pipeline.promote(model, scores, splits, run.cfg.gate, run, tags)
