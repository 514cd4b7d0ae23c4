"""Registry moves that leave nothing half-written: register and judge, move `champion` with its history,
roll back."""

from __future__ import annotations

import contextlib
import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from tabflow import failpoints, settings
from tabflow.errors import TabflowError
from tabflow.liveness import is_dead, worker_id
from tabflow.promotion.decision import Decision
from tabflow.tracking import CHAMPION, alias_version, champion_version

log = logging.getLogger("tabflow")


CHALLENGER = "challenger"
PENDING = "PENDING"  # decision_verdict of a version registered but not yet decided


def score_version(name: str, version: str, x: pd.DataFrame) -> pd.DataFrame:
    """Load a registered version the way a deployment does (its files verified first) and return what it serves."""
    from tabflow.serving import integrity

    return integrity.load(name, version).predict(x)


def missing_columns(name: str, version: str, columns: list[str]) -> list[str]:
    """The input columns a registered version's signature requires that `columns` lacks (MLflow's own error for
    this prints the data)."""
    import mlflow

    # Model.load reads the MLmodel file alone; get_model_info also looks up a logged model by id, which a version
    # registered from run artifacts (or copied between stores) does not have.
    signature = mlflow.models.Model.load(f"models:/{name}/{version}").signature
    needed = signature.inputs.input_names() if signature is not None and signature.inputs is not None else []
    return [c for c in needed if c not in set(columns)]


def register(
    client: MlflowClient,
    name: str,
    model_uri: str,
    judge: Callable[[str | None], Decision],
    tags: dict[str, str],
    check: Callable[[str], str | None] | None = None,
) -> Decision:
    """Register the challenger, judge it against the current champion, record the decision on it, and move
    `champion` when the verdict says so.

    The champion is read again just before the move: if another run moved it meanwhile, the challenger is judged
    again against the new one (never overruling a decision made against an older champion). `check(version)`
    returns why the registered artifact cannot serve, or None; a failure is a REJECT. Any error after the version
    exists deletes it again: a failed run leaves no version and no alias.
    """
    pending = {**tags, "decision_verdict": PENDING}  # until the decision is written: a killed run's mark
    version = _create_version(client, name, model_uri, tags.get("parent_run_id") or None, pending)
    failpoints.reach("registered")
    previous, moving = None, False
    try:
        previous = alias_version(client, name, CHALLENGER)
        client.set_registered_model_alias(name, CHALLENGER, version)
        current = champion_version(client, name)
        for _ in range(settings.MAX_REJUDGE):
            decision = replace(judge(current), version=version)
            if decision.verdict == "PROMOTE" and check is not None:
                problem = check(version)
                if problem:
                    decision = replace(
                        decision,
                        verdict="REJECT",
                        reason=f"the registered artifact does not serve as the flow scored it: {problem}",
                    )
            _tag(client, name, version, decision)
            failpoints.reach("decided")
            if decision.verdict != "PROMOTE":
                return decision
            with move_lock(name):  # read, compare and move as one step against other trainers
                now = champion_version(client, name)
                if now == current:
                    moving = True  # from here the version may hold champion: it is never deleted
                    move_champion(client, name, version, decision.verdict, decision.reason)
                    return decision
            log.info("champion moved to version %s while deciding against version %s; judging again", now, current)
            current = now
        decision = replace(
            decision, verdict="HOLD", reason="the champion kept moving while this run decided; run again"
        )
        _tag(client, name, version, decision)
        return decision
    except BaseException:
        if moving and _champion_or_unknown(client, name) in (version, UNKNOWN):
            log.error(
                "promotion failed after champion moved to version %s of %s; the version is kept (deleting it "
                "would leave no champion) with its PROMOTE decision",
                version,
                name,
            )
            raise
        log.error("promotion failed; deleting version %s of %s so nothing is left half-written", version, name)
        client.delete_model_version(name, version)
        if previous:
            client.set_registered_model_alias(name, CHALLENGER, previous)
        raise


def _create_version(client: MlflowClient, name: str, model_uri: str, run_id: str | None, tags: dict) -> str:
    """A new version of `name` (created if missing) from a logged model, linked to the flow's parent run, so the
    run's page lists it (mlflow.register_model would link the final fit's child run)."""
    from mlflow.protos.databricks_pb2 import RESOURCE_ALREADY_EXISTS, ErrorCode

    try:
        client.create_registered_model(name)
    except MlflowException as exc:
        if exc.error_code != ErrorCode.Name(RESOURCE_ALREADY_EXISTS):
            raise
    model_id = model_uri.removeprefix("models:/") if model_uri.startswith("models:/m-") else None
    return str(client.create_model_version(name, model_uri, run_id=run_id, tags=tags, model_id=model_id).version)


UNKNOWN = "?"  # the registry could not say
HISTORY = "champion_history."  # registered-model tags, one per move, so the history lives in the registry
MOVING = "moving"  # on a history entry until its alias move is done: the writer's host:pid


def _champion_or_unknown(client: MlflowClient, name: str) -> str | None:
    try:
        return champion_version(client, name)
    except Exception:
        return UNKNOWN


