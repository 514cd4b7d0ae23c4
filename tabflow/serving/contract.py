"""The data contract of a logged model: the input schema saved with it, the check every request passes, and its
output columns back to the array the metrics take."""

from __future__ import annotations

import logging
import time

import numpy as np
import pandas as pd

from tabflow import settings
from tabflow.features.coerce import coerce, numbers, select
from tabflow.task_types import task_type

log = logging.getLogger("tabflow.serving")  # the CLI quiets it while a run scores its own test rows
FLOAT32_MAX = float(np.finfo(np.float32).max)


class Throttle:
    """True at most once per `seconds`: a warning a request could cause is logged once a minute, not flooded."""

    def __init__(self, seconds: float = 60.0):
        self.seconds, self.last = seconds, -float("inf")

    def ready(self) -> bool:
        now = time.monotonic()
        if now - self.last < self.seconds:
            return False
        self.last = now
        return True


_outside = Throttle()


def network_output(frame: pd.DataFrame, task: str, classes: tuple) -> np.ndarray:
    """The served frame back to the array the metrics take (see tabflow.metrics.scores): one column as a vector
    (P(positive) or the prediction), one column per class as a matrix."""
    columns = task_type(task).probability_columns(tuple(classes))
    values = frame[columns].to_numpy(dtype="float64")
    return values[:, 0] if len(columns) == 1 else values


def input_schema(train_x: pd.DataFrame, roles: dict[str, str]) -> dict:
    """The data contract saved with the model: each column's role and what training saw of it."""
    typed = coerce(train_x, roles)
    schema = {}
    for name, role in roles.items():
        col = typed[name]
        entry: dict = {"role": role}
        if role == "numeric":
            entry.update(min=_plain(col.min()), max=_plain(col.max()))
        elif role == "categorical":  # only those the model learned from: a value seen once is a person's data
            counts = col.value_counts()
            common = counts[counts >= settings.MIN_COUNT].index.tolist()
            entry["categories"] = sorted(common)[: settings.MAX_SHOWN_CATEGORIES]
        schema[name] = entry
    return schema


def check_input(frame: pd.DataFrame, schema: dict) -> pd.DataFrame:
    """Missing columns are an error that names them; extra ones are ignored; numbers outside the range seen in
    training are counted in the log (the model extrapolates there)."""
    missing = [c for c in schema if c not in frame.columns]
    if missing:
        raise ValueError(f"input lacks {len(missing)} column(s) the model needs: {', '.join(missing[:10])}")
    extra = [c for c in frame.columns if c not in schema]
    if extra:
        log.warning("ignoring %d column(s) the model does not use: %s", len(extra), ", ".join(map(str, extra[:10])))
    rows = select(frame, list(schema))
    numeric = [c for c, e in schema.items() if e["role"] == "numeric"]
    outside = {}
    if numeric:  # one block, not a column at a time: this runs on every request
        block = select(rows, numeric)
        values = numbers(block, numeric)
        if not all(pd.api.types.is_numeric_dtype(t) for t in block.dtypes):  # text parsed: count misses
            bad = (block.notna().to_numpy() & np.isnan(values)).sum(axis=0)
            if bad.any():
                name = numeric[int(np.argmax(bad > 0))]
                raise ValueError(
                    f"column {name!r} must be numeric; {int(bad[numeric.index(name)])} value(s) are not numbers"
                )
        low = np.array([_bound(schema[c].get("min"), -np.inf) for c in numeric])
        high = np.array([_bound(schema[c].get("max"), np.inf) for c in numeric])
        with np.errstate(invalid="ignore"):  # the network computes in float32: beyond its range is infinite
            infinite = (np.abs(values) > FLOAT32_MAX).sum(axis=0)
        if infinite.any():
            name = numeric[int(np.argmax(infinite > 0))]
            raise ValueError(
                f"column {name!r} has {int(infinite[numeric.index(name)])} value(s) that are infinite or beyond "
                f"+-{FLOAT32_MAX:.3g}; send finite numbers or leave the cells empty"
            )
        with np.errstate(invalid="ignore"):
            counts = ((values < low) | (values > high)).sum(axis=0)
        outside = {c: int(n) for c, n in zip(numeric, counts, strict=True) if n}
    if outside and _outside.ready():
        log.warning(
            "%d value(s) outside the range seen in training, in: %s",
            sum(outside.values()),
            ", ".join(f"{c} ({n})" for c, n in outside.items()),
        )
    return rows


def _bound(value, default: float) -> float:
    return default if value is None else float(value)


def _plain(value):
    return value.item() if hasattr(value, "item") else value
