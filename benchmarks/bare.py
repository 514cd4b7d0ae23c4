"""Baseline: the same trials and epochs as `tabflow run`, with Keras and Optuna alone (no Prefect, no MLflow).

Prints one JSON line with its phase timings and results. Usage: python benchmarks/bare.py TRIALS SEED [freeze]
`freeze` adds tabflow's one trick that a plain script would not have (gc.freeze before the trials, which makes each
trial's clear_session collection near free), to show how much of the comparison it accounts for.
"""

import time

STARTED = time.perf_counter()

import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

from tabflow.settings import runtime_defaults  # noqa: E402

scratch = Path(tempfile.mkdtemp())
for key, value in runtime_defaults(scratch / "store", scratch / "prefect").items():
    os.environ.setdefault(key, value)  # the same TensorFlow settings as tabflow, for a like-for-like time

import keras  # noqa: E402
import optuna  # noqa: E402
import tensorflow  # noqa: E402, F401

from tabflow.config import load_config  # noqa: E402
from tabflow.data import clean, read  # noqa: E402
from tabflow.data.split import split  # noqa: E402
from tabflow.features.preprocessor import transform  # noqa: E402
from tabflow.metrics import scores  # noqa: E402
from tabflow.model.baselines import baseline_outputs  # noqa: E402
from tabflow.model.inputs import prepare  # noqa: E402
from tabflow.model.network import fit_final, params_for, predict_proba  # noqa: E402
from tabflow.model.search_space import SearchSpace  # noqa: E402
from tabflow.model.study import _pruner, make_objective  # noqa: E402


def main(trials: int, seed: int, freeze: bool = False) -> dict:
    cfg = load_config(data="builtin:breast_cancer", trials=trials, seed=seed)
    raw = read.load_table(cfg.data.source)
    splits = split(clean.clean_table(raw, "target", cfg.split, read.digest_frame(raw)), cfg.split, cfg.seed)
    prepared = prepare(splits)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if freeze:
        import gc

        gc.freeze()
    ready = time.perf_counter()
    study = optuna.create_study(
        direction="minimize", sampler=optuna.samplers.TPESampler(seed=cfg.seed), pruner=_pruner(cfg.tune.pruner)
    )
    study.enqueue_trial(SearchSpace().first_trial("binary"))  # as tabflow's study starts
    study.optimize(make_objective(prepared, SearchSpace(), cfg.tune, cfg.seed), n_trials=cfg.tune.n_trials)
    tuned = time.perf_counter()
    keras.backend.clear_session()
    complete = [t for t in study.trials if t.value is not None and t.state.name == "COMPLETE"]
    top = sorted(complete, key=lambda t: t.value)[: cfg.train.folds]
    members = [(params_for("binary", t.params), cfg.seed + t.number) for t in top]
    network, _, _ = fit_final(members, prepare(splits), cfg.tune.max_epochs, cfg.train.folds, cfg.train.fold_rows)
    proba = predict_proba(network, transform(prepared.preprocessor, splits.x("test")))
    network_scores = scores("binary", splits.y("test"), proba)
    logreg = scores("binary", splits.y("test"), baseline_outputs(splits, cfg.seed)["logreg"])
    done = time.perf_counter()
    assert not {"mlflow", "prefect"} & {m.split(".")[0] for m in sys.modules}, "the baseline must stay bare"
    return {
        "startup_s": ready - STARTED,
        "trials_s": tuned - ready,
        "final_s": done - tuned,
        "best_value": study.best_value,
        "best_trial": study.best_trial.number,
        "test_auc": network_scores["auc"],
        "test_accuracy": network_scores["accuracy"],
        "logreg_auc": logreg["auc"],
        "logreg_accuracy": logreg["accuracy"],
    }


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:] == ["freeze"])))
