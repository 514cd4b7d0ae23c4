"""Every task type end to end from a raw CSV with categorical, missing, date and ID columns; the champion then
serves raw rows with unseen categories and missing values."""

import mlflow
import numpy as np
import pandas as pd
import pytest

from flows import training
from tabflow.cli import main
from tests.helpers import client_for, tiny_config

N = 400


def messy_table(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    city = rng.choice(["Oslo", "Lima", "Pune", "Kyiv", "Nome"], N)
    effect = pd.Series(city).map({"Oslo": -2.0, "Lima": -1.0, "Pune": 0.0, "Kyiv": 1.0, "Nome": 2.0}).to_numpy()
    x1, x2 = rng.normal(size=N), rng.normal(size=N)
    score = 1.5 * x1 + effect + 0.5 * x2 + rng.normal(scale=0.3, size=N)
    frame = pd.DataFrame(
        {
            "customer_id": rng.permutation(N) + 10_000,
            "x1": x1,
            "x2": np.where(rng.random(N) < 0.1, np.nan, x2),
            "city": np.where(rng.random(N) < 0.05, None, city),
            "rooms": rng.integers(1, 5, N),
            "member": rng.random(N) < 0.5,
            "signup": pd.date_range("2023-01-01", periods=N, freq="D").strftime("%Y-%m-%d"),
            "churned": np.where(score > 0, "yes", "no"),
            "tier": pd.cut(score, [-np.inf, -1, 1, np.inf], labels=["low", "mid", "high"]).astype(str),
            "spend": 100 + 20 * score,
        }
    )
    frame["street"] = [f"s{k}" for k in np.minimum(rng.zipf(1.6, N), 60)]  # embedded; its rare values capped
    return frame


CASES = {  # task -> target, the gate's default metric, the served columns, the linear baseline
    "binary": ("churned", "auc", {"probability", "label"}, "logreg"),
    "multiclass": ("tier", "auc", {"probability_high", "probability_low", "probability_mid", "label"}, "logreg"),
    "regression": ("spend", "rmse", {"prediction", "prediction_lower", "prediction_upper"}, "ridge"),
}


@pytest.fixture(scope="module")
def table_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "customers.csv"
    messy_table().to_csv(path, index=False)
    return path


@pytest.mark.parametrize("task", list(CASES))
def test_task_runs_end_to_end_and_serves_messy_rows(table_csv, tmp_path, task):
    target, metric, columns, linear = CASES[task]
    others = [t for t, *_ in CASES.values() if t != target]
    cfg = tiny_config(
        data={"source": str(table_csv), "target": target, "columns": dict.fromkeys(others, "drop")},
        model_name=f"customers-{task}",
        tune={"n_trials": 3, "max_epochs": 15},
        gate={"baseline": "none"},  # the target is linear: this test is about the task, not the gate
    )
    store = tmp_path / "mlruns"
    summary = training.train(cfg, store=str(store))

    assert summary.cleaning["task"] == task
    assert summary.cleaning["columns_dropped"]["customer_id"] == "ID-like (unique per row)"
    assert summary.cleaning["roles"]["city"] == summary.cleaning["roles"]["member"] == "categorical"
    assert summary.cleaning["roles"]["signup"] == "datetime"
    assert summary.decision.metric == f"test_{metric}"
    assert summary.decision.verdict == "PROMOTE", summary.decision.reason  # it beat the dummy
    assert set(summary.scores.baselines) == {"dummy", linear, "hgb"}
    parent = client_for(store).get_run(summary.parent_run_id)
    assert {f"baseline_{linear}_test_{metric}", f"baseline_hgb_test_{metric}"} <= set(parent.data.metrics)
    schema = mlflow.artifacts.load_dict(f"{parent.info.artifact_uri}/data/schema.json")
    assert schema["city"]["role"] == "categorical" and "Oslo" in schema["city"]["categories"]
    assert schema["x1"]["role"] == "numeric" and schema["x1"]["min"] < 0 < schema["x1"]["max"]
    capped = mlflow.artifacts.load_dict(f"{parent.info.artifact_uri}/data/categories_capped.json")
    assert capped == summary.model.capped and capped["street"]["values"] > 0 and "city" not in capped

    mlflow.set_tracking_uri(client_for(store).tracking_uri)
    mlflow.set_registry_uri(client_for(store).tracking_uri)
    model = mlflow.pyfunc.load_model(f"models:/customers-{task}@champion")
    rows = pd.read_csv(table_csv).drop(columns=[target, *others]).head(20)
    rows.loc[0, "city"] = "Atlantis"  # never seen in training
    rows.loc[1, ["x2", "city", "signup", "street"]] = [np.nan, None, None, None]
    rows.loc[2, "street"] = "s999"  # unseen: the embedding's "other" code
    served = model.predict(rows)
    assert set(served.columns) == columns and len(served) == 20
    numbers = served.drop(columns=["label"], errors="ignore").to_numpy(dtype="float64")
    assert np.isfinite(numbers).all()
    if task == "multiclass":
        assert np.allclose(numbers.sum(axis=1), 1.0, atol=1e-5)
        assert set(served["label"]) <= {"low", "mid", "high"}


def test_regression_metrics_are_in_the_targets_units(table_csv, tmp_path):
    dropped = {"churned": "drop", "tier": "drop"}
    cfg = tiny_config(data={"source": str(table_csv), "target": "spend", "columns": dropped}, model_name="spend")
    summary = training.train(cfg, store=str(tmp_path / "mlruns"))
    spread = messy_table()["spend"].std()
    assert summary.scores.baselines["dummy"]["rmse"] == pytest.approx(spread, rel=0.25), "RMSE in dollars"
    assert summary.tuning.objective == "val_rmse"


@pytest.mark.parametrize(
    ("content", "flags", "expected"),
    [
        (b"x:z:y\n1:2:a\n3:4:b\n", [], "parsed as a single column"),
        (b"x,z,y\n\x81\x8d,1,a\n", [], "neither UTF-8 nor Windows-1252"),
        (
            b"x,z,y\ninf,1,a\n" + b"".join(b"%d,%d,%s\n" % (i, i % 3, b"ab"[i % 2 : i % 2 + 1]) for i in range(40)),
            [],
            "column 'x' has 1 infinite value",
        ),
        (
            b"x,y\n" + b"".join(b"%d,%s\n" % (i, b"abc"[i % 3 : i % 3 + 1]) for i in range(40)),
            ["--task", "regression"],
            "regression target 'y' is text",
        ),
    ],
)
def test_bad_input_through_the_command_is_one_line_exit_2_and_nothing_registered(
    tmp_path, capsys, monkeypatch, content, flags, expected
):
    """In-process, against the session's Prefect server (PREFECT_API_URL is set): the flow path a user's run
    takes, without a server start per case."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "t.csv").write_bytes(content)
    assert main(["run", "--data", "t.csv", "--target", "y", *flags]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and err[0].startswith("error: ") and expected in err[0], err
    if (tmp_path / "mlruns" / "mlflow.db").exists():
        client = client_for(tmp_path / "mlruns")
        assert client.search_registered_models() == []
        assert client.search_runs([e.experiment_id for e in client.search_experiments()]) == []
