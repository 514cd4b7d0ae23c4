"""Promotion you can trust, on the embedded stack: the statistical gate between real runs, lineage on every
version, alias history kept in the registry, rollback and promotion by hand, the schema guard, and two runs
finishing at once."""

import itertools
import json
import os
import subprocess
import sys

import pytest

from flows import training
from tabflow.cli import main
from tabflow.promotion.registry import history
from tests.helpers import client_for, tiny_config

NAME = "breast_cancer"


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """Two runs of the same config: the second resumes the finished study and refits the same model."""
    store = tmp_path_factory.mktemp("promotion") / "mlruns"
    cfg = tiny_config(gate={"margin": 0.02, "confidence": 0.9})  # not the defaults: `promote` must use these too
    first = training.train(cfg, store=str(store))
    second = training.train(cfg, store=str(store))
    return store, cfg, first, second


def champion(store) -> str:
    return str(client_for(store).get_model_version_by_alias(NAME, "champion").version)


def test_an_equal_challenger_is_promoted_on_the_interval(two_runs):
    store, _, first, second = two_runs
    assert first.decision.verdict == "PROMOTE" and "no champion yet" in first.decision.reason
    assert second.decision.verdict == "PROMOTE", second.decision.reason
    assert "90% interval [+0.0000, +0.0000]" in second.decision.reason, "the same model: a zero gain"
    tags = client_for(store).get_model_version(NAME, "2").tags
    assert tags["decision_gain_low"] == tags["decision_gain_high"] == "0.0"


def test_every_version_carries_its_lineage(two_runs, capsys):
    store, cfg, first, _ = two_runs
    tags = client_for(store).get_model_version(NAME, "1").tags
    expected = {
        "data_digest",
        "schema_hash",
        "config_hash",
        "git_commit",
        "version.mlflow",
        "version.keras",
        "prefect_flow_run_id",
        "parent_run_id",
        "study",
        "best_trial",
        "seed",
        "rows_train",
        "rows_test",
    }
    assert expected <= set(tags), expected - set(tags)
    assert tags["parent_run_id"] == first.parent_run_id and tags["config_hash"] == cfg.digest()
    assert tags["study"] == first.tuning.study_name and tags["best_trial"] == str(first.tuning.best_number)
    assert main(["--store", str(store), "show", f"{NAME}/1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{NAME} version 1") and f"parent_run_id           {first.parent_run_id}" in out


def test_history_rollback_and_promotion_by_hand(two_runs, capsys):
    store, *_ = two_runs
    client = client_for(store)
    moves = history(client, NAME)
    assert [(m["from"], m["to"], m["verdict"]) for m in moves[:2]] == [(None, "1", "PROMOTE"), ("1", "2", "PROMOTE")]

    assert main(["--store", str(store), "rollback", NAME, "--reason", "version 2 misbehaves"]) == 0
    assert champion(store) == "1"
    last = history(client, NAME)[-1]
    assert (last["from"], last["to"], last["verdict"], last["reason"]) == ("2", "1", "ROLLBACK", "version 2 misbehaves")
    assert "@" in last["by"] and last["at"]

    assert main(["--store", str(store), "promote", NAME, "2", "--reason", "hotfix", "--force"]) == 0
    assert champion(store) == "2" and history(client, NAME)[-1]["verdict"] == "FORCED"

    assert main(["--store", str(store), "promote", NAME, "1", "--reason", "same model, judged"]) == 0
    assert champion(store) == "1"
    judged = history(client, NAME)[-1]
    assert judged["verdict"] == "PROMOTE" and "interval" in judged["reason"] and "same model" in judged["reason"]
    assert "90% interval" in judged["reason"] and "margin 0.0200" in judged["reason"], (
        f"promote by hand judges with the gate of the run that trained the version, not the defaults: {judged}"
    )

    capsys.readouterr()
    assert main(["--store", str(store), "history", NAME]) == 0
    table = capsys.readouterr().out.splitlines()
    assert len(table) == 1 + len(history(client, NAME)) and "ROLLBACK" in table[3] and "FORCED" in table[4]
    assert main(["--store", str(store), "rollback", NAME, "--to", "9", "--reason", "x"]) == 2


def test_a_champion_that_cannot_read_the_new_columns_needs_the_flag(two_runs):
    store, *_ = two_runs
    fewer = tiny_config(data={"source": "builtin:breast_cancer", "columns": {"mean radius": "drop"}})
    before = champion(store)
    held = training.train(fewer, store=str(store))
    assert held.decision.verdict == "HOLD" and "--allow-schema-change" in held.decision.reason
    assert "mean radius" in held.decision.reason and champion(store) == before
    allowed = fewer.model_copy(update={"gate": fewer.gate.model_copy(update={"allow_schema_change": True})})
    moved = training.train(allowed, store=str(store))
    assert moved.decision.verdict == "PROMOTE" and champion(store) == moved.decision.version


def test_two_runs_finishing_at_once_leave_the_registry_consistent(tmp_path):
    """Two real processes on one store: every champion move chains from the one before, and champion is a
    PROMOTEd version."""
    (tmp_path / "tabflow.yaml").write_text(
        json.dumps(
            {
                "data": {"source": "builtin:breast_cancer"},
                "tune": {"n_trials": 2, "max_epochs": 2},
                "train": {"folds": 2},  # the race is in the registry, not the fit
            }
        )
    )
    env = {k: v for k, v in os.environ.items() if k not in ("PREFECT_API_URL", "MLFLOW_TRACKING_URI")}
    store = tmp_path / "mlruns"
    first = [sys.executable, "-m", "tabflow.cli", "--store", str(store), "run", "--config", "tabflow.yaml"]
    subprocess.run(
        first, cwd=tmp_path, env={**env, "PREFECT_HOME": str(tmp_path / "p0")}, check=True, capture_output=True
    )  # a champion to race against
    procs = [
        subprocess.Popen(
            [*first, "--seed", str(seed)],
            cwd=tmp_path,
            env={**env, "PREFECT_HOME": str(tmp_path / f"p{seed}")},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for seed in (1, 2)
    ]
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1][-1500:] for o in outs]

    client = client_for(store)
    moves = history(client, NAME)
    assert moves[0]["from"] is None
    assert all(b["from"] == a["to"] for a, b in itertools.pairwise(moves)), moves
    assert moves[-1]["to"] == champion(store)
    assert client.get_model_version(NAME, champion(store)).tags["decision_verdict"] == "PROMOTE"
    versions = client.search_model_versions(f"name = '{NAME}'")
    assert len(versions) == 3 and all(v.tags.get("decision_verdict") for v in versions)


