"""SIGKILL a real `tabflow run` at each stage boundary and inside the final fit and the promotion, and run the
same command again each time. The kills are failpoints (tabflow.failpoints): the process kills itself with
SIGKILL at the named step, so each lands exactly there. A kill inside a trial is tests/flows/test_resume.py.

The runs form one chain on one store, each the rerun of the one before and killed at the next point, then one
that completes: cheaper than a kill and a full rerun per point, and each rerun still passes the step where the
run before it died. After each kill, with the rerun's start having settled what the killed run before it left:
- every finished trial is kept as it was;
- every version but the latest run's carries its lineage and decision tags, and comes from a run that finished
  or is (or was) the champion;
- `champion` points at a version that PROMOTEd;
- no run but the latest one (killed where the test said) is RUNNING, and no history entry but its own is left
  marked `moving`.
"""

import itertools
import os
import signal
import subprocess
import sys

import optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState

from tabflow.promotion import registry
from tabflow.tracking import CHAMPION, alias_version
from tests.helpers import client_for

NAME = "kills"
CONFIG = f"""
data: {{source: "builtin:breast_cancer"}}
model_name: {NAME}
tune: {{n_trials: 2, max_epochs: 8, pruner: none}}
train: {{folds: 1}}
"""
# In the order a run reaches them: the decision is PROMOTE while there is no champion, so the promotion's inner
# points come before `moved` gives the model its first one.
POINTS = (
    "after-tune",
    "final-fit",
    "model-logged",
    "after-evaluate",
    "registered",
    "decided",
    "moving",
    "moved",
    "after-promote",
)
DECIDED = {"PROMOTE", "REJECT", "HOLD"}


def run(tmp_path, point: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PREFECT_API_URL", "MLFLOW_TRACKING_URI")}
    env["PREFECT_HOME"] = str(tmp_path / ".prefect")
    if point:
        env["TABFLOW_FAILPOINT"] = point
    store = tmp_path / "mlruns"
    command = [sys.executable, "-m", "tabflow.cli", "--store", str(store), "run", "--config", "tabflow.yaml"]
    return subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)


def finished_trials(store) -> dict[int, float]:
    storage = JournalStorage(JournalFileBackend(str(store / "optuna" / f"{NAME}.journal")))
    (study,) = optuna.get_all_study_names(storage)
    trials = optuna.load_study(study_name=study, storage=storage).get_trials()
    return {t.number: t.value for t in trials if t.state == TrialState.COMPLETE}


def check(store, killed_at: str | None, trials_before: dict[int, float]) -> dict:
    """The invariants above; returns what the store holds, for the matrix."""
    client = client_for(store)
    experiment = client.get_experiment_by_name(NAME).experiment_id
    runs = client.search_runs([experiment], order_by=["attributes.start_time DESC"])
    parents = [r for r in runs if r.info.run_name.startswith("train-")]
    latest = parents[0].info.run_id
    running = {r.info.run_name for r in runs if r.info.status == "RUNNING"}
    allowed = {r.info.run_name for r in runs if latest in (r.info.run_id, r.data.tags.get("mlflow.parentRunId"))}
    assert running <= (allowed if killed_at else set()), f"after {killed_at}: left RUNNING {running}"

    trials = finished_trials(store)
    assert trials_before.items() <= trials.items(), f"after {killed_at}: finished trials changed {trials}"

    champion = alias_version(client, NAME, CHAMPION)
    versions = client.search_model_versions(f"name = '{NAME}'") if client.search_registered_models() else []
    status = {r.info.run_id: r.info.status for r in parents}
    moves = registry.history(client, NAME) if versions else []
    champions = {m["to"] for m in moves if registry.MOVING not in m} | {champion}
    for mv in versions:
        tags = mv.tags
        if killed_at and tags.get("parent_run_id") == latest:
            continue  # the run just killed: the next run settles it
        assert tags.get("decision_verdict") in DECIDED and tags.get("data_digest"), f"after {killed_at}: {tags}"
        assert str(mv.version) in champions or status[tags["parent_run_id"]] == "FINISHED", (
            f"after {killed_at}: version {mv.version} of a run that did not finish is left"
        )
    if champion:
        assert client.get_model_version(NAME, champion).tags["decision_verdict"] == "PROMOTE"
    marked = [m for m in moves if registry.MOVING in m]
    assert len(marked) <= (1 if killed_at in ("moving", "moved") else 0), f"after {killed_at}: {marked}"
    # A move killed after its alias moved is the champion's record already; one killed before is not.
    done = [(m["from"], m["to"]) for m in moves if registry.MOVING not in m or killed_at == "moved"]
    assert [to for _, to in done[-1:]] == ([champion] if champion else []), f"after {killed_at}: {moves}"
    assert all(a[1] == b[0] for a, b in itertools.pairwise(done)), f"a chain of moves: {done}"
    return {"trials": len(trials), "versions": sorted(str(v.version) for v in versions), "champion": champion}


def test_a_run_killed_at_each_point_is_run_again_to_a_sound_registry(tmp_path):
    (tmp_path / "tabflow.yaml").write_text(CONFIG)
    store = tmp_path / "mlruns"
    trials: dict[int, float] = {}
    matrix = []
    for point in POINTS:
        done = run(tmp_path, point)
        assert done.returncode == -signal.SIGKILL, f"the run never reached {point}: {done.stderr[-3000:]}"
        held = check(store, point, trials)
        trials = finished_trials(store)
        matrix.append((point, held))
    done = run(tmp_path, None)
    assert done.returncode == 0, done.stderr[-3000:]
    held = check(store, None, trials)
    assert held["trials"] == 2 and held["champion"], held
    print("\n".join(f"{point:15} {held}" for point, held in [*matrix, ("(completes)", held)]))
