"""One frozen configuration, merged from a YAML file and CLI flags and validated once, at the edge."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from tabflow import metrics
from tabflow.errors import ConfigError, first_line
from tabflow.task_types import task_type

BUILTIN_PREFIX = "builtin:"


EPOCHS = 128  # RealMLP trains 256; benchmarks/RESULTS.md, section 3c, has what fewer costs


class Section(BaseModel, frozen=True, extra="forbid"):
    """Every section rejects unknown keys, so a typo in the YAML is an error, not a silent default."""


Role = Literal["numeric", "categorical", "datetime", "id", "text", "drop"]


class DataConfig(Section):
    source: str = Field(description="a .csv or .parquet path, or builtin:breast_cancer")
    target: str = "target"
    columns: dict[str, Role] = Field(default_factory=dict, description="roles that override the inferred ones")
    max_text_share: float = Field(
        0.05, ge=0, lt=0.5, description="text cells coerced to missing in a numeric column before it is an error"
    )
    max_categories: int = Field(
        1000,
        ge=2,
        description="codes per categorical column: its most frequent values "
        "(seen 5 times or more in training) plus one shared by the rest and by unseen ones",
    )


class SplitConfig(Section):
    train: float = Field(0.70, gt=0, lt=1)
    val: float = Field(0.15, gt=0, lt=1)
    test: float = Field(0.15, gt=0, lt=1)
    strategy: Literal["auto", "stratified", "random", "time", "group"] = Field(
        "auto", description="auto: stratified for classification, random for regression"
    )
    column: str | None = Field(None, description="the date column of a time split, the group column of a group one")

    @model_validator(mode="after")
    def _fractions_sum_to_one(self) -> SplitConfig:
        if abs(self.train + self.val + self.test - 1.0) > 1e-6:
            raise ValueError(f"train + val + test must be 1.0, got {self.train + self.val + self.test:g}")
        if self.strategy in ("time", "group") and not self.column:
            raise ValueError(f"a {self.strategy} split needs split.column (the {self.strategy} column)")
        return self


class TuneConfig(Section):
    n_trials: int = Field(20, ge=1, description="finished trials the study should hold")
    timeout_s: float | None = Field(None, gt=0)
    max_epochs: int = Field(
        EPOCHS,
        ge=1,
        description="epochs of every fit, the trials' and the final one: the learning-rate schedule spans them "
        "and the best validation epoch is kept",
    )
    pruner: Literal["median", "hyperband", "none"] = "median"
    max_rows: int = Field(
        100_000,
        ge=100,
        description="trials train and validate on at most this many rows of "
        "each split (a seeded sample); the final fit uses them all",
    )


class RecallRule(Section):
    recall: float = Field(gt=0, le=1)


class PrecisionRule(Section):
    precision: float = Field(gt=0, le=1)


class Costs(Section):
    fp: float = Field(ge=0, description="the cost of a false positive")
    fn: float = Field(ge=0, description="the cost of a false negative")


class CostRule(Section):
    cost: Costs


Threshold = Annotated[float, Field(gt=0, lt=1)] | Literal["f1", "youden"] | RecallRule | PrecisionRule | CostRule


class TrainConfig(Section):
    folds: int = Field(
        5,
        ge=1,
        description="on a table of at most fold_rows train and val rows, the served model is the mean of this "
        "many networks, the i-th with the i-th best trial's parameters, each trained on train and val but one "
        "fold (its best epoch chosen on that fold); 1: one network trained on train",
    )
    fold_rows: int = Field(5000, ge=0, description="train and val rows up to which the final fit uses folds")
    class_weight: Literal["auto", "balanced", "none"] = Field(
        "none",
        description="balanced: each class carries the same weight in the loss; auto: balanced when the rarest "
        "class has under half the rows of the most common. Weights trade log loss and accuracy for recall on "
        "the rare class",
    )
    calibrate: bool = Field(
        True,
        description="classification: temperature scaling fitted on the held-out rows (validation, or out-of-fold "
        "with folds), applied inside the served model when it lowers their log loss",
    )
    threshold: Threshold = Field(
        0.5,
        description="binary: the probability at or above which the label is the positive class, or the rule "
        "that picks it on the held-out rows: f1, youden, {recall: 0.9}, {precision: 0.9} or {cost: {fp: 1, fn: "
        "5}}; `probability` is unchanged",
    )
    interval: float | None = Field(
        0.9,
        gt=0,
        lt=1,
        description="regression: the coverage of the split-conformal interval returned as prediction_lower and "
        "prediction_upper (fitted on the held-out rows); null: no interval",
    )

    @model_validator(mode="before")
    @classmethod
    def _removed(cls, values: Any) -> Any:
        gone = sorted({"max_epochs", "patience"} & set(values)) if isinstance(values, dict) else []
        if gone:
            raise ValueError(
                f"train.{' and train.'.join(gone)} {'are' if len(gone) > 1 else 'is'} gone: the final fit trains "
                "tune.max_epochs epochs and keeps its best validation epoch; delete the line"
            )
        return values


class GateConfig(Section):
    metric: str | None = Field(None, description="default: auc for classification, rmse for regression")
    floor: float | None = Field(
        None, description="the challenger's test metric must reach this (default: it must beat the dummy baseline)"
    )
    margin: float = Field(
        0.005, ge=0, description="allowed shortfall against the champion and the baseline, in the metric's units"
    )
    baseline: Literal["linear", "boosting", "none"] = Field(
        "linear",
        description="REJECT a challenger this baseline beats by more than the margin, with confidence "
        "(the same paired bootstrap as against the champion)",
    )
    confidence: float = Field(0.95, gt=0.5, lt=1, description="of the bootstrap interval of the gain")
    resamples: int = Field(1000, ge=100, description="paired bootstrap resamples of the test rows")
    floors: dict[str, float] = Field(default_factory=dict, description="secondary metrics' floors, e.g. {recall: 0.8}")
    max_regression: dict[str, float] = Field(
        default_factory=dict,
        description="secondary metrics may fall at most this far below the champion's, e.g. {recall: 0.02}",
    )
    allow_schema_change: bool = Field(
        False, description="promote over a champion that cannot read the new columns (the floors decide)"
    )

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, name: str | None) -> str | None:
        return _known(name) if name is not None else None

    @field_validator("floors", "max_regression")
    @classmethod
    def _known_metrics(cls, values: dict[str, float]) -> dict[str, float]:
        for name in values:
            _known(name)
        return values

    def metric_for(self, task: str) -> str:
        return self.metric or task_type(task).gate_metric

    def check_task(self, task: str) -> None:
        """Every metric the gate names is one of the task's (known once the target is read)."""
        metrics.check_names([self.metric_for(task)], task, "gate.metric")
        metrics.check_names(list(self.floors), task, "gate.floors")
        metrics.check_names(list(self.max_regression), task, "gate.max_regression")