def sweep(client: MlflowClient, name: str, experiment: str) -> list[str]:
    """Settle what a killed run left in the registry, so nothing half-written outlives it:
    - a version whose run is no longer RUNNING and either never got its decision (still PENDING) or did not
      finish (KILLED, FAILED) is deleted, unless it is or was the champion (a failed run never leaves a version,
      and a rollback may need an earlier champion);
    - a history entry still marked `moving` by a process of this host that is dead is kept when `champion` did
      move to its version, and dropped when it did not.
    Returns the deleted versions' numbers."""
    try:
        versions = client.search_model_versions(f"name = '{name}'")
        tags = client.get_registered_model(name).tags
    except MlflowException:
        return []  # no such model yet
    champion = alias_version(client, name, CHAMPION)
    kept = {champion}
    for key in sorted(k for k in tags if k.startswith(HISTORY)):
        entry = json.loads(tags[key])
        writer = entry.pop(MOVING, "")
        if not writer or entry["to"] == champion:
            kept.add(entry["to"])
        if is_dead(writer):
            if entry["to"] == champion:
                client.set_registered_model_tag(name, key, json.dumps(entry))
            else:
                client.delete_registered_model_tag(name, key)
                log.warning(
                    "dropped the record of a move to version %s of %s that a killed run never made", entry["to"], name
                )
    stopped = {run.info.run_id for run in client.search_runs([experiment], "attributes.status != 'FINISHED'")}
    swept = []
    for mv in versions:
        run_id = mv.tags.get("parent_run_id", "")
        if str(mv.version) in kept or not run_id:
            continue
        pending = mv.tags.get("decision_verdict") == PENDING
        if (pending or run_id in stopped) and client.get_run(run_id).info.status != "RUNNING":
            client.delete_model_version(name, str(mv.version))
            swept.append(str(mv.version))
    if swept:
        log.warning("deleted version(s) %s of %s: registered by a run that stopped before it finished", swept, name)
    return swept


def _tag(client: MlflowClient, name: str, version: str, decision: Decision) -> None:
    for key, value in decision.as_tags().items():
        client.set_model_version_tag(name, version, key, value[:5000])


@contextlib.contextmanager
def move_lock(name: str = ""):
    """An exclusive lock around re-reading, judging and moving `champion`: MLflow offers no compare-and-set on
    aliases. On a local SQLite store, a file lock beside the database; on the server profile, a PostgreSQL
    advisory lock on the study database (TABFLOW_OPTUNA_STORAGE), which every trainer shares; otherwise none
    (the window between re-reading and moving is then a few milliseconds)."""
    import os

    import mlflow

    uri = mlflow.get_tracking_uri()
    database = os.environ.get(settings.OPTUNA_STORAGE, "")
    if uri.startswith("sqlite:///"):
        import fcntl

        with open(uri[len("sqlite:///") :] + ".alias-lock", "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)
    elif database.startswith("postgresql"):
        with _advisory_lock(database, f"tabflow-champion:{name}"):
            yield
    else:
        yield


@contextlib.contextmanager
def _advisory_lock(url: str, key: str):
    """pg_advisory_lock on a key of 63 bits from `key`, held on one connection for the block."""
    import hashlib

    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    number = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": number})
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": number})
    finally:
        engine.dispose()


def move_champion(client: MlflowClient, name: str, version: str, verdict: str, reason: str) -> dict:
    """Point `champion` at a version and append the move to the model's history (who, when, from, to, why).

    The history entry is written first, marked `moving` with the writer's host:pid, and the mark is taken off
    once the alias has moved: a move is never without its record, and a record whose writer was killed mid-move
    is settled by the next run (`sweep`). If the move fails, the entry is taken back (unless the move happened
    after all, as a timed-out request may have)."""
    previous = champion_version(client, name)
    when = datetime.now(UTC)
    entry = {
        "at": when.isoformat(timespec="seconds"),
        "from": previous,
        "to": version,
        "by": _who(),
        "verdict": verdict,
        "reason": reason[:2000],
    }
    key = f"{HISTORY}{when.strftime('%Y%m%dT%H%M%S.%f')}.{uuid.uuid4().hex[:6]}"  # sorts by time; unique
    client.set_registered_model_tag(name, key, json.dumps({**entry, MOVING: worker_id()}))
    failpoints.reach("moving")
    try:
        client.set_registered_model_alias(name, CHAMPION, version)
    except BaseException:
        if _champion_or_unknown(client, name) not in (version, UNKNOWN):
            with contextlib.suppress(Exception):
                client.delete_registered_model_tag(name, key)
        raise
    failpoints.reach("moved")
    client.set_registered_model_tag(name, key, json.dumps(entry))
    return entry


def history(client: MlflowClient, name: str) -> list[dict]:
    """Every recorded move of `champion`, oldest first."""
    try:
        tags = client.get_registered_model(name).tags
    except MlflowException:
        raise TabflowError(
            f"no registered model {name!r}; check the name (tabflow show lists a model's versions)"
        ) from None
    return [json.loads(tags[k]) for k in sorted(k for k in tags if k.startswith(HISTORY))]


def rollback(client: MlflowClient, name: str, reason: str, to: str | None = None) -> dict:
    """Move `champion` back to `to`, or to the version it held before the current one. The champion is read
    under the move lock, so a promotion in between cannot be undone unseen."""
    with move_lock(name):
        current = champion_version(client, name)
        if to is None:
            moves = [m for m in history(client, name) if m["to"] == current and m["from"]]
            if not moves:
                raise TabflowError(f"{name!r} has no earlier champion to roll back to; pass --to VERSION")
            to = moves[-1]["from"]
        require_version(client, name, to)
        if to == current:
            raise TabflowError(f"version {to} of {name!r} is already the champion")
        return move_champion(client, name, to, "ROLLBACK", reason)


def require_version(client: MlflowClient, name: str, version: str) -> None:
    try:
        client.get_model_version(name, version)
    except MlflowException:
        raise TabflowError(f"{name!r} has no version {version}; `tabflow show {name}` lists them") from None


def _who() -> str:
    import getpass
    import socket

    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"
