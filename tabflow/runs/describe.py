"""What a run says about itself where people look in MLflow: the parent run's description (the summary in
markdown), its datasets (the three splits), its logged model, and the registry's descriptions."""

from __future__ import annotations

import hashlib
import warnings

import numpy as np
from mlflow import MlflowClient

from tabflow import tracking
from tabflow.config import PipelineConfig
from tabflow.data.split import Splits
from tabflow.promotion.decision import Decision

CONTEXTS = {"train": "train", "val": "validation", "test": "test"}
SCHEMA_ROWS = 1_000


def log_datasets(client: MlflowClient, run_id: str, cfg: PipelineConfig, splits: Splits) -> None:
    """The splits as MLflow datasets on the parent run: name, digest (of the table's digest and the split's row
    positions), source, schema and profile; no rows. The schema is read from the first SCHEMA_ROWS rows: MLflow's
    own digest and schema inference scan every row (half a minute each at 700,000 rows)."""
    import json

    from mlflow.data.code_dataset_source import CodeDatasetSource
    from mlflow.data.pandas_dataset import from_pandas
    from mlflow.entities import Dataset, DatasetInput, InputTag

    source = cfg.data.source
    inputs = []
    for part, context in CONTEXTS.items():
        frame = splits.part(part)
        with warnings.catch_warnings():  # MLflow warns that a local path may not be reachable from elsewhere
            warnings.simplefilter("ignore")
            kind = CodeDatasetSource({"source": source}) if source.startswith("builtin:") else source
            name = f"{cfg.model_name}-{part}"
            head = from_pandas(frame.head(SCHEMA_ROWS), source=kind, name=name, targets=splits.target)
            sampled = head._to_mlflow_entity()
        rows = np.ascontiguousarray(splits.rows[part], dtype="int64").tobytes()
        dataset = Dataset(
            name=name,
            digest=hashlib.sha256(splits.digest.encode() + rows).hexdigest()[:8],  # the table's digest and the rows
            source_type=sampled.source_type,
            source=sampled.source,
            schema=sampled.schema,
            profile=json.dumps({"num_rows": len(frame), "num_elements": int(frame.size)}),
        )
        inputs.append(DatasetInput(dataset, tags=[InputTag("mlflow.data.context", context)]))
    client.log_inputs(run_id, datasets=inputs)


def link_model(client: MlflowClient, run_id: str, model_uri: str) -> None:
    """List the final fit's logged model on the parent run too, where people look for it."""
    from mlflow.entities import LoggedModelOutput

    client.log_outputs(run_id, [LoggedModelOutput(model_uri.removeprefix("models:/"), 0)])


def run_note(scores, decision: Decision, tags: dict[str, str], cfg: PipelineConfig, splits: Splits) -> str:
    """The parent run's description: the test metrics beside the baselines, the decision and its reason."""
    baselines = list(reversed(list(scores.baselines)))
    lines = [
        f"**{decision.verdict}**" + (f" version {decision.version}" if decision.version else "") + f": "
        f"{decision.reason}",
        "",
        f"`{cfg.model_name}` predicts `{splits.target}` ({splits.task}) from {len(splits.features)} columns of "
        f"`{cfg.data.source}`; rows train {splits.sizes()['train']:,}, validation {splits.sizes()['val']:,}, "
        f"test {splits.sizes()['test']:,}. Study `{tags.get('study', '')}`, best trial {tags.get('best_trial', '')}.",
        "",
        "| test | network | " + " | ".join(baselines) + " |",
        "|---|---:|" + "---:|" * len(baselines),
    ]
    for metric, value in scores.test.items():
        row = [value, *(scores.baselines[b][metric] for b in baselines)]
        lines.append(f"| {metric} | " + " | ".join(f"{v:.4g}" for v in row) + " |")
    return "\n".join(lines)


def describe_registry(
    client: MlflowClient, name: str, decision: Decision, parent_run_id: str, experiment_id: str, splits: Splits
) -> None:
    """The version's description: its decision and reason, and the run that made it; the registered model's:
    what it predicts."""
    what = f"classes {', '.join(map(str, splits.classes))}" if splits.classes else "a number"
    client.update_registered_model(
        name,
        description=f"Predicts `{splits.target}` ({splits.task}: {what}) from raw rows of {len(splits.features)} "
        "columns; the preprocessing is inside the model. Trained by tabflow; `champion` is the version that "
        "serves.",
    )
    link = tracking.ui_link(client.tracking_uri, experiment_id, parent_run_id)
    card = link.replace("?", f"/artifacts/{tracking.CARD}?", 1)
    client.update_model_version(
        name,
        str(decision.version),
        description=f"**{decision.verdict}**: {decision.reason}\n\nTrained by run [{parent_run_id}]({link}); "
        f"its [model card]({card}) (`tabflow show {name}/{decision.version} --card`).",
    )
