"""Quality across tables and tasks: the tuned network beside a dummy, a linear model and histogram gradient
boosting, all on the same split and preprocessing. Prints one JSON line per table.

Usage: python benchmarks/quality.py TRIALS [SEED]. Runs tabflow's own steps without Prefect and MLflow (as bare.py
does), so the network is the one `tabflow run` would train.
"""

import json
import os
import sys
import tempfile
from pathlib import Path

from tabflow.settings import runtime_defaults

scratch = Path(tempfile.mkdtemp())
for key, value in runtime_defaults(scratch / "store", scratch / "prefect").items():
    os.environ.setdefault(key, value)

import keras  # noqa: E402
import numpy as np  # noqa: E402
import optuna  # noqa: E402
import pandas as pd  # noqa: E402

from tabflow.config import load_config  # noqa: E402
from tabflow.data import clean, read  # noqa: E402
from tabflow.data.split import split  # noqa: E402
from tabflow.features.preprocessor import transform  # noqa: E402
from tabflow.metrics import scores  # noqa: E402
from tabflow.model.baselines import baseline_outputs  # noqa: E402
from tabflow.model.inputs import prepare  # noqa: E402
from tabflow.model.network import MLPParams, fit_network, predict_proba  # noqa: E402
from tabflow.model.search_space import SearchSpace  # noqa: E402
from tabflow.model.study import _pruner, make_objective  # noqa: E402

N_SYNTHETIC = 3000


def synthetic(task: str, seed: int = 0) -> pd.DataFrame:
    """Mixed columns with missing values: numbers, a categorical with 40 levels (rare ones too), a date."""
    rng = np.random.default_rng(seed)
    n = N_SYNTHETIC
    levels = [f"c{i:02d}" for i in range(40)]
    effect = dict(zip(levels, rng.normal(size=40), strict=True))
    cat = rng.choice(levels, n, p=np.r_[np.full(10, 0.07), np.full(30, 0.3 / 30)])
    x = rng.normal(size=(n, 4))
    month = rng.integers(1, 13, n)
    score = x[:, 0] - 0.8 * x[:, 1] * x[:, 2] + np.vectorize(effect.get)(cat) + 0.5 * np.sin(month / 2)
    frame = pd.DataFrame(x, columns=["a", "b", "c", "d"]).assign(
        shop=cat, day=pd.to_datetime({"year": 2024, "month": month, "day": 1}).dt.strftime("%Y-%m-%d")
    )
    frame.loc[rng.random(n) < 0.1, "b"] = np.nan
    frame.loc[rng.random(n) < 0.05, "shop"] = None
    noise = rng.normal(scale=0.5, size=n)
    frame["target"] = np.where(score + noise > 0, "yes", "no") if task == "binary" else score + noise
    return frame


def tables() -> dict[str, pd.DataFrame]:
    return {
        "wine": read.load_table("builtin:wine"),
        "digits": read.load_table("builtin:digits"),
        "diabetes": read.load_table("builtin:diabetes"),
        "synthetic-binary": synthetic("binary"),
        "synthetic-regression": synthetic("regression"),
    }


def baselines(splits, seed: int) -> dict[str, np.ndarray]:
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    from tabflow.features.preprocessor import fit_preprocessor, layout

    out = baseline_outputs(splits, seed)
    pre = fit_preprocessor(splits.x("train"), splits.roles)
    x_train, x_test = pre.transform(splits.x("train")), pre.transform(splits.x("test"))
    shape = layout(pre)  # the category codes, given to gradient boosting as categories, as it prefers
    codes = [False] * shape.dense + [bool(x_train[:, i].max() < 255) for i in range(shape.dense, shape.width)]
    if splits.task == "regression":
        out["hgb"] = (
            HistGradientBoostingRegressor(random_state=seed, categorical_features=codes)
            .fit(x_train, splits.y("train"))
            .predict(x_test)
        )
    else:
        hgb = HistGradientBoostingClassifier(random_state=seed, categorical_features=codes).fit(
            x_train, splits.y("train")
        )
        proba = np.zeros((len(x_test), len(splits.classes)))
        proba[:, hgb.classes_] = hgb.predict_proba(x_test)
        out["hgb"] = proba[:, 1] if splits.task == "binary" else proba
    return out


def run(name: str, frame: pd.DataFrame, trials: int, seed: int) -> dict:
    cfg = load_config(data="builtin:breast_cancer", trials=trials, seed=seed)
    table = clean.clean_table(frame, "target", cfg.split, read.digest_frame(frame))
    splits = split(table, cfg.split, seed)
    prepared = prepare(splits)
    study = optuna.create_study(
        direction="minimize", sampler=optuna.samplers.TPESampler(seed=seed), pruner=_pruner(cfg.tune.pruner)
    )
    study.optimize(make_objective(prepared, SearchSpace(), cfg.tune, seed), n_trials=trials)
    stop = keras.callbacks.EarlyStopping(
        monitor=prepared.head.objective, mode="min", patience=cfg.train.patience, restore_best_weights=True
    )
    keras.backend.clear_session()
    network, _ = fit_network(
        MLPParams(**study.best_params), prepared, cfg.train.max_epochs, seed + study.best_trial.number, [stop]
    )
    y = splits.y("test")
    result = {
        "network": scores(table.task, y, predict_proba(network, transform(prepared.preprocessor, splits.x("test"))))
    }
    result.update({k: scores(table.task, y, v) for k, v in baselines(splits, seed).items()})
    return {
        "table": name,
        "task": table.task,
        "rows": len(table.frame),
        "features": len(table.features),
        "roles": {r: list(table.roles.values()).count(r) for r in set(table.roles.values())},
        "scores": result,
    }


if __name__ == "__main__":
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    n_trials, split_seed = int(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 42
    for table_name, table_frame in tables().items():
        print(json.dumps(run(table_name, table_frame, n_trials, split_seed)), flush=True)
