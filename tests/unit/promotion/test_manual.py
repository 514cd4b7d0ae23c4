"""Promotion by hand: show, the history table, promote a chosen version, and the gate settings of the run that
trained it; on a real SQLite MLflow store."""

import shutil

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.pyfunc import PythonModel

from tabflow import tracking
from tabflow.config import GateConfig
from tabflow.errors import TabflowError
from tabflow.promotion import manual, registry
from tabflow.tracking import CHAMPION, champion_version
from tests.helpers import pointed_at

NAME = "manual-model"


class Scorer(PythonModel):
    """P(positive) is the column `s` of the rows: its AUC is whatever the test rows make it."""

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:  # a hint: no warning
        p = model_input["s"].to_numpy(dtype="float64")
        return pd.DataFrame({"probability": p, "label": np.where(p >= 0.5, "b", "a")})


@pytest.fixture
def store(tmp_path, empty_mlflow_db):
    """(client, experiment id, model_uri of a logged Scorer) on a fresh store."""
    shutil.copy(empty_mlflow_db, tmp_path / "mlflow.db")
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    restore = pointed_at(uri)
    try:
        client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
        experiment = client.create_experiment("manual", artifact_location=(tmp_path / "artifacts").as_uri())
        run_id = client.create_run(experiment).info.run_id
        with mlflow.start_run(run_id=run_id):
            info = mlflow.pyfunc.log_model(name="model", python_model=Scorer(), pip_requirements=[])
        yield client, experiment, info.model_uri
    finally:
        restore()


def training_run(client, experiment: str, config: dict | None = None, params: dict | None = None) -> str:
    """A parent run as `tabflow run` leaves it: test rows, and the config as an artifact or as flattened params."""
    run_id = client.create_run(experiment).info.run_id
    rng = np.random.default_rng(0)
    y = np.array(["a", "b"] * 50)
    s = np.clip((y == "b") * 0.3 + rng.uniform(0, 0.7, len(y)), 0, 1)  # separates the classes well, not perfectly
    tracking.log_frame(client, run_id, pd.DataFrame({"s": s, "target": y}), tracking.TEST_ROWS)
    if config is not None:
        client.log_dict(run_id, config, tracking.CONFIG)
    if params:
        tracking.log_all(client, run_id, params=params)
    return run_id


def registered(client, model_uri: str, run_id: str | None = None) -> str:
    tags = {"parent_run_id": run_id, "task": "binary", "target": "target", "classes": '["a", "b"]'} if run_id else {}
    return str(mlflow.register_model(model_uri, NAME, tags=tags).version)


def test_show_names_the_version_its_aliases_run_and_tags(store):
    client, experiment, model_uri = store
    run_id = training_run(client, experiment)
    version = registered(client, model_uri, run_id)
    client.set_registered_model_alias(NAME, CHAMPION, version)
    text = manual.show(client, f"{NAME}/{version}")
    lines = text.splitlines()
    assert lines[0] == f"{NAME} version 1 (champion)", f"the first line names version and aliases: {lines[0]!r}"
    assert client.get_model_version(NAME, "1").run_id in lines[1] and lines[1].startswith("run"), lines[1]
    assert lines[2].startswith("created"), f"the third line is the creation time: {lines[2]!r}"
    assert f"{'parent_run_id':<24}{run_id}" in lines and f"{'task':<24}binary" in lines, f"tags listed: {text}"
    tag_lines = lines[3:]
    assert tag_lines == sorted(tag_lines), f"tags should be sorted by key: {tag_lines}"
    assert manual.show(client, NAME).splitlines()[0] == lines[0], "NAME alone should show the champion"


def test_history_table_lists_moves(store):
    client, _, model_uri = store
    registered(client, model_uri)
    assert manual.history_table(client, NAME) == f"{NAME}: no champion moves recorded yet", "no moves yet"
    registered(client, model_uri)
    manual.promote_version(client, NAME, "1", "first", force=True)
    manual.promote_version(client, NAME, "2", "second", force=True)
    lines = manual.history_table(client, NAME).splitlines()
    assert lines[0].startswith("when (UTC)") and "verdict" in lines[0], f"a header line first: {lines[0]!r}"
    assert len(lines) == 3, f"one line per move: {lines}"
    assert lines[1].split()[1:4] == ["-", "1", "FORCED"], f"first move from nothing to 1: {lines[1]!r}"
    assert lines[2].split()[1:4] == ["1", "2", "FORCED"], f"second move from 1 to 2: {lines[2]!r}"
    assert lines[2].endswith("forced by hand: second"), f"the reason ends the line: {lines[2]!r}"


