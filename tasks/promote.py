from prefect import task

from tabflow.data.split import Splits
from tabflow.errors import TabflowError
from tabflow.promotion.decision import Decision
from tabflow.runs.context import RunContext, timed
from tabflow.runs.evaluate import Evaluation
from tabflow.runs.promote import promote
from tabflow.runs.train import TrainedModel
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
def promote_model(
    model: TrainedModel, scores: Evaluation, splits: Splits, run: RunContext, tags: dict[str, str]
) -> Decision:
    """Retried: it talks to the registry, and a failed attempt deletes the version it registered."""
    with timed(run, "promote"):
        return promote(model, scores, splits, run.cfg.gate, run, tags)
