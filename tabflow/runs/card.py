"""The model card of a registered version: what a team asks before deploying it, in one markdown page logged
beside the run (`model_card.md`) and linked from the version's description (`tabflow show NAME@champion --card`)."""

from __future__ import annotations

import numpy as np

from tabflow.config import PipelineConfig
from tabflow.data.split import Splits
from tabflow.metrics import lower_is_better
from tabflow.promotion.bootstrap import metric_interval
from tabflow.promotion.decision import Decision

INTERVAL_METRICS = {  # metrics with a fast bootstrap (tabflow.promotion.bootstrap), in the card's order
    "binary": ("auc", "log_loss", "brier"),
    "multiclass": ("auc", "log_loss", "accuracy"),
    "regression": ("rmse", "mae"),
}
TOP_FEATURES = 10
SHOWN_CATEGORIES = 8


def model_card(
    cfg: PipelineConfig, splits: Splits, model, scores, decision: Decision, lineage: dict[str, str], schema: dict
) -> str:
    """`model` is tabflow.runs.train.TrainedModel and `scores` tabflow.runs.evaluate.Evaluation."""
    task, y = splits.task, splits.y("test")
    sizes = splits.sizes()
    lines = [
        f"# {cfg.model_name}, version {decision.version}",
        "",
        f"**Decision: {decision.verdict}.** {decision.reason}",
        "",
        "## Task",
        f"Predicts `{splits.target}` ({task}"
        + (f"; classes {', '.join(f'`{c}`' for c in splits.classes)}" if splits.classes else "")
        + f") from raw rows of {len(splits.features)} columns. The preprocessing is inside the model.",
        "",
        "## Training data",
        f"- source `{cfg.data.source}`, digest `{splits.digest}`",
        f"- rows: train {sizes['train']:,}, validation {sizes['val']:,}, test {sizes['test']:,} "
        f"({cfg.split.strategy} split, seed {cfg.seed})",
        *_time_range(cfg, splits),
        "",
        "## Columns",
        "| column | role | seen in training |",
        "|---|---|---|",
        *(f"| {name} | {role} | {_seen(schema.get(name, {}))} |" for name, role in splits.roles.items()),
        "",
        "## Test metrics (95% bootstrap intervals)",
        *_metrics_table(task, y, scores),
        "",
        *_after(task, model.after, scores, y, splits.classes),
        "",
        "## Top features (permutation importance on the test rows)",
        *(
            [f"{i}. `{col}`: {value:.4g}" for i, (col, value) in enumerate(scores.importance[:TOP_FEATURES], 1)]
            or ["Not measured (too many columns)."]
        ),
        "",
        "## Known limits",
        *_limits(splits, model, schema),
        "",
        "## Lineage",
        *(f"- {k}: `{v}`" for k, v in sorted(lineage.items()) if not k.startswith("version.")),
        "- packages: " + ", ".join(f"{k[8:]} {v}" for k, v in sorted(lineage.items()) if k.startswith("version.")),
    ]
    return "\n".join(lines) + "\n"


def _metrics_table(task: str, y: np.ndarray, scores) -> list[str]:
    models = {"network": scores.output, **scores.baseline_outputs}
    rows = ["| metric | " + " | ".join(models) + " |", "|---|" + "---:|" * len(models)]
    for metric in INTERVAL_METRICS[task]:
        cells = []
        for output in models.values():
            point, low, high = metric_interval(task, metric, y, output)
            cells.append(f"{point:.4g} [{low:.4g}, {high:.4g}]")
        better = "lower" if lower_is_better(metric) else "higher"
        rows.append(f"| {metric} ({better} is better) | " + " | ".join(cells) + " |")
    return rows


def _after(task: str, after, scores, y: np.ndarray, classes: tuple) -> list[str]:
    if task == "regression":
        if after.half_width is None:
            return ["## Prediction intervals", "None (train.interval is off)."]
        coverage, width = (scores.interval.get(k, float("nan")) for k in ("interval_coverage", "interval_width"))
        return [
            "## Prediction intervals",
            f"Split-conformal at {after.coverage:.0%} nominal coverage, fitted on {after.rows:,} held-out rows: "
            f"`prediction ± {after.half_width:.4g}`. On test: coverage {coverage:.1%}, mean width {width:.4g}.",
        ]
    lines = [
        "## Calibration and threshold",
        f"- temperature {after.temperature:.3g} (fitted on {after.rows:,} held-out rows; their log loss "
        f"{after.log_loss_before:.4g} before, {after.log_loss_after:.4g} after); 1 means none applied",
        f"- test ECE {scores.test['ece']:.4f}, Brier score {scores.test['brier']:.4f}",
    ]
    if task == "binary":
        lines.append(f"- the label is the positive class at P(positive) >= {after.threshold:.4g}")
        lines += confusion(y, scores.output, after.threshold, classes)
    return lines


def confusion(y: np.ndarray, output: np.ndarray, threshold: float, classes: tuple) -> list[str]:
    """The test confusion matrix at the threshold, as a markdown table."""
    pred = (output >= threshold).astype(int)
    neg, pos = (str(c) for c in classes)
    tn, fp = int(((y == 0) & (pred == 0)).sum()), int(((y == 0) & (pred == 1)).sum())
    fn, tp = int(((y == 1) & (pred == 0)).sum()), int(((y == 1) & (pred == 1)).sum())
    return [
        "",
        f"| test rows | predicted {neg} | predicted {pos} |",
        "|---|---:|---:|",
        f"| actual {neg} | {tn} | {fp} |",
        f"| actual {pos} | {fn} | {tp} |",
    ]


def _limits(splits: Splits, model, schema: dict) -> list[str]:
    lines = []
    if splits.classes:
        lines.append(f"- It only ever answers one of the training classes: {', '.join(map(str, splits.classes))}.")
    lines.append(
        "- Numbers outside the training range (the table above) are scored, and counted in a warning; "
        "the model has not seen them."
    )
    for name, capped in model.capped.items():
        lines.append(
            f"- `{name}`: {capped['values']:,} rare values ({capped['rows']:,} training rows) share one 'other' code."
        )
    lines.append("- Categories unseen in training are scored as 'other'; a missing column is refused.")
    return lines


def _seen(entry: dict) -> str:
    if "min" in entry:
        return f"{entry['min']} to {entry['max']}"
    if "categories" in entry:
        shown = entry["categories"][:SHOWN_CATEGORIES]
        more = len(entry["categories"]) - len(shown)
        return ", ".join(map(str, shown)) + (f" and {more} more" if more > 0 else "")
    return ""


def _time_range(cfg: PipelineConfig, splits: Splits) -> list[str]:
    if cfg.split.strategy != "time" or not cfg.split.column or cfg.split.column not in splits.frame:
        return []
    out = []
    for part in ("train", "val", "test"):
        column = splits.part(part)[cfg.split.column]
        out.append(f"- {part}: `{cfg.split.column}` from {column.min()} to {column.max()}")
    return out
