"""Registry moves: register and judge, champion history, roll back, the alias lock; on a real SQLite MLflow store."""

import fcntl
import shutil
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow.pyfunc import PythonModel

from tabflow.errors import TabflowError
from tabflow.promotion import registry
from tabflow.promotion.decision import Decision
from tabflow.tracking import CHAMPION, alias_version, champion_version
from tests.helpers import pointed_at

NAME = "reg-model"


class Echo(PythonModel):
    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:  # a hint: no warning
        return model_input


@pytest.fixture
def store(tmp_path, empty_mlflow_db):
    """(client, model_uri): a fresh store holding one logged (not yet registered) tiny pyfunc."""
    shutil.copy(empty_mlflow_db, tmp_path / "mlflow.db")
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    restore = pointed_at(uri)
    try:
        client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
        experiment = client.create_experiment("reg", artifact_location=(tmp_path / "artifacts").as_uri())
        run_id = client.create_run(experiment).info.run_id
        with mlflow.start_run(run_id=run_id):
            info = mlflow.pyfunc.log_model(name="model", python_model=Echo(), pip_requirements=[])
        yield client, info.model_uri
    finally:
        restore()


def decision(verdict: str, reason: str = "because") -> Decision:
    return Decision(verdict, reason, "auc", 0.9, champion=0.8, champion_version=None)


def judged(verdict: str, seen: list | None = None):
    def judge(current):
        if seen is not None:
            seen.append(current)
        return decision(verdict, f"verdict {verdict}")

    return judge


def versions(client) -> list[str]:
    return sorted(str(v.version) for v in client.search_model_versions(f"name = '{NAME}'"))


def test_promote_moves_champion_and_records_history(store):
    client, model_uri = store
    seen: list = []
    first = registry.register(client, NAME, model_uri, judged("PROMOTE", seen), {"lineage": "a"})
    assert first.version == "1" and first.verdict == "PROMOTE", f"version 1 should be promoted: {first}"
    assert seen == [None], f"the first judge call should see no champion, saw {seen}"
    assert champion_version(client, NAME) == "1", "champion should point at version 1"

    second = registry.register(client, NAME, model_uri, judged("PROMOTE", seen), {"lineage": "b"})
    assert second.version == "2", f"the second registration should be version 2, got {second.version}"
    assert seen == [None, "1"], f"the second judge call should see champion 1, saw {seen}"
    assert champion_version(client, NAME) == "2", "champion should have moved to version 2"
    assert alias_version(client, NAME, registry.CHALLENGER) == "2", "challenger should name the latest version"

    moves = registry.history(client, NAME)
    assert [(m["from"], m["to"], m["verdict"]) for m in moves] == [(None, "1", "PROMOTE"), ("1", "2", "PROMOTE")], (
        f"history should list both moves oldest first: {moves}"
    )
    assert moves[-1]["reason"] == "verdict PROMOTE" and "@" in moves[-1]["by"], f"a move records why and who: {moves}"
    mv = client.get_model_version(NAME, "2")
    assert mv.tags["lineage"] == "b", "the caller's tags should be on the version"
    assert mv.tags["decision_verdict"] == "PROMOTE" and mv.tags["decision_version"] == "2", mv.tags


@pytest.mark.parametrize("verdict", ["HOLD", "REJECT"])
def test_hold_and_reject_leave_champion_alone_but_tag_the_version(store, verdict):
    client, model_uri = store
    registry.register(client, NAME, model_uri, judged("PROMOTE"), {})
    out = registry.register(client, NAME, model_uri, judged(verdict), {})
    assert out.verdict == verdict, f"the judge's verdict should come back, got {out.verdict}"
    assert champion_version(client, NAME) == "1", f"{verdict} must not move champion"
    tags = client.get_model_version(NAME, "2").tags
    assert tags["decision_verdict"] == verdict, f"version 2 should be tagged with {verdict}: {tags}"
    assert tags["decision_reason"] == f"verdict {verdict}" and tags["decision_metric"] == "auc", tags
    assert tags["decision_champion_version"] == "", "a None field is tagged as empty text"
    assert len(registry.history(client, NAME)) == 1, f"{verdict} must not add a history entry"


