"""The summary printed at the end of a run, from a stand-in for flows.training.TrainingSummary."""

import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from tabflow.cli.report import summary

URI = "sqlite:////tmp/store/mlflow.db"


def result(verdict: str = "PROMOTE", n_run: int = 5, capped: dict | None = None, balance: dict | None = None):
    """Mirrors flows.training.TrainingSummary: model_name, tracking_uri, parent_run_id, tuning, model, scores,
    decision, cleaning, class_balance."""
    return SimpleNamespace(
        model_name="cancer",
        tracking_uri=URI,
        parent_run_id="run123",
        experiment_id="7",
        tuning=SimpleNamespace(
            best_params={"units": 64, "learning_rate": 0.00123456, "activation": "relu"},
            n_finished=8,
            n_run=n_run,
            study_name="cancer-study",
            best_number=3,
            objective="val_loss",
            best_value=0.123456,
        ),
        model=SimpleNamespace(capped=capped or {}),
        scores=SimpleNamespace(
            test={"auc": 0.98765, "accuracy": 0.9512},
            baselines={
                "dummy": {"auc": 0.5, "accuracy": 0.62},
                "logistic": {"auc": 0.97, "accuracy": 0.9},
                "hgb": {"auc": 0.99, "accuracy": 0.93},
            },
        ),
        decision=SimpleNamespace(verdict=verdict, version="4", reason="better than the champion", metric="test_auc"),
        cleaning={
            "task": "binary",
            "rows_in": 569,
            "rows_out": 560,
            "rows_missing_target": 0,
            "rows_duplicate": 9,
            "roles": {"a": "numeric", "b": "numeric", "c": "categorical"},
            "columns_dropped": {},
            "cells_coerced_to_missing": {},
            "missing_values": {},
        },
        class_balance=balance if balance is not None else {"train": {"0": 200, "1": 300}},
    )


def line(text: str, start: str) -> str:
    found = [row for row in text.splitlines() if row.startswith(start)]
    assert len(found) == 1, f"exactly one line should start with {start!r}: {text}"
    return found[0]


def test_the_score_table_has_the_network_and_each_baseline():
    text = summary(result())
    header = ["test", "network", "hgb", "logistic", "dummy"]
    assert line(text, "test").split() == header, "header: network, then baselines"
    assert line(text, "auc").split() == ["auc", "0.9877", "0.99", "0.97", "0.5"], "auc row: network then the baselines"
    assert line(text, "accuracy").split() == ["accuracy", "0.9512", "0.93", "0.9", "0.62"], "in that order"


def test_the_summary_names_the_best_model_on_the_gate_metric():
    text = summary(result())
    assert line(text, "best") == "best      hgb on test_auc, 0.99: 0.00235 ahead of network (0.9877)"
    tied = result()
    tied.scores.baselines["logistic"]["auc"] = 0.99 + 1e-16
    assert line(summary(tied), "best").split(" tie ")[1] == "on test_auc, 0.99", "a float tie is a tie"


def test_the_study_params_data_and_decision_lines():
    text = summary(result(verdict="HOLD"))
    assert line(text, "decision") == "decision  HOLD version 4: better than the champion", "verdict, version, reason"
    assert line(text, "run ") == (
        "run       MLflow run run123: http://127.0.0.1:5000/#/experiments/7/runs/run123?workflowType=machine_learning"
        " (start the UI with: tabflow ui)"
    ), "the parent run, as a link that opens MLflow's training view"
    assert line(text, "params") == "params    activation=relu, learning_rate=0.00123, units=64", "sorted, floats .3g"
    study = line(text, "study")
    assert "cancer-study: 8 trials (3 kept from an earlier run of this study)" in study, study
    assert study.endswith("best #3 val_loss 0.1235"), f"the best trial and value: {study}"
    data = line(text, "data")
    assert "569 rows in, 560 kept" in data and "9 exact duplicates dropped" in data, data
    assert line(text, "classes") == "classes   train 0 200, 1 300", "class balance per part"


def test_no_resume_note_and_no_optional_lines_when_empty():
    text = summary(result(n_run=8, balance={}))
    assert "kept from an earlier run" not in line(text, "study"), "all trials ran now: no resume note"
    assert not any(row.startswith(("classes", "capped")) for row in text.splitlines()), "no empty optional lines"


def test_capped_categories_are_listed():
    text = summary(result(capped={"city": {"values": 1234, "rows": 5678}}))
    capped = line(text, "capped")
    assert "city (1,234 values, 5,678 rows)" in capped and "share one 'other' code" in capped, capped


@pytest.mark.parametrize("verdict", ["HOLD", "REJECT"])
def test_no_serve_line_unless_promoted(verdict):
    text = summary(result(verdict=verdict))
    assert "champion" not in [row.split()[0] for row in text.splitlines() if row.strip()], "no champion line"
    assert "serve:" not in text and "load_model" not in text, f"{verdict} should not say how to serve"


def test_promote_says_how_to_serve_and_load_the_champion():
    text = summary(result())
    assert line(text, "champion") == f"champion  models:/cancer@champion in {URI}", "the champion URI and store"
    serve = line(text.replace("          serve:", "serve:"), "serve:")
    tabflow = Path(sys.executable).parent / "tabflow"
    assert serve == f"serve: MLFLOW_TRACKING_URI={URI} {tabflow} serve --model cancer", f"the serve command: {serve}"
    assert f"mlflow.set_tracking_uri('{URI}'); mlflow.pyfunc.load_model('models:/cancer@champion')" in text, text


def test_calibration_threshold_and_interval_lines():
    from tabflow.model.calibrate import After

    binary = result()
    binary.model.after = After(temperature=1.25, threshold=0.4, rows=483, log_loss_before=0.2, log_loss_after=0.18)
    binary.scores.test = {**binary.scores.test, "precision": 0.9, "ece": 0.031, "brier": 0.04}
    for scores in binary.scores.baselines.values():
        scores.update(precision=0.8, ece=0.05, brier=0.06)
    binary.scores.confusion = {"tn": 31, "fp": 1, "fn": 4, "tp": 50}
    text = summary(binary)
    assert line(text, "calibrate") == (
        "calibrate temperature 1.25 (held-out log loss 0.2 -> 0.18); test ECE 0.0310, Brier 0.0400"
    )
    assert line(text, "threshold") == (
        "threshold label = positive at P >= 0.4 (train.threshold); on test 50 TP, 1 FP, 4 FN, 31 TN"
    )
    regression = result()
    regression.model.after = After(coverage=0.9, half_width=1.5, rows=200)
    regression.scores.interval = {"interval_coverage": 0.913}
    assert line(summary(regression), "interval") == (
        "interval  prediction ± 1.5 at 90% (split-conformal on 200 held-out rows); test coverage 91.3%"
    )
