"""The batch scoring flow: a file scored by the version an alias points at, logged as an MLflow run."""

from __future__ import annotations

from pathlib import Path

from prefect import flow
from prefect.artifacts import create_markdown_artifact

from flows import artifact_key
from tabflow.serving import batch
from tasks.score import log_scoring, score_file


@flow(name="score", log_prints=False, persist_result=False)
def score(model: str, source: str, output: str, keys: list[str] | None = None, store: str = "mlruns") -> batch.Scored:
    """`model` is NAME (its champion), NAME@alias or NAME/VERSION; deployable on a schedule like training."""
    from tabflow.tracking import configure

    configure(Path(store))
    scored = score_file(model, source, output, keys)
    log_scoring(scored, source, store)
    create_markdown_artifact(
        f"Scored **{scored.rows:,} rows** of `{source}` with `models:/{scored.model}/{scored.version}` in "
        f"{scored.seconds:.1f} s.\n\n| | |\n|---|---|\n| model version | {scored.version} |\n"
        f"| input digest | `{scored.input_digest}` |\n| output | `{scored.output}` |",
        key=f"scoring-{artifact_key(scored.model)}",
        description="tabflow batch scoring",
    )
    return scored