def test_a_failed_check_turns_promote_into_reject(store):
    client, model_uri = store
    checked: list = []

    def check(version):
        checked.append(version)
        return "it answers 3 columns, not 2"

    out = registry.register(client, NAME, model_uri, judged("PROMOTE"), {}, check=check)
    assert checked == ["1"], f"check should be called with the registered version, got {checked}"
    assert out.verdict == "REJECT", f"a failed check must reject, got {out.verdict}"
    assert "does not serve" in out.reason and "3 columns, not 2" in out.reason, out.reason
    assert champion_version(client, NAME) is None, "a rejected version must not become champion"
    assert client.get_model_version(NAME, "1").tags["decision_verdict"] == "REJECT", "the REJECT should be tagged"


def test_a_passing_check_keeps_promote(store):
    client, model_uri = store
    out = registry.register(client, NAME, model_uri, judged("PROMOTE"), {}, check=lambda version: None)
    assert out.verdict == "PROMOTE" and champion_version(client, NAME) == "1", "a check returning None passes"


def test_an_error_in_judge_deletes_the_version_and_restores_challenger(store):
    client, model_uri = store
    registry.register(client, NAME, model_uri, judged("PROMOTE"), {})

    def broken(current):
        raise RuntimeError("judge broke")

    with pytest.raises(RuntimeError, match="judge broke"):
        registry.register(client, NAME, model_uri, broken, {})
    assert versions(client) == ["1"], f"the half-judged version 2 should be deleted, versions: {versions(client)}"
    assert alias_version(client, NAME, registry.CHALLENGER) == "1", "challenger should point back at version 1"
    assert champion_version(client, NAME) == "1", "champion should be untouched"
    assert len(registry.history(client, NAME)) == 1, "no history entry for a failed registration"


def test_an_error_in_check_on_the_first_version_leaves_no_version_and_no_alias(store):
    client, model_uri = store

    def check(version):
        raise OSError("disk gone")

    with pytest.raises(OSError, match="disk gone"):
        registry.register(client, NAME, model_uri, judged("PROMOTE"), {}, check=check)
    assert versions(client) == [], f"no version should be left, found {versions(client)}"
    assert alias_version(client, NAME, registry.CHALLENGER) is None, "no challenger alias should be left"


def test_a_champion_moved_meanwhile_is_judged_against_again(store):
    client, model_uri = store
    registry.register(client, NAME, model_uri, judged("PROMOTE"), {})  # version 1, champion
    mlflow.register_model(model_uri, NAME)  # version 2, which "another run" promotes while version 3 is judged
    seen: list = []

    def judge(current):
        seen.append(current)
        if len(seen) == 1:
            client.set_registered_model_alias(NAME, CHAMPION, "2")
        return decision("PROMOTE")

    out = registry.register(client, NAME, model_uri, judge, {})
    assert seen == ["1", "2"], f"version 3 should be judged again against the new champion 2, judged against {seen}"
    assert out.verdict == "PROMOTE" and champion_version(client, NAME) == "3", "version 3 should end as champion"
    assert registry.history(client, NAME)[-1]["from"] == "2", "the move should be recorded from version 2"


def test_rollback_returns_to_the_previous_champion(store):
    client, model_uri = store
    registry.register(client, NAME, model_uri, judged("PROMOTE"), {})
    registry.register(client, NAME, model_uri, judged("PROMOTE"), {})
    entry = registry.rollback(client, NAME, "version 2 misbehaves")
    assert champion_version(client, NAME) == "1", "rollback should move champion back to version 1"
    assert (entry["from"], entry["to"], entry["verdict"]) == ("2", "1", "ROLLBACK"), f"rollback entry: {entry}"
    last = registry.history(client, NAME)[-1]
    assert last["verdict"] == "ROLLBACK" and last["reason"] == "version 2 misbehaves", f"history should say why: {last}"


def test_rollback_to_a_chosen_version(store):
    client, model_uri = store
    for _ in range(3):
        registry.register(client, NAME, model_uri, judged("PROMOTE"), {})
    registry.rollback(client, NAME, "back to the first", to="1")
    assert champion_version(client, NAME) == "1", "rollback --to 1 should make version 1 champion"


