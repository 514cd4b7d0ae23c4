"""The Optuna study: one objective factory, a study named by what it tunes, that survives crashes (the search
space itself is tabflow.model.search_space).

The objective (tabflow.task_types) is val log loss for classes and val RMSE for regression: val AUC saturates at
1.0 for most trials on small tables, so it cannot rank them. Both are plain metrics, without the L2 penalty that
Keras adds to `val_loss`.
"""

from __future__ import annotations

import gc
import hashlib
import json
import logging
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import optuna
from optuna.trial import TrialState

from tabflow import settings
from tabflow.config import SplitConfig, TuneConfig
from tabflow.errors import TabflowError
from tabflow.features.preprocessor import fingerprint
from tabflow.liveness import is_dead, worker_id
from tabflow.model.inputs import Prepared
from tabflow.model.network import fit_network
from tabflow.model.search_space import SearchSpace

log = logging.getLogger("tabflow")


WORKER_ATTR = "worker"  # host:pid of the process running a trial, to spot trials orphaned by a crash
DEFAULT_ATTR = "default"  # the trial of the network's default parameters, queued first


FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
TOP = 10  # best trials a result keeps, for the fold networks (train.folds of them)


@dataclass(frozen=True)
class TrialRecord:
    """What one trial did, handed to the tracking hook (an MLflow child run in the flow)."""

    number: int
    params: dict
    history: dict[str, list[float]]
    state: str  # COMPLETE, PRUNED or FAIL
    value: float | None
    seconds: float
    started_at: float = 0.0  # epoch seconds: the trial's run carries its true start and end times


@dataclass(frozen=True)
class TuneResult:
    study_name: str
    best_number: int
    best_value: float
    best_params: dict
    n_finished: int
    n_run: int  # trials this call ran; the rest came from an earlier, interrupted run
    retried: tuple[int, ...] = field(default_factory=tuple)
    objective: str = "val_log_loss"
    top: tuple[tuple[int, dict], ...] = ()  # (number, params) of the best completed trials, best first
    trials: tuple[dict, ...] = ()  # every finished trial: number, state, value, params (for reports)


def study_name(
    model_name: str,
    data_digest: str,
    space: SearchSpace,
    split: SplitConfig,
    seed: int,
    tune: TuneConfig,
    task: str = "binary",
    roles: dict[str, str] | None = None,
) -> str:
    """Same data, columns, task, space, split, seed and trial budget -> same study, so a re-run resumes it."""
    key = json.dumps(
        [
            data_digest,
            task,
            space.digest(),
            split.model_dump(),
            seed,
            tune.max_epochs,
            tune.pruner,
            fingerprint(),
            tune.max_rows,
            sorted((roles or {}).items()),
        ]
    )
    return f"{model_name}-{data_digest[:8]}-{hashlib.sha256(key.encode()).hexdigest()[:8]}"


def open_study(
    name: str, journal: Path, seed: int, pruner: str, url: str | None = None, first_trial: dict | None = None
) -> optuna.Study:
    """The study, created if missing, with `first_trial` (the default network) queued as its first trial. `url`
    (a database, e.g. PostgreSQL) is shared by workers on several machines; without it a journal file: safe across
    processes on one machine and faster than SQLite. Create it in one process before workers open it: two
    processes creating the schema at once crashed one."""
    if url:
        from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback

        # Heartbeats let any worker fail a trial whose process died on another machine, and queue its retry.
        with warnings.catch_warnings():  # heartbeats are "experimental" in Optuna 5, and measured to work here
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            try:
                storage = RDBStorage(
                    url,
                    heartbeat_interval=settings.HEARTBEAT_S,
                    grace_period=4 * settings.HEARTBEAT_S,
                    heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=1),
                )
            except Exception as exc:  # SQLAlchemy's errors: a bad URL, a missing driver, a server that is down
                from sqlalchemy.engine import make_url

                shown = make_url(url).render_as_string(hide_password=True) if "://" in url else url
                raise TabflowError(
                    f"cannot open the study database {shown} ({type(exc).__name__}); check "
                    "TABFLOW_OPTUNA_STORAGE and that the database server runs"
                ) from None
    else:
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend

        journal.parent.mkdir(parents=True, exist_ok=True)
        repaired = repair_journal(journal)
        if repaired:
            log.warning("the study journal %s %s", journal.name, repaired)
        storage = JournalStorage(JournalFileBackend(str(journal)))  # type: ignore[assignment]
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # tabflow logs its own line per trial (_progress)
    study = optuna.create_study(
        study_name=name,
        storage=storage,
        direction="minimize",
        load_if_exists=True,
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=_pruner(pruner),
    )
    if first_trial is not None and not study.get_trials(deepcopy=False):
        study.enqueue_trial(first_trial, user_attrs={DEFAULT_ATTR: True})
    return study


