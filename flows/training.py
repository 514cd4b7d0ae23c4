"""The training flow: a table in, a tuned, evaluated and (maybe) promoted model in the registry out."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from prefect import flow
from prefect.runtime import flow_run

from tabflow.config import PipelineConfig
from tabflow.pipeline import Evaluation, TrainedModel, record_data, tracked_run
from tabflow.registry import Decision
from tabflow.tuning import TuneResult
from tasks.clean import clean_table
from tasks.evaluate import evaluate_model
from tasks.load import load_table
from tasks.promote import promote_model
from tasks.split import split_data
from tasks.train import train_model
from tasks.tune import tune_model
from tasks.validate import validate_table


@dataclass(frozen=True)
class TrainingSummary:
    model_name: str
    tracking_uri: str
    parent_run_id: str
    tuning: TuneResult
    model: TrainedModel
    scores: Evaluation
    decision: Decision
    cleaning: dict
    class_balance: dict


@flow(name="train", log_prints=False, persist_result=False)
def train(cfg: PipelineConfig, store: str = "mlruns") -> TrainingSummary:
    """Bad input fails before the MLflow run opens; any later failure marks the run FAILED, registers nothing."""
    table = clean_table(validate_table(load_table(cfg.data), cfg), cfg)
    splits = split_data(table, cfg)
    tags = {"prefect_flow_run_id": str(flow_run.id or "")}
    with tracked_run(cfg, Path(store), tags) as run:
        record_data(run, table, splits)
        best = tune_model(splits, run)
        model = train_model(splits, best, run)
        scores = evaluate_model(model, splits, run)
        decision = promote_model(model, scores, splits, run, {**tags, "study": best.study_name,
                                                              "best_trial": str(best.best_number)})
    return TrainingSummary(cfg.model_name, run.tracking_uri, run.parent_run_id, best, model, scores, decision,
                           table.report, splits.class_balance())