def _known(name: str) -> str:
    if name not in metrics.ALL:
        raise ValueError(f"unknown metric {name!r}; use one of: {', '.join(metrics.ALL)}")
    return name


class PipelineConfig(Section):
    data: DataConfig
    model_name: str = Field("", pattern=r"^[A-Za-z0-9_.-]*$")
    seed: int = 42
    task: Literal["auto", "binary", "multiclass", "regression"] = "auto"
    split: SplitConfig = SplitConfig()
    tune: TuneConfig = TuneConfig()
    train: TrainConfig = TrainConfig()
    gate: GateConfig = GateConfig()

    @model_validator(mode="after")
    def _default_model_name(self) -> PipelineConfig:
        if not self.model_name:
            object.__setattr__(self, "model_name", default_model_name(self.data.source))
        return self

    def digest(self) -> str:
        """A stable hash of every setting, tagged on runs so two runs can be told apart."""
        text = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def default_model_name(source: str) -> str:
    stem = source[len(BUILTIN_PREFIX) :] if source.startswith(BUILTIN_PREFIX) else Path(source).stem
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", stem) or "model"


# CLI flag -> path in the config; every flag also lives in the YAML.
FLAG_PATHS = {
    "data": ("data", "source"),
    "target": ("data", "target"),
    "model_name": ("model_name",),
    "trials": ("tune", "n_trials"),
    "timeout": ("tune", "timeout_s"),
    "seed": ("seed",),
    "task": ("task",),
    "allow_schema_change": ("gate", "allow_schema_change"),
}


def load_config(path: str | Path | None = None, **flags: Any) -> PipelineConfig:
    """Merge the YAML file (if any) with the flags that were given, then validate once."""
    raw: dict[str, Any] = _read_yaml(Path(path)) if path else {}
    for name, value in flags.items():
        if value is None:
            continue
        *parents, leaf = FLAG_PATHS[name]
        node = raw
        for key in parents:
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                raise ConfigError(f"config section {key!r} must be a mapping")
        node[leaf] = value
    if "data" not in raw or "source" not in (raw.get("data") or {}):
        raise ConfigError(
            "no data given: pass --data PATH.csv|PATH.parquet|builtin:breast_cancer "
            "or set data.source in the config file"
        )
    try:
        return PipelineConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc)) from None


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"config file {str(path)!r} not found; check the --config path")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {str(path)!r} is not valid YAML ({first_line(exc)}); fix its syntax") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"config file {str(path)!r} must hold a mapping of settings at the top level")
    return raw


def describe_validation_error(exc: ValidationError) -> str:
    """One line naming the setting, the problem and the value given."""
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "config"
    if err["type"] == "extra_forbidden":
        return f"unknown config key {where!r}; remove it or check its spelling"
    more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
    given = f" (got {err['input']!r})" if not isinstance(err.get("input"), dict) else ""
    return f"invalid config value for {where!r}: {err['msg']}{given}{more}"