def test_a_version_that_does_not_serve_cannot_become_champion(tmp_path, monkeypatch):
    """The registered artifact is broken after the flow scored it: the check in a fresh process refuses it."""
    import tasks.evaluate

    store, real = tmp_path / "mlruns", tasks.evaluate.evaluate

    def evaluate_then_break(model, splits, ctx):
        scored = real(model, splits, ctx)
        for path in store.rglob("network.keras"):
            path.write_bytes(b"not a keras file")
        return scored

    monkeypatch.setattr(tasks.evaluate, "evaluate", evaluate_then_break)
    summary = training.train(tiny_config(model_name="broken"), store=str(store))
    assert summary.decision.verdict == "REJECT" and "does not serve" in summary.decision.reason
    assert "loading or scoring it failed" in summary.decision.reason
    assert client_for(store).get_registered_model("broken").aliases == {"challenger": int(summary.decision.version)}


def test_a_network_the_linear_baseline_beats_is_rejected(tmp_path, monkeypatch):
    """One epoch of one step: the schedule's first step is 0, so the network stays as initialised, and without
    its linear start (tabflow's own code switched off, not a library mocked) logistic regression beats it with
    confidence. The floor is set to 0 so that only the baseline stands in the way: no champion exists, yet the
    gate refuses it and names the baseline."""
    from tabflow.model import network

    monkeypatch.setattr(network, "start_linear", lambda *args, **kwargs: None)
    store = tmp_path / "mlruns"
    cfg = tiny_config(model_name="untrained", tune={"n_trials": 1, "max_epochs": 1}, gate={"floor": 0.0})
    summary = training.train(cfg, store=str(store))
    assert summary.decision.verdict == "REJECT", summary.decision.reason
    assert "against the linear baseline logreg" in summary.decision.reason, summary.decision.reason
    assert "worse than the baseline by more than the margin" in summary.decision.reason
    assert "champion" not in client_for(store).get_registered_model("untrained").aliases
    no_baseline = cfg.model_copy(update={"gate": cfg.gate.model_copy(update={"baseline": "none"})})
    allowed = training.train(no_baseline, store=str(store))
    assert allowed.decision.verdict == "PROMOTE", f"gate.baseline none: the floor decides; {allowed.decision.reason}"
