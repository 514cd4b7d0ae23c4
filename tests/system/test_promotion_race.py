"""Three promotions at once against one MLflow server (the server profile): MLflow has no compare-and-set on
aliases, so tabflow holds a PostgreSQL advisory lock on the study database around re-reading, judging and moving
`champion`. Each promotion is its own process; reading the champion is slowed by a second, as a busy registry
would, so that without the lock two of them would read the same champion and both move it."""

import itertools
import json
import subprocess
import sys

import mlflow

from tabflow.promotion import registry
from tests.system import servers

NAME = "race"
PROMOTE = r"""
import time
import mlflow
import pandas as pd
from mlflow.pyfunc import PythonModel
from tabflow.promotion import registry
from tabflow.promotion.decision import Decision

class Echo(PythonModel):
    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        return model_input

read = registry.champion_version
def slow(client, name):
    version = read(client, name)
    time.sleep(1.0)
    return version
registry.champion_version = slow
client = mlflow.MlflowClient()
with mlflow.start_run(experiment_id=client.get_experiment_by_name("race").experiment_id):
    info = mlflow.pyfunc.log_model(name="model", python_model=Echo(), pip_requirements=[])
judge = lambda current: Decision("PROMOTE", "better", "auc", 0.9, champion=None, champion_version=current)
print(registry.register(client, "race", info.model_uri, judge, {"parent_run_id": ""}).version)
"""


def test_three_promotions_at_once_leave_one_chain_of_champions(tmp_path):
    with servers.postgres(tmp_path / "postgres") as pg:
        for db in ("mlflow", "optuna"):
            pg.create_database(db)
        with servers.mlflow_server(pg.url("mlflow"), tmp_path / "artifacts", tmp_path / "mlflow") as tracking:
            client = mlflow.MlflowClient(tracking_uri=tracking.url, registry_uri=tracking.url)
            client.create_experiment(NAME)
            client.create_registered_model(NAME)
            env = servers.child_env(
                {
                    "MLFLOW_TRACKING_URI": tracking.url,
                    "TABFLOW_OPTUNA_STORAGE": pg.url("optuna", "postgresql+psycopg2"),
                    "MLFLOW_DISABLE_TELEMETRY": "true",
                }
            )
            procs = [
                subprocess.Popen(
                    [sys.executable, "-c", PROMOTE],
                    env=env,
                    cwd=tmp_path,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                )
                for _ in range(3)
            ]
            outs = [p.communicate(timeout=300) for p in procs]
            assert all(p.returncode == 0 for p in procs), [err.decode()[-1500:] for _, err in outs]
            moves = registry.history(client, NAME)
            versions = {
                v.version: v.tags.get("decision_verdict") for v in client.search_model_versions(f"name = '{NAME}'")
            }
            said = [out.decode()[-300:] + err.decode()[-1500:] for out, err in outs]
            assert len(moves) == 3, f"moves {json.dumps(moves)}; versions {versions}; the runs said {said}"
            chain = [(m["from"], m["to"]) for m in moves]
            assert chain[0][0] is None and all(a[1] == b[0] for a, b in itertools.pairwise(chain)), (
                f"each move starts from the champion the last one set, no two from the same: {chain}"
            )
            champion = client.get_model_version_by_alias(NAME, "champion")
            assert champion.version == chain[-1][1] and champion.tags["decision_verdict"] == "PROMOTE"
