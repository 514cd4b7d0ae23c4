"""`tabflow ui --optuna` opens tabflow's own study journal in optuna-dashboard (a real server on 127.0.0.1)."""

import json
import sys
import urllib.request

from tabflow.model.study import open_study
from tests.system import servers


def test_optuna_dashboard_reads_the_study_journal(tmp_path):
    store = tmp_path / "mlruns"
    journal = store / "optuna" / "dash.journal"
    journal.parent.mkdir(parents=True)
    study = open_study("dash-7c10-abcd", journal, seed=0, pruner="none")
    study.optimize(lambda t: (t.suggest_float("x", -1, 1) - 0.3) ** 2, n_trials=4)
    argv = [sys.executable, "-m", "tabflow.cli", "--store", str(store), "ui", "--optuna", "--port", "{port}"]
    with servers.Server("optuna-dashboard", tmp_path / "dash", argv, servers.child_env(), health_path="/") as board:
        studies = get(f"{board.url}/api/studies")["study_summaries"]
        assert [s["study_name"] for s in studies] == ["dash-7c10-abcd"]
        trials = get(f"{board.url}/api/studies/{studies[0]['study_id']}")["trials"]
    assert len(trials) == 4 and {t["state"] for t in trials} == {"Complete"}, trials


def get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return json.loads(answer.read())
