"""Kill a real `tabflow run` mid-trial, run it again: finished trials are kept, the killed one is retried."""

import os
import signal
import subprocess
import sys
import time

import optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState

from flows import training
from tabflow.config import load_config
from tests.helpers import client_for

CONFIG = """
data: {source: "builtin:breast_cancer"}
model_name: resume
tune: {n_trials: 4, max_epochs: 40, pruner: none}
"""


def wait_for_running_trial(journal, proc, limit_s=300.0) -> list:
    """Poll the study until one trial has finished and another is running, then return the trials."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"tabflow exited early: {proc.communicate()[1][-2000:]}"
        if journal.exists():
            storage = JournalStorage(JournalFileBackend(str(journal)))
            studies = optuna.get_all_study_names(storage)
            if studies:
                trials = optuna.load_study(study_name=studies[0], storage=storage).get_trials()
                states = [t.state for t in trials]
                if TrialState.COMPLETE in states and states[-1] == TrialState.RUNNING and trials[-1].params:
                    return trials
        time.sleep(0.2)
    raise AssertionError("no trial was running within the time limit")


def test_killed_run_resumes_its_study(tmp_path):
    (tmp_path / "tabflow.yaml").write_text(CONFIG)
    store = tmp_path / "mlruns"
    journal = store / "optuna" / "resume.journal"
    env = {k: v for k, v in os.environ.items() if k not in ("PREFECT_API_URL", "MLFLOW_TRACKING_URI")}
    env["PREFECT_HOME"] = str(tmp_path / ".prefect")
    proc = subprocess.Popen(
        [sys.executable, "-m", "tabflow.cli", "--store", str(store), "run", "--config", "tabflow.yaml"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        before = wait_for_running_trial(journal, proc)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    killed = before[-1]
    finished_before = {t.number: (t.params, t.value) for t in before if t.state == TrialState.COMPLETE}

    summary = training.train(load_config(tmp_path / "tabflow.yaml"), store=str(store))

    storage = JournalStorage(JournalFileBackend(str(journal)))
    trials = optuna.load_study(study_name=summary.tuning.study_name, storage=storage).get_trials()
    by_number = {t.number: t for t in trials}
    for number, (params, value) in finished_before.items():
        assert by_number[number].state == TrialState.COMPLETE and by_number[number].params == params
        assert by_number[number].value == value, "a finished trial must be kept as it was"
    assert by_number[killed.number].state == TrialState.FAIL, "the interrupted trial is marked failed"
    retries = [t for t in trials if t.user_attrs.get("retry_of") == killed.number]
    # The kill may land between two suggestions: the retry replays what the killed trial had drawn and samples the rest.
    assert len(retries) == 1 and retries[0].state == TrialState.COMPLETE
    assert killed.params.items() <= retries[0].params.items(), (killed.params, retries[0].params)
    assert summary.tuning.retried == (killed.number,)
    assert summary.tuning.n_finished == 4
    assert summary.tuning.n_run == 4 - len(finished_before)
    assert summary.decision.verdict == "PROMOTE"
    client = client_for(store)
    statuses = {
        r.info.run_name: r.info.status
        for r in client.search_runs(
            [client.get_experiment_by_name("resume").experiment_id], filter_string="attributes.run_name LIKE 'train-%'"
        )
    }
    assert sorted(statuses.values()) == ["FINISHED", "KILLED"], f"the killed run must not stay RUNNING: {statuses}"