def test_rollback_errors(store):
    client, model_uri = store
    registry.register(client, NAME, model_uri, judged("PROMOTE"), {})
    with pytest.raises(TabflowError, match="no earlier champion"):
        registry.rollback(client, NAME, "nothing before version 1")
    with pytest.raises(TabflowError, match="already the champion"):
        registry.rollback(client, NAME, "same", to="1")
    with pytest.raises(TabflowError, match="has no version 99"):
        registry.rollback(client, NAME, "unknown", to="99")
    assert champion_version(client, NAME) == "1", "failed rollbacks must not move champion"
    assert len(registry.history(client, NAME)) == 1, "failed rollbacks must not add history"


def test_history_of_an_unknown_model_is_a_tabflow_error(store):
    client, _ = store
    with pytest.raises(TabflowError, match="no registered model 'nope'"):
        registry.history(client, "nope")


def test_move_lock_is_exclusive_on_a_sqlite_store(store, tmp_path):
    lock = Path(f"{tmp_path}/mlflow.db.alias-lock")
    with registry.move_lock():
        assert lock.exists(), f"the lock file should sit beside the database: {lock}"
        with open(lock, "a") as other, pytest.raises(BlockingIOError):
            fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)  # another process would block here
    with open(lock, "a") as other:
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)  # released on exit: this must not raise
        fcntl.flock(other, fcntl.LOCK_UN)


def test_move_lock_is_a_no_op_without_sqlite(tmp_path, monkeypatch):
    monkeypatch.delenv("TABFLOW_OPTUNA_STORAGE", raising=False)  # with it, a PostgreSQL lock (tests/system)
    monkeypatch.chdir(tmp_path)  # a lock path made from a server URI would land here, relative to cwd
    restore = pointed_at("http://127.0.0.1:1")
    try:
        with registry.move_lock():
            entered = True
    finally:
        restore()
    assert entered and not list(tmp_path.iterdir()), "without a SQLite store the lock should create no file"


def test_a_failed_history_write_leaves_the_old_champion_and_no_new_version(store, monkeypatch):
    """The history entry is written before the alias moves: failing there moves nothing (review M6)."""
    client, model_uri = store
    registry.register(client, NAME, model_uri, judged("PROMOTE"), {"parent_run_id": ""})
    real = client.set_registered_model_tag

    def failing(name, key, value):
        if key.startswith(registry.HISTORY):
            raise ConnectionError("the tracking server went away")
        return real(name, key, value)

    monkeypatch.setattr(client, "set_registered_model_tag", failing)
    with pytest.raises(ConnectionError):
        registry.register(client, NAME, model_uri, judged("PROMOTE"), {"parent_run_id": ""})
    assert champion_version(client, NAME) == "1" and versions(client) == ["1"], "version 2 is gone, 1 still serves"


def test_a_move_that_happened_before_its_error_keeps_the_new_champion(store, monkeypatch):
    """A request that timed out after the server moved the alias: deleting the version would leave no champion,
    and a retry would then promote on the floors alone (review M6)."""
    client, model_uri = store
    registry.register(client, NAME, model_uri, judged("PROMOTE"), {"parent_run_id": ""})
    real = client.set_registered_model_alias

    def moved_then_failed(name, alias, version):
        real(name, alias, version)
        if alias == CHAMPION:
            raise TimeoutError("the answer never came")

    monkeypatch.setattr(client, "set_registered_model_alias", moved_then_failed)
    with pytest.raises(TimeoutError):
        registry.register(client, NAME, model_uri, judged("PROMOTE"), {"parent_run_id": ""})
    assert champion_version(client, NAME) == "2" and versions(client) == ["1", "2"], "the new champion is kept"
    tags = client.get_model_version(NAME, "2").tags
    assert tags["decision_verdict"] == "PROMOTE", f"and its decision recorded: {tags}"
    assert [m["to"] for m in registry.history(client, NAME)] == ["1", "2"], "with its history entry"


