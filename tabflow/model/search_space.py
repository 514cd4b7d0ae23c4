"""The search space: every trial.suggest_* in one definition, with one digest that names the study."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

import optuna

from tabflow.model.network import MLPParams, default_params, params_for


@dataclass(frozen=True)
class SearchSpace:
    """What RealMLP's and TabM's papers tune, around RealMLP-TD's defaults: the study's first trial is those
    defaults (`first_trial`), so one trial already gives the default network."""

    width: tuple[int, int] = (64, 512)
    depth: tuple[int, int] = (1, 4)
    dropout: tuple[float, float] = (0.0, 0.3)
    learning_rate: tuple[float, float] = (0.02, 0.3)
    weight_decay: tuple[float, ...] = (0.0, 0.02)
    sigma: tuple[float, float] = (0.05, 0.5)
    activation: tuple[str, ...] = ("selu", "mish", "relu")

    def sample(self, trial: optuna.Trial, task: str) -> MLPParams:
        return params_for(
            task,
            {
                "width": trial.suggest_int("width", *self.width, log=True),
                "depth": trial.suggest_int("depth", *self.depth),
                "dropout": trial.suggest_float("dropout", *self.dropout),
                "learning_rate": trial.suggest_float("learning_rate", *self.learning_rate, log=True),
                "weight_decay": trial.suggest_categorical("weight_decay", list(self.weight_decay)),
                "sigma": trial.suggest_float("sigma", *self.sigma, log=True),
                "activation": trial.suggest_categorical("activation", list(self.activation)),
            },
        )

    def first_trial(self, task: str) -> dict:
        """The defaults, as the values of this space's parameters (for `study.enqueue_trial`)."""
        defaults = default_params(task).as_dict()
        return {name: defaults[name] for name in asdict(self)}

    def digest(self) -> str:
        """Of the space and the defaults it starts from: a change to either opens a new study."""
        key = [asdict(self), default_params("binary").as_dict(), default_params("regression").as_dict()]
        return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:8]
