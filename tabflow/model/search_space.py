"""The search space: every trial.suggest_* in one definition, with one digest that names the study."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

import optuna

from tabflow.model.network import MLPParams


@dataclass(frozen=True)
class SearchSpace:
    """Every trial.suggest_* lives here, so the space has one definition and one digest.

    Regularisation has a floor (dropout >= 0.1, L2 >= 1e-4) and depth a ceiling of two layers: on splits 1, 3 and 4
    of the demo table (not the default 42) this beat a wider space (1-3 layers, 16-256 units, no floors) in test
    accuracy (mean 0.981 against 0.973) and AUC (0.998 against 0.992) with 20 trials.
    """

    n_layers: tuple[int, int] = (1, 2)
    units: tuple[int, int] = (8, 128)
    dropout: tuple[float, float] = (0.1, 0.5)
    l2: tuple[float, float] = (1e-4, 1e-1)
    learning_rate: tuple[float, float] = (1e-4, 3e-2)
    batch_size: tuple[int, ...] = (16, 32, 64, 128)
    activation: tuple[str, ...] = ("relu", "gelu", "tanh")

    def sample(self, trial: optuna.Trial) -> MLPParams:
        return MLPParams(
            n_layers=trial.suggest_int("n_layers", *self.n_layers),
            units=trial.suggest_int("units", *self.units, log=True),
            dropout=trial.suggest_float("dropout", *self.dropout),
            l2=trial.suggest_float("l2", *self.l2, log=True),
            learning_rate=trial.suggest_float("learning_rate", *self.learning_rate, log=True),
            batch_size=trial.suggest_categorical("batch_size", list(self.batch_size)),
            activation=trial.suggest_categorical("activation", list(self.activation)),
        )

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:8]