def test_a_version_a_killed_run_left_undecided_is_swept(store):
    """register tags PENDING until the decision is written; a run killed in between leaves that mark."""
    client, model_uri = store
    experiment = client.get_experiment_by_name("reg").experiment_id
    dead, alive = client.create_run(experiment).info.run_id, client.create_run(experiment).info.run_id
    client.set_terminated(dead, "KILLED")
    for run_id in (dead, alive):
        mlflow.register_model(model_uri, NAME, tags={"decision_verdict": registry.PENDING, "parent_run_id": run_id})
    assert registry.sweep(client, NAME, experiment) == ["1"], "the killed run's undecided version goes"
    assert versions(client) == ["2"], "the running run's version stays: it may still decide"


def test_versions_of_runs_that_did_not_finish_are_swept_unless_champion(store):
    """Killed after its decision was written (PROMOTE, before the move), the run leaves a decided version: it goes
    too. A killed run's version that became champion stays, as do finished runs' versions."""
    client, model_uri = store
    experiment = client.get_experiment_by_name("reg").experiment_id
    runs = {status: client.create_run(experiment).info.run_id for status in ("KILLED", "FAILED", "FINISHED")}
    for status, run_id in runs.items():
        client.set_terminated(run_id, status)
        mlflow.register_model(model_uri, NAME, tags={"decision_verdict": "PROMOTE", "parent_run_id": run_id})
    champion_run = client.create_run(experiment).info.run_id
    client.set_terminated(champion_run, "KILLED")
    mlflow.register_model(model_uri, NAME, tags={"decision_verdict": "PROMOTE", "parent_run_id": champion_run})
    registry.move_champion(client, NAME, "4", "PROMOTE", "the killed run's promotion")
    assert sorted(registry.sweep(client, NAME, experiment)) == ["1", "2"]
    assert versions(client) == ["3", "4"]
    mlflow.register_model(model_uri, NAME, tags={"decision_verdict": "PROMOTE", "parent_run_id": runs["FINISHED"]})
    registry.move_champion(client, NAME, "5", "PROMOTE", "a later champion")
    assert registry.sweep(client, NAME, experiment) == [] and versions(client) == ["3", "4", "5"], (
        "an earlier champion stays: a rollback may need it"
    )


def test_a_move_a_killed_run_left_half_done_is_settled(store, monkeypatch):
    """move_champion writes its history entry marked `moving` before the alias move: killed between the two, the
    next run drops the entry when the alias did not move, and keeps it (unmarked) when it did."""
    import json
    import os
    import socket
    import subprocess

    client, model_uri = store
    experiment = client.get_experiment_by_name("reg").experiment_id
    for _ in range(2):
        mlflow.register_model(model_uri, NAME, tags={"decision_verdict": "PROMOTE"})
    child = subprocess.Popen(["true"])
    child.wait()
    dead = f"{socket.gethostname()}:{child.pid}"
    monkeypatch.setattr(registry, "worker_id", lambda: dead)
    registry.move_champion(client, NAME, "1", "PROMOTE", "first")  # its alias moved; its mark stays (killed)
    entry = registry.history(client, NAME)[0]
    key = next(k for k in client.get_registered_model(NAME).tags if k.startswith(registry.HISTORY))
    client.set_registered_model_tag(NAME, key, json.dumps({**entry, registry.MOVING: dead}))
    never = f"{registry.HISTORY}99999999T000000.000000.dead00"  # sorts last: a move to 2 that never happened
    client.set_registered_model_tag(NAME, never, json.dumps({**entry, "to": "2", registry.MOVING: dead}))
    alive = f"{registry.HISTORY}99999999T000000.000001.live00"  # a move in progress in a live process
    client.set_registered_model_tag(
        NAME, alive, json.dumps({**entry, "to": "2", registry.MOVING: f"{socket.gethostname()}:{os.getpid()}"})
    )
    registry.sweep(client, NAME, experiment)
    moves = registry.history(client, NAME)
    assert [(m["to"], registry.MOVING in m) for m in moves] == [("1", False), ("2", True)], moves
    assert versions(client) == ["1", "2"], "versions without a parent run are not the sweep's business"