def test_forced_promotion_moves_champion_and_records_forced(store):
    client, _, model_uri = store
    registered(client, model_uri)
    registered(client, model_uri)
    manual.promote_version(client, NAME, "1", "start", force=True)
    out = manual.promote_version(client, NAME, "2", "hotfix", force=True)
    assert out.verdict == "PROMOTE" and out.version == "2" and out.champion_version == "1", f"decision: {out}"
    assert "gate skipped" in out.reason and "hotfix" in out.reason, out.reason
    assert champion_version(client, NAME) == "2", "force should move champion to version 2"
    last = registry.history(client, NAME)[-1]
    assert (last["from"], last["to"], last["verdict"]) == ("1", "2", "FORCED"), f"history entry: {last}"


def test_promote_version_errors(store):
    client, _, model_uri = store
    registered(client, model_uri)  # no lineage tags
    with pytest.raises(TabflowError, match="no lineage"):
        manual.promote_version(client, NAME, "1", "why", force=False)
    with pytest.raises(TabflowError, match="has no version 7"):
        manual.promote_version(client, NAME, "7", "why", force=True)
    manual.promote_version(client, NAME, "1", "why", force=True)
    with pytest.raises(TabflowError, match="already the champion"):
        manual.promote_version(client, NAME, "1", "again", force=True)


def test_a_version_whose_run_kept_no_test_rows_needs_force(store):
    client, experiment, model_uri = store
    run_id = client.create_run(experiment).info.run_id
    registered(client, model_uri, run_id)
    with pytest.raises(TabflowError, match="kept no test rows; use --force"):
        manual.promote_version(client, NAME, "1", "why", force=False)


def test_run_gate_settings_from_the_config_artifact(store):
    client, experiment, _ = store
    config = {"gate": {"margin": 0.02, "floors": {"recall": 0.75}, "resamples": 300, "floor": 0.6}, "seed": 11}
    run_id = training_run(client, experiment, config=config, params={"gate.margin": "0.3", "seed": "5"})
    cfg, seed = manual.run_gate_settings(client, run_id)
    assert seed == 11, f"the seed should come from config.json, got {seed}"
    assert (cfg.margin, cfg.floors, cfg.resamples, cfg.floor) == (0.02, {"recall": 0.75}, 300, 0.6), (
        f"the gate should come from config.json, not params or defaults: {cfg}"
    )


def test_run_gate_settings_from_flattened_params_of_an_older_run(store):
    client, experiment, _ = store
    params = {
        "gate.margin": "0.01",
        "gate.floors.recall": "0.8",
        "gate.metric": "None",
        "gate.resamples": "250",
        "gate.allow_schema_change": "True",
        "seed": "7",
        "train.max_epochs": "3",
    }
    run_id = training_run(client, experiment, params=params)
    cfg, seed = manual.run_gate_settings(client, run_id)
    assert seed == 7, f"the seed should come from the `seed` param, got {seed} (0 is the old bug)"
    assert cfg.margin == 0.01 and cfg.floors == {"recall": 0.8}, f"gate params should be read back: {cfg}"
    assert cfg.metric is None and cfg.resamples == 250 and cfg.allow_schema_change is True, f"gate: {cfg}"
    assert cfg != GateConfig(), "the gate must not be the default one"


def test_run_gate_settings_without_any_falls_back_to_defaults(store):
    client, experiment, _ = store
    run_id = training_run(client, experiment)
    assert manual.run_gate_settings(client, run_id) == (GateConfig(), 0), "a run with no settings: the defaults"
    bad = training_run(client, experiment, params={"gate.margin": "-1", "seed": "3"})
    assert manual.run_gate_settings(client, bad) == (GateConfig(), 3), "an invalid gate: defaults, seed still read"


@pytest.mark.parametrize(("floor", "verdict"), [(0.99, "REJECT"), (0.6, "PROMOTE")])
def test_promote_version_judges_with_the_runs_own_gate(store, floor, verdict):
    client, experiment, model_uri = store
    run_id = training_run(client, experiment, config={"gate": {"floor": floor, "resamples": 100}, "seed": 1})
    registered(client, model_uri, run_id)
    out = manual.promote_version(client, NAME, "1", "by hand", force=False)
    assert out.verdict == verdict, f"with the run's floor {floor} the verdict should be {verdict}: {out}"
    assert out.metric == "test_auc" and 0.6 < out.challenger < 0.99, f"the challenger's AUC on its test rows: {out}"
    assert f"{floor:.4f}" in out.reason, f"the reason should cite the run's floor {floor}: {out.reason}"
    assert champion_version(client, NAME) == ("1" if verdict == "PROMOTE" else None), "champion moves on PROMOTE only"
    if verdict == "PROMOTE":
        assert registry.history(client, NAME)[-1]["reason"].startswith("by hand: by hand;"), "history says by hand"