def _pruner(kind: str) -> optuna.pruners.BasePruner:
    if kind == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=5)
    if kind == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=3)
    return optuna.pruners.NopPruner()


def recover_interrupted(study: optuna.Study) -> tuple[int, ...]:
    """Fail trials left RUNNING by a dead process on this host, and queue their params for a retry.

    A journal store has no heartbeat, so liveness is checked by pid; trials of live processes
    (parallel workers) and of other hosts are left alone.
    """
    retried = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if not is_dead(str(trial.user_attrs.get(WORKER_ATTR, ""))):
            continue
        study.tell(trial.number, state=TrialState.FAIL, skip_if_finished=True)
        if trial.params:
            study.enqueue_trial(trial.params, user_attrs={"retry_of": trial.number})
        retried.append(trial.number)
    return tuple(retried)


def make_objective(
    data: Prepared,
    space: SearchSpace,
    cfg: TuneConfig,
    seed: int,
    on_trial_end: Callable[[TrialRecord], None] | None = None,
) -> Callable[[optuna.Trial], float]:
    def objective(trial: optuna.Trial) -> float:
        import keras

        trial.set_user_attr(WORKER_ATTR, worker_id())
        keras.backend.clear_session()
        params = space.sample(trial, data.head.task)
        reporter = Reporter(trial)
        started, started_at = time.perf_counter(), time.time()
        state, value = "FAIL", None
        history: dict[str, list[float]] = {}
        try:
            _, history = fit_network(params, data, cfg.max_epochs, seed + trial.number, reporter)  # see train_final
            value = min(history[data.head.objective])
            state = "PRUNED" if reporter.pruned else "COMPLETE"
        finally:
            if on_trial_end:
                on_trial_end(
                    TrialRecord(
                        trial.number,
                        params.as_dict(),
                        history,
                        state,
                        value,
                        time.perf_counter() - started,
                        started_at,
                    )
                )
        if reporter.pruned:
            raise optuna.TrialPruned(f"pruned at epoch {len(history[data.head.objective])}")
        return value

    return objective


class Reporter:
    """Reports the objective each epoch and stops the fit when the pruner says so (no exception inside the fit)."""

    def __init__(self, trial: optuna.Trial):
        self.trial, self.pruned = trial, False

    def __call__(self, epoch: int, logs: dict[str, float]) -> bool:
        (value,) = logs.values()
        self.trial.report(float(value), epoch)
        self.pruned = self.trial.should_prune()
        return self.pruned


def optimize(study: optuna.Study, objective: Callable, cfg: TuneConfig, metric: str = "val_log_loss") -> TuneResult:
    """Run the trials still missing from the study's budget (finished ones from earlier runs count)."""
    retried, done = begin(study)
    run_trials(study, objective, cfg, metric)
    return summarize(study, done, retried, metric)


def begin(study: optuna.Study) -> tuple[tuple[int, ...], int]:
    """Retry what a crash interrupted; returns the retried trial numbers and the finished trials kept."""
    retried = recover_interrupted(study)
    done = len(study.get_trials(deepcopy=False, states=FINISHED))
    if done:
        log.info(
            "study %s: %d finished trials kept%s",
            study.study_name,
            done,
            f", interrupted trial(s) {list(retried)} to retry" if retried else "",
        )
    return retried, done


