"""Scale: wall time and peak memory of load + clean + split + one training epoch, at a given row count.

python benchmarks/scale.py ROWS [--csv PATH]  prints one JSON line. A fresh process per size, so the peak
resident memory (ru_maxrss) belongs to that size alone; the table is generated first, written to CSV, and freed.
The frames stay referenced as the training flow keeps them (raw, cleaned, split).
Columns (50 features): 30 floats with 5% missing, 5 small integers, 8 text categoricals of 2 to 20,000 levels,
2 booleans, 2 dates, an ID, a free-text note and a binary target that depends on several of them.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

LEVELS = (2, 5, 10, 30, 100, 1000, 5000, 20000)


def generate(rows: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    cols: dict = {"row_id": np.arange(rows)}
    for i in range(30):
        x = rng.normal(size=rows).astype("float32")
        x[rng.random(rows) < 0.05] = np.nan
        cols[f"num_{i}"] = x
    for i in range(5):
        cols[f"int_{i}"] = rng.integers(0, 8, rows)
    for i, levels in enumerate(LEVELS):
        codes = np.minimum(rng.zipf(1.5, rows) - 1, levels - 1)  # skewed: a few common levels, many rare ones
        cols[f"cat_{i}"] = pd.Categorical.from_codes(codes, [f"c{i}_{k}" for k in range(levels)]).astype(str)
    for i in range(2):
        cols[f"flag_{i}"] = rng.random(rows) < 0.3
    start = np.datetime64("2020-01-01")
    for i in range(2):
        cols[f"date_{i}"] = (start + rng.integers(0, 1500, rows).astype("timedelta64[D]")).astype(str)
    cols["note"] = [f"note {k} about row" for k in rng.integers(0, rows, rows)]
    frame = pd.DataFrame(cols)
    logit = (
        frame["num_0"].fillna(0)
        - frame["num_1"].fillna(0)
        + 0.5 * frame["int_0"]
        - 1.5
        + (frame["cat_3"] == "c3_0")
        - frame["flag_0"]
    )
    frame["target"] = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)
    return frame


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmRSS")) / 1024


def measure(csv: Path) -> dict:
    import os

    from tabflow.config import PipelineConfig
    from tabflow.data import clean, read, validate
    from tabflow.data.split import split
    from tabflow.settings import runtime_defaults

    os.environ.update(runtime_defaults(Path("store"), Path("prefect")))
    import keras  # noqa: F401  imported before the baseline so the figure is the table's own cost
    import tensorflow  # noqa: F401

    from tabflow.model.inputs import prepare
    from tabflow.model.network import MLPParams, fit_network

    cfg = PipelineConfig.model_validate({"data": {"source": str(csv), "target": "target"}})
    base, times, peaks, kept = rss_mb(), {}, {}, {}

    def phase(name: str, step):
        start = time.perf_counter()
        kept[name] = step()  # held, as the flow holds each stage's result
        times[name] = round(time.perf_counter() - start, 2)
        peaks[name] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - base, 1)
        return kept[name]

    raw = phase("load", lambda: read.load_table(str(csv)))
    table_mb = raw.memory_usage(deep=True).sum() / 2**20
    cleaned = phase(
        "clean",
        lambda: clean.clean_table(
            raw,
            "target",
            cfg.split,
            read.digest_frame(raw),
            cfg.data.columns,
            cfg.data.max_text_share,
            validate.validate_table(raw, "target", cfg.split, cfg.task),
        ),
    )
    splits = phase("split", lambda: split(cleaned, cfg.split, cfg.seed))
    prepared = phase("preprocess", lambda: prepare(splits, cfg.data.max_categories, cfg.train.class_weight))
    phase("epoch", lambda: fit_network(MLPParams(batch_size=512), prepared, epochs=1, seed=0))
    return {
        "table_mb": round(table_mb, 1),
        "baseline_mb": round(base, 1),
        "added_mb": peaks["epoch"],
        "seconds": times,
        "peak_added_mb_after": peaks,
        "total_s": round(sum(times.values()), 2),
    }


def main() -> None:
    rows = int(sys.argv[1])
    csv = Path(sys.argv[sys.argv.index("--csv") + 1]) if "--csv" in sys.argv else Path(f"scale-{rows}.csv")
    if not csv.exists():
        generate(rows).to_csv(csv, index=False)
        print(json.dumps({"generated": str(csv)}))  # measured in a fresh process, without the generator
        return
    print(json.dumps({"rows_asked": rows, **measure(csv)}))


if __name__ == "__main__":
    main()
