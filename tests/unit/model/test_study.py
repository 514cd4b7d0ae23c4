import subprocess
import sys

import optuna
import pytest

from tabflow.config import SplitConfig, TuneConfig
from tabflow.model.inputs import prepare
from tabflow.model.network import default_params
from tabflow.model.search_space import SearchSpace
from tabflow.model.study import (
    WORKER_ATTR,
    make_objective,
    open_study,
    optimize,
    recover_interrupted,
    run_trials,
    shares,
    study_name,
)


def test_study_name_changes_with_what_changes_the_trials():
    base = study_name("m", "digest01", SearchSpace(), SplitConfig(), 42, TuneConfig())
    assert base == study_name("m", "digest01", SearchSpace(), SplitConfig(), 42, TuneConfig(n_trials=99)), (
        "the budget must not rename the study, or a bigger --trials could not resume it"
    )
    for other in (
        study_name("m", "digest02", SearchSpace(), SplitConfig(), 42, TuneConfig()),
        study_name("m", "digest01", SearchSpace(width=(64, 128)), SplitConfig(), 42, TuneConfig()),
        study_name("m", "digest01", SearchSpace(), SplitConfig(), 7, TuneConfig()),
        study_name("m", "digest01", SearchSpace(), SplitConfig(), 42, TuneConfig(max_epochs=5)),
        study_name("m", "digest01", SearchSpace(), SplitConfig(), 42, TuneConfig(), roles={"a": "numeric"}),
    ):
        assert other != base


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_trial_of_a_dead_process_is_failed_and_requeued(tmp_path):
    import socket

    study = open_study("s", tmp_path / "j.journal", seed=0, pruner="none")
    orphan = study.ask({"units": optuna.distributions.IntDistribution(1, 10)})
    orphan.set_user_attr(WORKER_ATTR, f"{socket.gethostname()}:{dead_pid()}")
    alive = study.ask({"units": optuna.distributions.IntDistribution(1, 10)})
    alive.set_user_attr(WORKER_ATTR, f"{socket.gethostname()}:{__import__('os').getpid()}")

    assert recover_interrupted(study) == (orphan.number,)
    states = {t.number: t.state for t in study.get_trials()}
    assert states[orphan.number] == optuna.trial.TrialState.FAIL
    assert states[alive.number] == optuna.trial.TrialState.RUNNING, "a live worker's trial must be left alone"
    queued = [t for t in study.get_trials() if t.state == optuna.trial.TrialState.WAITING]
    assert len(queued) == 1 and queued[0].system_attrs["fixed_params"] == orphan.params, "retry the same params"
    assert queued[0].user_attrs["retry_of"] == orphan.number


def test_optimize_counts_finished_trials_toward_the_budget(tmp_path, splits):
    data, cfg = prepare(splits), TuneConfig(n_trials=2, max_epochs=2, pruner="none")
    records = []
    space = SearchSpace()
    study = open_study("budget", tmp_path / "j.journal", seed=0, pruner="none", first_trial=space.first_trial("binary"))
    first = optimize(study, make_objective(data, space, cfg, 0, records.append), cfg)
    again = optimize(
        open_study("budget", tmp_path / "j.journal", seed=0, pruner="none"),
        make_objective(data, SearchSpace(), cfg, 0, records.append),
        cfg,
    )
    assert (first.n_run, first.n_finished) == (2, 2)
    assert [n for n, _ in first.top] == sorted((0, 1), key=lambda n: records[n].value), "best first"
    assert first.top[0] == (first.best_number, first.best_params), "the best trial leads the fold networks' list"
    assert (again.n_run, again.n_finished) == (0, 2), "a finished study must not run more trials"
    assert [r.state for r in records] == ["COMPLETE", "COMPLETE"]
    assert all(len(r.history["val_log_loss"]) == 2 for r in records)
    assert records[0].params == default_params("binary").as_dict(), "the queued first trial is the default network"
    assert records[1].params != records[0].params, "then the sampler searches"


@pytest.mark.parametrize("pruner", ["median", "hyperband", "none"])
def test_every_pruner_builds(tmp_path, pruner):
    built = open_study(f"p-{pruner}", tmp_path / "j.journal", 0, pruner).pruner
    expected = {
        "median": optuna.pruners.MedianPruner,
        "hyperband": optuna.pruners.HyperbandPruner,
        "none": optuna.pruners.NopPruner,
    }[pruner]
    assert isinstance(built, expected), f"tune.pruner {pruner!r} should build a {expected.__name__}, got {built!r}"


def test_shares_split_the_budget_exactly():
    assert shares(20, 2) == [10, 10]
    assert shares(5, 2) == [3, 2]
    assert shares(1, 3) == [1], "workers with nothing to do get no share"
    assert shares(0, 2) == []
    assert sum(shares(17, 4)) == 17


def test_workers_sharing_a_study_stop_at_its_budget(tmp_path, splits):
    """Two shares run against one study (as two Dask workers do): the study ends with exactly the budget and
    a share never runs more than it was given."""
    data, cfg = prepare(splits), TuneConfig(n_trials=3, max_epochs=1, pruner="none")
    journal = tmp_path / "j.journal"
    open_study("shared", journal, seed=0, pruner="none")  # created once, then opened by each worker
    ran = [
        run_trials(
            open_study("shared", journal, seed=0, pruner="none"),
            make_objective(data, SearchSpace(), cfg, 0),
            cfg,
            "val_log_loss",
            share,
        )
        for share in shares(cfg.n_trials, 2)
    ]
    assert ran == [2, 1]
    finished = open_study("shared", journal, seed=0, pruner="none").get_trials(
        states=(optuna.trial.TrialState.COMPLETE,)
    )
    assert len(finished) == 3
    assert (
        run_trials(
            open_study("shared", journal, seed=0, pruner="none"),
            make_objective(data, SearchSpace(), cfg, 0),
            cfg,
            "val_log_loss",
            5,
        )
        == 0
    ), "a study at its budget runs nothing more"


def finished_study(path, n: int = 3):
    study = open_study("s", path, seed=0, pruner="none")
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=n)
    return study


def test_a_journal_with_a_partial_last_entry_resumes_with_one_warning(tmp_path, caplog):
    """A run killed while appending (or a full disk) left `{"op_code": 4, "wor`; Optuna read past it, then
    failed at the next trial (review L5)."""
    journal = tmp_path / "j.journal"
    finished_study(journal)
    with open(journal, "ab") as fh:
        fh.write(b'{"op_code": 4, "wor')
    with caplog.at_level("WARNING", logger="tabflow"):
        study = open_study("s", journal, seed=0, pruner="none")
        study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1)
    assert len([t for t in study.get_trials() if t.state.is_finished()]) == 4, "3 kept, 1 more run"
    said = [r.getMessage() for r in caplog.records if "journal" in r.getMessage()]
    assert len(said) == 1 and "partial entry" in said[0], f"one warning that says what happened: {said}"


def test_a_journal_unreadable_in_the_middle_is_moved_aside_and_a_new_study_starts(tmp_path, caplog):
    journal = tmp_path / "j.journal"
    finished_study(journal)
    lines = journal.read_bytes().splitlines(keepends=True)
    journal.write_bytes(b"".join([*lines[:2], b"{not json\n", *lines[2:]]))
    with caplog.at_level("WARNING", logger="tabflow"):
        study = open_study("s", journal, seed=0, pruner="none")
    assert study.get_trials() == [] and len(list(tmp_path.glob("j.journal.unreadable-*"))) == 1, "kept aside"
    assert "moved aside" in caplog.text