def run_trials(study: optuna.Study, objective: Callable, cfg: TuneConfig, metric: str, share: int | None = None) -> int:
    """Trials until the study holds cfg.n_trials finished ones, counting those other workers finish meanwhile,
    and at most `share` of them here; returns how many this process ran."""
    from optuna.study import MaxTrialsCallback

    remaining = max(cfg.n_trials - len(study.get_trials(deepcopy=False, states=FINISHED)), 0)
    remaining = remaining if share is None else min(share, remaining)
    mine = []
    gc.freeze()  # the heap of Prefect + MLflow objects makes the full collection in each trial's clear_session slower
    try:
        if remaining:
            study.optimize(
                objective,
                n_trials=remaining,
                timeout=cfg.timeout_s,
                gc_after_trial=False,
                callbacks=[
                    MaxTrialsCallback(cfg.n_trials, states=FINISHED),
                    _progress(cfg, metric),
                    lambda _, trial: mine.append(trial.number),
                ],
            )
    finally:
        gc.unfreeze()
    return len(mine)


def shares(remaining: int, workers: int) -> list[int]:
    """The remaining budget split over workers as evenly as it goes (a fixed share each, so a study of 20 trials
    ends with 20, not 20 plus one more per worker racing for the last slot). Workers with no share get none."""
    base, extra = divmod(remaining, max(workers, 1))
    return [n for n in (base + (i < extra) for i in range(workers)) if n]


def summarize(study: optuna.Study, done_before: int, retried: tuple[int, ...], metric: str) -> TuneResult:
    finished = study.get_trials(deepcopy=False, states=FINISHED)
    if not any(t.state == TrialState.COMPLETE for t in finished):
        raise TabflowError(f"study {study.study_name} has no completed trial; raise --trials or --timeout")
    best = study.best_trial
    complete = sorted(
        (t for t in finished if t.state == TrialState.COMPLETE and t.value is not None),
        key=lambda t: float(t.value or 0),
    )
    return TuneResult(
        study_name=study.study_name,
        best_number=best.number,
        best_value=float(best.value or 0.0),  # a COMPLETE trial always has a value
        best_params=dict(best.params),
        n_finished=len(finished),
        n_run=len(finished) - done_before,
        retried=retried,
        objective=metric,
        top=tuple((t.number, dict(t.params)) for t in complete[:TOP]),
        trials=tuple(
            {"number": t.number, "state": t.state.name, "value": t.value, "params": dict(t.params)}
            for t in sorted(finished, key=lambda t: t.number)
        ),
    )


def _progress(cfg: TuneConfig, metric: str):
    def report(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        n = len(study.get_trials(deepcopy=False, states=FINISHED))
        value = f"{trial.value:.4f}" if trial.value is not None else "-"
        complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        best = min((t.value for t in complete if t.value is not None), default=None)
        log.info(
            "trial %d/%d (#%d) %s %s=%s, best so far %s",
            n,
            cfg.n_trials,
            trial.number,
            trial.state.name.lower(),
            metric,
            value,
            f"{best:.4f}" if best is not None else "-",
            extra={"trials": (n, cfg.n_trials, metric, best)},  # a terminal shows these as a progress bar
        )

    return report


def repair_journal(path: Path) -> str | None:
    """A journal a killed or disk-full run left unreadable, made usable again, under Optuna's own lock: a partial
    last entry is dropped (Optuna read past it, then failed at the next append); a journal with an unreadable
    entry before that is moved aside, and the study starts afresh. Returns what was done, or None."""
    from optuna.storages.journal import JournalFileSymlinkLock

    if not path.exists() or path.stat().st_size == 0:
        return None
    lock = JournalFileSymlinkLock(str(path))
    lock.acquire()
    try:
        data = path.read_bytes()
        cut = data.rfind(b"\n") + 1
        try:
            for line in data[:cut].splitlines():
                json.loads(line)
        except ValueError:
            aside = path.with_name(f"{path.name}.unreadable-{int(time.time())}")
            path.rename(aside)
            return f"had an unreadable entry; moved aside to {aside.name}, starting a new study"
        if cut < len(data):
            with open(path, "rb+") as fh:
                fh.truncate(cut)
            return "ended in a partial entry (a run killed while writing); dropped it, finished trials are kept"
        return None
    finally:
        lock.release()
