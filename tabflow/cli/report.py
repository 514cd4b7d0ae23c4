"""The summary printed at the end of a run: what was tried, how it scored, what was decided and why."""

from __future__ import annotations

import sys
from pathlib import Path

from tabflow import settings
from tabflow.data.clean import describe_cleaning
from tabflow.metrics import lower_is_better
from tabflow.tracking import is_local, ui_link


def summary(result) -> str:
    """`result` is flows.training.TrainingSummary (duck-typed: tabflow/ never imports prefect)."""
    tune, scores, decision, name = result.tuning, result.scores, result.decision, result.model_name
    params = ", ".join(f"{k}={_fmt(v)}" for k, v in sorted(tune.best_params.items()))
    kept = tune.n_finished - tune.n_run
    resumed = f" ({kept} kept from an earlier run of this study)" if kept else ""
    lines = [
        "",
        f"data      {describe_cleaning(result.cleaning)}",
        *([f"classes   {_balance(result.class_balance)}"] if result.class_balance else []),
        *([f"capped    {_capped(result.model.capped)}"] if result.model.capped else []),
        f"study     {tune.study_name}: {tune.n_finished} trials{resumed}; best #{tune.best_number} "
        f"{tune.objective} {tune.best_value:.4f}",
        f"params    {params}",
        "",
        f"{'test':<18}{'network':>10}" + "".join(f"{b:>10}" for b in reversed(list(scores.baselines))),
    ]
    for metric in scores.test:
        row = [scores.test[metric], *(scores.baselines[b][metric] for b in reversed(list(scores.baselines)))]
        lines.append(f"{metric:<18}" + "".join(f"{v:>10.4g}" for v in row))
    lines += [
        f"best      {_best(scores, decision.metric.removeprefix('test_'))}",
        *_after(result),
        "",
        f"decision  {decision.verdict} version {decision.version}: {decision.reason}",
        f"run       MLflow run {result.parent_run_id}: "
        + ui_link(result.tracking_uri, result.experiment_id, result.parent_run_id)
        + (" (start the UI with: tabflow ui)" if is_local(result.tracking_uri) else ""),
    ]
    if decision.version:
        lines.append(f"card      {Path(sys.executable).parent}/tabflow show {name}/{decision.version} --card")
    bin_dir = Path(sys.executable).parent
    if decision.verdict == "PROMOTE":
        lines += [
            f"champion  models:/{name}@champion in {result.tracking_uri}",
            f"          serve: MLFLOW_TRACKING_URI={result.tracking_uri} {bin_dir}/tabflow serve --model {name}",
            f"          load:  mlflow.set_tracking_uri('{result.tracking_uri}'); "
            f"mlflow.pyfunc.load_model('models:/{name}@champion').predict(frame)",
        ]
    return "\n".join(lines)


def _after(result) -> list[str]:
    """What the served model adds after the network: calibration and threshold, or the interval."""
    after, test = getattr(result.model, "after", None), result.scores.test
    if after is None:
        return []
    if after.half_width is not None:
        covered = result.scores.interval.get("interval_coverage", float("nan"))
        return [
            f"interval  prediction ± {after.half_width:.4g} at {after.coverage:.0%} (split-conformal on "
            f"{after.rows:,} held-out rows); test coverage {covered:.1%}"
        ]
    if "ece" not in test:
        return []
    lines = [
        f"calibrate temperature {after.temperature:.3g} (held-out log loss {after.log_loss_before:.4g} -> "
        f"{after.log_loss_after:.4g}); test ECE {test['ece']:.4f}, Brier {test['brier']:.4f}"
    ]
    if "precision" in test:  # binary
        c = getattr(result.scores, "confusion", {})
        counts = f"; on test {c['tp']} TP, {c['fp']} FP, {c['fn']} FN, {c['tn']} TN" if c else ""
        lines.append(f"threshold label = positive at P >= {after.threshold:.4g} (train.threshold){counts}")
    return lines


def _best(scores, metric: str) -> str:
    """Which model leads on the gate's metric, and by how much over the next."""
    values = {"network": scores.test[metric], **{b: s[metric] for b, s in scores.baselines.items()}}
    ranked = sorted(values, key=values.__getitem__, reverse=not lower_is_better(metric))
    first, second = ranked[:2]
    gap = abs(values[first] - values[second])
    if gap < 1e-9:  # the same score, up to float rounding
        tied = [m for m in ranked if abs(values[m] - values[first]) < 1e-9]
        return f"{' and '.join(tied)} tie on test_{metric}, {values[first]:.4g}"
    return f"{first} on test_{metric}, {values[first]:.4g}: {gap:.4g} ahead of {second} ({values[second]:.4g})"


def _balance(balance: dict[str, dict[str, int]]) -> str:
    return "; ".join(f"{part} " + ", ".join(f"{c} {n}" for c, n in counts.items()) for part, counts in balance.items())


def _capped(capped: dict[str, dict[str, int]]) -> str:
    columns = ", ".join(f"{name} ({c['values']:,} values, {c['rows']:,} rows)" for name, c in capped.items())
    return (
        f"{columns} share one 'other' code: seen under {settings.MIN_COUNT} times in training, or past "
        "data.max_categories"
    )


def _fmt(value) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)
