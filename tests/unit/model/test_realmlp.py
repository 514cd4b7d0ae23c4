"""The RealMLP-TD network: it builds on tabflow's inputs, learns, and keeps its best validation epoch."""

import numpy as np

from tabflow.model.inputs import prepare
from tabflow.model.network import predict_proba
from tabflow.model.realmlp import RealMLPParams, fit_realmlp


def test_realmlp_learns_the_demo_table_and_restores_its_best_epoch(splits):
    data = prepare(splits, class_weight="none", numeric="realmlp")
    model, history = fit_realmlp(RealMLPParams(epochs=12, width=32), data, seed=0)
    losses = history["val_log_loss"]
    assert len(losses) == 12 and min(losses) < losses[0], "the validation loss falls during training"
    out = predict_proba(model, data.x_val)
    val = float(-np.mean(np.where(data.y_val[:, 0] == 1, np.log(out), np.log(1 - out))))
    assert abs(val - min(losses)) < 1e-3, f"the best epoch's weights are restored: {val:.4f} vs {min(losses):.4f}"
