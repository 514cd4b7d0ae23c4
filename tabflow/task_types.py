"""The three task types, one small spec each: what the network optimises, what it answers, how it is judged."""

from __future__ import annotations

from dataclasses import dataclass

PROBABILITY, LABEL, PREDICTION = "probability", "label", "prediction"
LOWER, UPPER = "prediction_lower", "prediction_upper"  # a regression model's conformal interval


@dataclass(frozen=True)
class TaskType:
    name: str
    classification: bool
    objective: str  # the validation metric trials minimise and the best epoch is chosen by
    gate_metric: str  # the gate's primary test metric unless gate.metric says otherwise
    baselines: tuple[str, ...]  # dummy, linear, boosting: fitted beside the network on the same split
    metrics: tuple[str, ...]  # test metrics, in the summary's order (tabflow.metrics computes them)
    default_split: str  # split.strategy auto: stratified by class, or random

    def output_columns(self, classes: tuple) -> list[str]:
        """The columns the served model answers with."""
        if not self.classification:
            return [PREDICTION]
        if self.name == "binary":
            return [PROBABILITY, LABEL]
        return [*(f"{PROBABILITY}_{c}" for c in classes), LABEL]

    def probability_columns(self, classes: tuple) -> list[str]:
        """The output columns that hold the network's raw output (see tabflow.serving.contract.network_output)."""
        return [c for c in self.output_columns(classes) if c != LABEL]


TASK_TYPES = {
    "binary": TaskType(
        name="binary",
        classification=True,
        objective="val_log_loss",
        gate_metric="auc",
        baselines=("dummy", "logreg", "hgb"),
        metrics=(
            "accuracy",
            "balanced_accuracy",
            "precision",
            "recall",
            "f1",
            "auc",
            "pr_auc",
            "log_loss",
            "brier",
            "ece",
        ),
        default_split="stratified",
    ),
    "multiclass": TaskType(
        name="multiclass",
        classification=True,
        objective="val_log_loss",
        gate_metric="auc",
        baselines=("dummy", "logreg", "hgb"),
        metrics=("accuracy", "balanced_accuracy", "f1", "auc", "log_loss", "brier", "ece"),
        default_split="stratified",
    ),
    "regression": TaskType(
        name="regression",
        classification=False,
        objective="val_rmse",
        gate_metric="rmse",
        baselines=("dummy", "ridge", "hgb"),
        metrics=("rmse", "mae", "r2"),
        default_split="random",
    ),
}
NAMES = tuple(TASK_TYPES)


def task_type(name: str) -> TaskType:
    try:
        return TASK_TYPES[name]
    except KeyError:
        raise ValueError(f"unknown task type {name!r}; one of: {', '.join(NAMES)}") from None
