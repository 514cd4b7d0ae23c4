"""The alias watcher's choices, with the registry and the loads faked: what is retried, what is refused for good,
what a registry outage does, and what a swap cleans up (the real load and swap: tests/flows/test_serving.py)."""

import logging
import sys

import pytest
from mlflow.exceptions import MlflowException
from mlflow.protos import databricks_pb2 as codes

from tabflow import tracking
from tabflow.serving import alias
from tabflow.serving.alias import Loaded, Refused, Slot


@pytest.fixture
def registry(monkeypatch):
    """state["version"] is what the alias points at; an exception there is what reading it raises."""
    state: dict = {"version": "1", "loads": []}

    def version(client, name, which):
        if isinstance(state["version"], Exception):
            raise state["version"]
        return state["version"]

    def load(name, version):
        state["loads"].append(version)
        outcome = state.get(version)
        if isinstance(outcome, list) and outcome:
            raise outcome.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return Loaded(name, version, model=object(), tags={}, path=state.get("path", ""))

    monkeypatch.setattr(tracking, "alias_version", version)
    monkeypatch.setattr(alias, "load", load)
    return state


def test_a_transient_failure_is_retried_until_the_version_loads(registry):
    registry["1"] = [OSError("connection reset"), MlflowException("503", error_code=codes.TEMPORARILY_UNAVAILABLE)]
    slot = Slot("m", "champion", poll_s=0.0)  # no backoff wait
    for _ in range(3):
        slot.poll()
    assert slot.current is not None and slot.current.version == "1", "served once the registry answers again"
    assert registry["loads"] == ["1", "1", "1"] and slot.refused == {}, "two failed loads, then one that worked"


def test_a_version_that_cannot_serve_is_refused_for_good(registry):
    registry["1"] = Refused("scoring its input example failed: boom")
    slot = Slot("m", "champion", poll_s=0.0)
    with pytest.raises(RuntimeError, match="version 1 refused: scoring its input example failed"):
        slot.start()  # the reason, not "no version holds @champion"
    slot.poll()
    assert registry["loads"] == ["1"], "a refused version is not loaded again"


def test_a_registry_outage_keeps_serving_logs_once_and_recovers(registry, caplog):
    slot = Slot("m", "champion", poll_s=0.0)
    slot.poll()
    registry["version"] = MlflowException("API request failed", error_code=codes.INTERNAL_ERROR)
    with caplog.at_level(logging.WARNING, logger="tabflow.server"):
        for _ in range(5):
            slot.poll()
    assert slot.current.version == "1" and slot.registry_ok is False, "still serving, and /health says so"
    assert len([r for r in caplog.records if "could not read" in r.message]) == 1, "one warning, not one a poll"
    registry["version"] = "1"
    slot.poll()
    assert slot.registry_ok is True, "back to ok once the alias reads again"


def test_a_swap_deletes_the_previous_versions_files_and_path_entry(registry, tmp_path):
    old = tmp_path / "v1"
    (old / "code").mkdir(parents=True)
    registry["path"] = str(old)
    slot = Slot("m", "champion", poll_s=0.0)
    slot.poll()
    sys.path.insert(0, str(old / "code"))  # as MLflow does for a model's code_paths
    registry["version"], registry["path"] = "2", str(tmp_path / "v2")
    slot.poll()
    assert slot.current.version == "2" and not old.exists(), "the old version's download is gone"
    assert str(old / "code") not in sys.path, "and its code no longer on sys.path"


def test_alias_version_raises_on_registry_errors_and_is_none_when_absent():
    class Client:
        def __init__(self, code):
            self.code = code

        def get_model_version_by_alias(self, name, which):
            raise MlflowException("no", error_code=self.code)

    assert tracking.alias_version(Client(codes.RESOURCE_DOES_NOT_EXIST), "m", "champion") is None
    assert tracking.alias_version(Client(codes.INVALID_PARAMETER_VALUE), "m", "champion") is None  # no such alias
    with pytest.raises(MlflowException):
        tracking.alias_version(Client(codes.PERMISSION_DENIED), "m", "champion")
