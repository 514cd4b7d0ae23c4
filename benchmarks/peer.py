"""Peer networks for the quality benchmark, run in their own virtualenv (pytabkit pulls in torch): RealMLP-TD and
TabM-D with pytabkit's defaults, fitted on one split that benchmarks/quality.py wrote to a directory.

    python benchmarks/peer.py DIR MODEL SEED   # MODEL: realmlp or tabm

DIR holds train/val/test.parquet (the features and the target column `__y`: class indices or the regression
target) and meta.json ({"task": ...}). The model trains on train, chooses its epoch on val (as tabflow's network
does), and writes DIR/MODEL.npy: P(positive) for binary, the (n, k) probabilities for multiclass, predictions for
regression (tabflow.metrics.scores' format), and DIR/MODEL.json with the fit's seconds. Numbers missing in a
column are filled with the train median (pytabkit's networks take no NaN); categories stay pandas categoricals,
which pytabkit encodes itself.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

MODELS = {
    "realmlp": ("RealMLP_TD_Classifier", "RealMLP_TD_Regressor"),
    "tabm": ("TabM_D_Classifier", "TabM_D_Regressor"),
}


def main() -> None:
    folder, model, seed = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    import pytabkit

    meta = json.loads((folder / "meta.json").read_text())
    task = meta["task"]
    parts = {p: pd.read_parquet(folder / f"{p}.parquet") for p in ("train", "val", "test")}
    xs = {p: frame.drop(columns="__y") for p, frame in parts.items()}
    ys = {p: frame["__y"].to_numpy() for p, frame in parts.items()}
    numbers = [c for c in xs["train"].columns if not isinstance(xs["train"][c].dtype, pd.CategoricalDtype)]
    medians = xs["train"][numbers].median()
    for p in xs:
        xs[p][numbers] = xs[p][numbers].astype("float64").fillna(medians).fillna(0.0)
    classifier, regressor = MODELS[model]
    cls = getattr(pytabkit, regressor if task == "regression" else classifier)
    est = cls(random_state=seed, n_threads=1, device="cpu", verbosity=0)
    started = time.perf_counter()
    est.fit(xs["train"], ys["train"], X_val=xs["val"], y_val=ys["val"])
    if task == "regression":
        out = np.asarray(est.predict(xs["test"]), dtype="float64").reshape(-1)
    else:
        proba = np.asarray(est.predict_proba(xs["test"]), dtype="float64")
        full = np.zeros((len(proba), int(meta["n_classes"])))
        full[:, np.asarray(est.classes_, dtype=int)] = proba
        out = full[:, 1] if task == "binary" else full
    np.save(folder / f"{model}.npy", out)
    (folder / f"{model}.json").write_text(json.dumps({"seconds": time.perf_counter() - started}))


if __name__ == "__main__":
    main()
