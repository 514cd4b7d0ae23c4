"""The training flow end to end, tiny budgets (3 trials x 3 epochs), each module with its own store."""

import dataclasses
import json

import mlflow
import numpy as np
import pandas as pd
import pytest

import tabflow.promotion.decision
import tabflow.runs.evaluate
import tabflow.runs.train
import tabflow.runs.tune
from flows import training
from tabflow.data import clean, read
from tabflow.data.split import split
from tests.helpers import client_for, tiny_config

NAME = "breast_cancer"


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    store = tmp_path_factory.mktemp("store") / "mlruns"
    cfg = tiny_config()
    return store, cfg, training.train(cfg, store=str(store))


def children(client, parent_id: str) -> dict[str, mlflow.entities.Run]:
    runs = client.search_runs(
        [client.get_run(parent_id).info.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{parent_id}'"
    )
    return {run.info.run_name: run for run in runs}


def test_parent_run_is_tagged_and_finished(first_run):
    store, cfg, summary = first_run
    parent = client_for(store).get_run(summary.parent_run_id)
    assert parent.info.status == "FINISHED"
    for tag in ("prefect_flow_run_id", "data_digest", "git_commit", "config_hash", "study", "version.mlflow"):
        assert parent.data.tags.get(tag), f"parent run lacks tag {tag}"
    assert parent.data.tags["config_hash"] == cfg.digest()
    assert parent.data.metrics["rows_train"] + parent.data.metrics["rows_val"] + parent.data.metrics["rows_test"] == 569
    for metric in (
        "test_auc",
        "test_accuracy",
        "baseline_logreg_test_auc",
        "baseline_dummy_test_auc",
        "best_val_log_loss",
        "seconds_tune",
        "seconds_promote",
    ):
        assert metric in parent.data.metrics, f"parent run lacks {metric}"
    artifacts = {a.path for a in client_for(store).list_artifacts(summary.parent_run_id, "plots")}
    assert artifacts == {
        f"plots/{name}.png"
        for name in (
            "confusion_matrix",
            "roc_curve",
            "pr_curve",
            "reliability",
            "optimization_history",
            "param_importances",
            "permutation_importance",
        )
    }


def test_each_trial_is_a_child_run_with_per_epoch_metrics(first_run):
    store, _, summary = first_run
    client = client_for(store)
    runs = children(client, summary.parent_run_id)
    assert set(runs) == {
        "trial-0",
        "trial-1",
        "trial-2",
        "final-fit",
        "baseline-dummy",
        "baseline-logreg",
        "baseline-hgb",
    }
    for name in ("trial-0", "trial-1", "trial-2"):
        history = client.get_metric_history(runs[name].info.run_id, "val_log_loss")
        assert [m.step for m in history] == [0, 1, 2], f"{name} should log one val_log_loss per epoch"
        assert runs[name].data.params["width"], "trial params are logged"
    assert runs["baseline-logreg"].data.metrics["test_auc"] > 0.97
    assert runs["final-fit"].data.metrics["test_auc"] == pytest.approx(summary.scores.test["auc"])


def test_first_version_becomes_champion_and_serves_exactly_as_the_flow_scored(first_run):
    store, cfg, summary = first_run
    client = client_for(store)
    assert summary.decision.verdict == "PROMOTE"
    champion = client.get_model_version_by_alias(NAME, "champion")
    assert str(champion.version) == summary.decision.version == "1"
    assert champion.tags["decision_verdict"] == "PROMOTE" and champion.tags["data_digest"]

    mlflow.set_tracking_uri(client.tracking_uri)
    mlflow.set_registry_uri(client.tracking_uri)
    raw = read.load_table(cfg.data.source)
    splits = split(clean.clean_table(raw, "target", cfg.split, read.digest_frame(raw)), cfg.split, cfg.seed)
    served = mlflow.pyfunc.load_model(f"models:/{NAME}@champion").predict(splits.x("test"))
    recorded = pd.read_parquet(client.download_artifacts(summary.parent_run_id, "predictions/test.parquet"))
    np.testing.assert_array_equal(served["probability"].to_numpy(), recorded["probability"].to_numpy())
    np.testing.assert_array_equal(served["label"].to_numpy(), recorded["label"].to_numpy())
    assert set(served["label"]) <= {0, 1}


def test_challenger_trained_on_shuffled_labels_does_not_take_champion(first_run, monkeypatch):
    store, cfg, _ = first_run
    real_prepare = tabflow.runs.tune.prepare

    def shuffled_labels(splits, *args):
        prepared = real_prepare(splits, *args)
        rng = np.random.default_rng(0)
        return dataclasses.replace(prepared, y_train=rng.permutation(prepared.y_train))

    monkeypatch.setattr(tabflow.runs.tune, "prepare", shuffled_labels)
    monkeypatch.setattr(tabflow.runs.train, "prepare", shuffled_labels)
    # Let the champion decide: no floor, and no baseline (logistic regression would reject it first).
    worse = cfg.model_copy(update={"gate": cfg.gate.model_copy(update={"floor": 0.0, "baseline": "none"})})
    summary = training.train(worse, store=str(store))

    client = client_for(store)
    assert summary.decision.verdict == "REJECT", summary.decision.reason
    assert "worse than the champion by more than the margin 0.0050, with 95% confidence" in summary.decision.reason
    assert str(client.get_model_version_by_alias(NAME, "champion").version) == "1", "the champion must not move"
    assert str(client.get_model_version_by_alias(NAME, "challenger").version) == summary.decision.version
    parent = client.get_run(summary.parent_run_id)
    assert parent.data.metrics["champion_test_auc"] > parent.data.metrics["test_auc"]
    assert parent.data.tags["decision_verdict"] == "REJECT"
    assert float(parent.data.tags["decision_gain_high"]) < -0.005, "the interval is recorded on the run"


def test_failure_after_registration_leaves_no_version_and_no_alias_move(first_run, monkeypatch):
    store, cfg, _ = first_run
    client = client_for(store)
    before = {v.version for v in client.search_model_versions(f"name = '{NAME}'")}
    aliases = client.get_registered_model(NAME).aliases

    def broken(self):
        raise RuntimeError("injected failure while tagging the new version")

    monkeypatch.setattr(tabflow.promotion.decision.Decision, "as_tags", broken)
    monkeypatch.setattr(training, "promote_model", training.promote_model.with_options(retries=0))
    with pytest.raises(RuntimeError, match="injected failure"):
        training.train(cfg, store=str(store))

    assert {v.version for v in client.search_model_versions(f"name = '{NAME}'")} == before
    assert client.get_registered_model(NAME).aliases == aliases


def test_failure_before_promotion_registers_nothing(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("injected failure while plotting")

    monkeypatch.setattr(tabflow.runs.evaluate, "plots", broken)
    store = tmp_path / "mlruns"
    with pytest.raises(RuntimeError, match="injected failure"):
        training.train(tiny_config(), store=str(store))

    client = client_for(store)
    assert client.search_registered_models() == [], "a failed run must register nothing"
    parents = client.search_runs(
        [client.get_experiment_by_name(NAME).experiment_id], filter_string="attributes.run_name LIKE 'train-%'"
    )
    assert [run.info.status for run in parents] == ["FAILED"]


def test_a_late_scheduled_run_is_skipped_and_tracks_nothing(tmp_path):
    store = tmp_path / "mlruns"
    state = training.train(tiny_config(), store=str(store), max_late_minutes=-1, return_state=True)
    assert state.is_completed() and state.name == "Skipped"
    assert "max_late_minutes" in state.message
    assert not (store / "mlflow.db").exists(), "a skipped run opens no MLflow run"


def test_tabflow_ui_serves_the_runs(first_run):
    """`tabflow ui` starts the real MLflow server on 127.0.0.1 over the store; its API lists parent and children."""
    import json
    import os
    import subprocess
    import sys
    import urllib.request

    from tabflow.cli.local_prefect import free_port, wait_until_healthy

    store, _, summary = first_run
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tabflow.cli", "--store", str(store), "ui", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        assert wait_until_healthy(f"{base}/health", proc, 180), "the MLflow UI did not answer within 180 s"
        experiment = client_for(store).get_run(summary.parent_run_id).info.experiment_id
        request = urllib.request.Request(
            f"{base}/api/2.0/mlflow/runs/search",
            method="POST",
            data=json.dumps({"experiment_ids": [experiment]}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            runs = json.load(response)["runs"]
        names = {run["info"]["run_name"] for run in runs}
        assert {"trial-0", "final-fit", "baseline-logreg"} <= names and any(n.startswith("train-") for n in names)
        with urllib.request.urlopen(f"{base}/", timeout=30) as response:
            assert response.status == 200 and b"<html" in response.read(2000).lower(), "the UI page itself loads"
    finally:
        os.killpg(proc.pid, 15)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()


def test_the_prefect_flow_run_is_named_and_carries_three_artifacts(first_run):
    """The Prefect UI shows the run's result: its summary (keyed by model, so the UI keeps its history), a table
    of the trials and a link to the MLflow run; the run is named from the model and its data."""
    from uuid import UUID

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    store, _, summary = first_run
    tags = client_for(store).get_run(summary.parent_run_id).data.tags
    flow_run_id = UUID(tags["prefect_flow_run_id"])
    with get_client(sync_client=True) as prefect:
        flow_run = prefect.read_flow_run(flow_run_id)
        found = prefect.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )
    assert flow_run.name == f"{NAME}-{tags['data_digest'][:4]}"
    by_key = {a.key: a for a in found}
    kinds = [by_key[k].type for k in ("summary-breast-cancer", "trials-breast-cancer", "mlflow-run-breast-cancer")]
    assert kinds == ["markdown", "table", "markdown"], "Prefect keeps a link artifact as markdown"
    assert summary.decision.verdict in by_key["summary-breast-cancer"].data
    link = by_key["mlflow-run-breast-cancer"].data
    assert link.startswith("[MLflow run") and f"/runs/{summary.parent_run_id}?workflowType=machine_learning)" in link
    assert len(json.loads(by_key["trials-breast-cancer"].data)) == summary.tuning.n_finished


def test_the_parent_run_reads_well_in_the_mlflow_ui(first_run):
    """Its description, its three datasets, its logged model and its registered version; true trial durations;
    the registry's descriptions; the new plots."""
    store, _, summary = first_run
    client = client_for(store)
    run = client.get_run(summary.parent_run_id)
    assert summary.decision.reason in run.data.tags["mlflow.note.content"]
    contexts = {
        next(t.value for t in d.tags if t.key == "mlflow.data.context"): d.dataset.name
        for d in run.inputs.dataset_inputs
    }
    assert contexts == {"train": f"{NAME}-train", "validation": f"{NAME}-val", "test": f"{NAME}-test"}
    assert [o.model_id for o in run.outputs.model_outputs] == [summary.model.model_uri.removeprefix("models:/")]
    version = client.get_model_version(NAME, summary.decision.version)
    assert version.run_id == summary.parent_run_id and summary.decision.verdict in version.description
    assert "model card" in version.description and "Predicts `target`" in client.get_registered_model(NAME).description
    trials = children(client, summary.parent_run_id)
    durations = [(r.info.end_time - r.info.start_time) / 1000 for n, r in trials.items() if n.startswith("trial-")]
    seconds = [r.data.metrics["trial_seconds"] for n, r in trials.items() if n.startswith("trial-")]
    assert sorted(durations) == pytest.approx(sorted(seconds), abs=0.5), "each trial's run lasts as long as it did"
    card = [f.path for f in client.list_artifacts(summary.parent_run_id)]
    assert "model_card.md" in card


def test_show_card_prints_the_champions_model_card(first_run, capsys):
    from tabflow.cli.main import main

    store, _, summary = first_run
    assert main(["--store", str(store), "show", f"{NAME}@champion", "--card"]) == 0
    card = capsys.readouterr().out
    assert card.startswith(f"# {NAME}, version {summary.decision.version}") and "## Known limits" in card
    assert main(["--store", str(store), "show", f"{NAME}/99", "--card"]) == 2, "no such version: one line"
