"""`make bench`: measures tabflow against its baselines and writes benchmarks/RESULTS.md.

Each figure is a median over repeated runs, measured in the same session as its baseline, runs interleaved so
that machine noise hits both alike. Usage: python benchmarks/run.py [--repeats 5] [--trials 20] [--sections a,b]
[--quality-seeds 1 2 3 4 5] [--tables penguins,OJ] [--network tabflow] (the last three: section 3, quality.py)
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import quality  # benchmarks/quality.py: cheap to import (no TensorFlow), its report renders section 3

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--seeds", type=int, nargs="*", default=[1, 2, 3, 4], help="section 2's other splits")
    parser.add_argument("--quality-seeds", type=int, nargs="*", default=[1, 2, 3, 4, 5], help="section 3's splits")
    parser.add_argument("--tables", default="", help="section 3's tables, e.g. penguins,OJ (default: all)")
    parser.add_argument("--network", default="tabflow", help="section 3's network builder(s), by name")
    parser.add_argument(
        "--sections",
        default=",".join(SECTIONS),
        help="which to measure (default: all); the others keep their text from RESULTS.md",
    )
    args = parser.parse_args()
    chosen = [s.strip() for s in args.sections.split(",")]
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    extra = "".join(
        f" --{flag} {value}"
        for flag, value, default in (
            ("quality-seeds", " ".join(map(str, args.quality_seeds)), "1 2 3 4 5"),
            ("tables", args.tables, ""),
            ("network", args.network, "tabflow"),
        )
        if value != default
    )
    command = f"`python benchmarks/run.py --repeats {args.repeats} --trials {args.trials}{extra}" + (
        f" --sections {args.sections}`" if args.sections != ",".join(SECTIONS) else "` (`make bench`)"
    )
    commit = (
        subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True, text=True).stdout.strip()
        or "unknown"
    )
    stamp = f"Measured {time.strftime('%Y-%m-%d %H:%M')} at commit {commit} with {command}."
    measured = {}
    for section in SECTIONS:
        if section in chosen:
            measured[section] = _with_stamp(MEASURE[section](args), stamp)
    write_results(measured)


def _with_stamp(lines: list[str], stamp: str) -> list[str]:
    """The section's heading, then when and how it was measured."""
    return [lines[0], "", stamp, *lines[1:]]


def run_tabflow(name: str, trials: int, seed: int = 42) -> tuple[float, dict]:
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "PREFECT_API_URL")}
    cmd = [
        sys.executable,
        "-m",
        "tabflow.cli",
        "run",
        "--data",
        "builtin:breast_cancer",
        "--model-name",
        name,
        "--trials",
        str(trials),
        "--seed",
        str(seed),
    ]
    start = time.perf_counter()
    subprocess.run(cmd, cwd=WORK, env=env, check=True, capture_output=True, text=True)
    wall = time.perf_counter() - start
    return wall, parent_metrics(name)


def run_bare(trials: int, seed: int = 42, freeze: bool = False) -> tuple[float, dict]:
    start = time.perf_counter()
    cmd = [sys.executable, str(HERE / "bare.py"), str(trials), str(seed)] + (["freeze"] if freeze else [])
    out = subprocess.run(cmd, cwd=WORK, check=True, capture_output=True, text=True)
    return time.perf_counter() - start, json.loads(out.stdout.strip().splitlines()[-1])


def parent_metrics(name: str) -> dict:
    from mlflow import MlflowClient

    uri = f"sqlite:///{WORK / 'mlruns' / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name(name)
    [parent] = client.search_runs([experiment.experiment_id], filter_string="attributes.run_name LIKE 'train-%'")
    return parent.data.metrics


def measure_overhead(repeats: int, trials: int) -> dict:
    print("warm-up (not counted): creates the MLflow and Prefect databases, fills the OS file cache", flush=True)
    run_tabflow("warmup", 1)
    run_bare(1)
    rows = []
    for i in range(repeats):
        bare_wall, bare = run_bare(trials)
        tab_wall, tab = run_tabflow(f"bench{i}", trials)
        frozen_wall, _ = run_bare(trials, freeze=True)
        same = (
            abs(bare["best_value"] - tab["best_val_log_loss"]) < 1e-9 and abs(bare["test_auc"] - tab["test_auc"]) < 1e-9
        )
        rows.append(
            {
                "bare_wall": bare_wall,
                "tab_wall": tab_wall,
                "ratio": tab_wall / bare_wall,
                "same": same,
                "bare": bare,
                "tab": tab,
                "frozen_wall": frozen_wall,
                "frozen_ratio": tab_wall / frozen_wall,
            }
        )
        print(
            f"run {i + 1}/{repeats}: bare {bare_wall:.1f} s, tabflow {tab_wall:.1f} s, ratio "
            f"{tab_wall / bare_wall:.3f}, same trials and model: {same}; bare with gc.freeze {frozen_wall:.1f} s",
            flush=True,
        )
    return {"rows": rows, "trials": trials}


def measure_quality(seeds: list[int], trials: int) -> list[dict]:
    rows = []
    for seed in seeds:
        _, bare = run_bare(trials, seed)
        rows.append({"seed": seed, **bare})
        print(
            f"seed {seed}: network auc {bare['test_auc']:.4f} acc {bare['test_accuracy']:.4f}; "
            f"logreg auc {bare['logreg_auc']:.4f} acc {bare['logreg_accuracy']:.4f}",
            flush=True,
        )
    return rows


def measure_tables(args) -> dict:
    """benchmarks/quality.py in its own process (its progress lines shown as they come); its raw results stay in
    benchmarks/quality.json, for comparing reruns."""
    print("quality across tables (benchmarks/quality.py)", flush=True)
    cmd = [
        sys.executable,
        str(HERE / "quality.py"),
        "--trials",
        ",".join(map(str, sorted({1, args.trials}))),
        "--seeds",
        ",".join(map(str, args.quality_seeds)),
        "--network",
        args.network,
        "--out",
        str(QUALITY_JSON),
    ] + (["--tables", args.tables] if args.tables else [])
    subprocess.run(cmd, cwd=WORK, check=True)
    return json.loads(QUALITY_JSON.read_text())


QUALITY_JSON = HERE / "quality.json"


SCALE_ROWS = (10_000, 100_000, 1_000_000)


def measure_scale(sizes: tuple[int, ...], repeats: int) -> dict[int, list[dict]]:
    """benchmarks/scale.py per size, a fresh process each time, sizes interleaved."""
    for rows in sizes:
        print(f"scale: generating a {rows}-row table", flush=True)
        subprocess.run([sys.executable, str(HERE / "scale.py"), str(rows)], cwd=WORK, check=True, capture_output=True)
    runs: dict[int, list[dict]] = {rows: [] for rows in sizes}
    for i in range(repeats):
        for rows in sizes:
            out = subprocess.run(
                [sys.executable, str(HERE / "scale.py"), str(rows)],
                cwd=WORK,
                check=True,
                capture_output=True,
                text=True,
            )
            runs[rows].append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(
                f"scale run {i + 1}/{repeats}, {rows} rows: {runs[rows][-1]['total_s']} s, "
                f"+{runs[rows][-1]['added_mb']} MB",
                flush=True,
            )
    return runs


def scale_section(runs: dict[int, list[dict]], repeats: int) -> list[str]:
    phases = ("load", "clean", "split", "preprocess", "epoch")
    lines = [
        "## 4. Scale: load, clean, split and one epoch at 10k, 100k and 1M rows",
        "",
        f"`python benchmarks/scale.py ROWS` ({repeats} runs per size, interleaved, a fresh process each): a "
        "generated CSV with 50 feature columns (30 floats with 5% missing, 5 small integers, 8 text categoricals of "
        "2 to 20,000 levels, 2 booleans, 2 dates, an ID, a free-text note) and a binary target, through tabflow's "
        "own load, clean (roles, duplicates), split (70/15/15 with leak checks), preprocessing fitted on train "
        "and one epoch of the default network (batch 512). Frames stay referenced as the training flow keeps them. "
        "Memory is the peak resident size above the process's size once TensorFlow is imported (the baseline "
        "column); the table's own size is pandas' `memory_usage(deep=True)`. Medians.",
        "",
        "| rows | table (MB) | peak added (MB) | peak / table | "
        + " | ".join(f"{p} (s)" for p in phases)
        + " | total (s) | baseline RSS (MB) |",
        "|---:|---:|---:|---:|" + "---:|" * len(phases) + "---:|---:|",
    ]
    summary = {}
    for rows, results in runs.items():
        table, added = med(r["table_mb"] for r in results), med(r["added_mb"] for r in results)
        total = med(r["total_s"] for r in results)
        summary[rows] = (total, added)
        cells = " | ".join(f"{med(r['seconds'][p] for r in results):.2f}" for p in phases)
        lines.append(
            f"| {rows:,} | {table:.1f} | {added:.0f} | {added / table:.2f}x | {cells} | {total:.2f} | "
            f"{med(r['baseline_mb'] for r in results):.0f} |"
        )
    sizes = sorted(summary)
    growth = "; ".join(
        f"{a:,} to {b:,} rows ({b // a}x): time {summary[b][0] / summary[a][0]:.1f}x, memory "
        f"{summary[b][1] / summary[a][1]:.1f}x"
        for a, b in itertools.pairwise(sizes)
    )
    lines += [
        "",
        f"Growth: {growth}. Below 100k rows fixed costs (graph tracing, the first epoch's set-up) "
        "dominate, so the first step grows less than the rows.",
        "",
    ]
    return lines


def med(values) -> float:
    return statistics.median(values)


def measure_bootstrap(repeats: int, n: int = 10_000, resamples: int = 1000) -> dict:
    """The gate's paired bootstrap of AUC on 10k test rows, against the same resamples scored one at a time with
    scikit-learn's roc_auc_score."""
    import numpy as np
    from sklearn.metrics import roc_auc_score

    from tabflow.promotion.bootstrap import bootstrap

    rng = np.random.default_rng(0)
    y = (rng.random(n) < 0.4).astype(int)
    a, b = 0.3 * y + 0.7 * rng.random(n), 0.25 * y + 0.75 * rng.random(n)
    times: dict[str, list[float]] = {"tabflow": [], "loop": []}
    for _ in range(repeats):
        start = time.perf_counter()
        interval = bootstrap("binary", "auc", y, a, b, resamples=resamples)
        times["tabflow"].append(time.perf_counter() - start)
        start = time.perf_counter()
        draws = np.random.default_rng(0).integers(0, n, size=(resamples, n))
        gains = [roc_auc_score(y[r], a[r]) - roc_auc_score(y[r], b[r]) for r in draws]
        times["loop"].append(time.perf_counter() - start)
    print(f"bootstrap: {med(times['tabflow']):.3f} s against {med(times['loop']):.3f} s", flush=True)
    return {
        "n": n,
        "resamples": resamples,
        "tabflow": med(times["tabflow"]),
        "loop": med(times["loop"]),
        "interval": interval,
        "loop_interval": np.quantile(gains, [0.025, 0.975]).tolist(),
    }


def bootstrap_section(b: dict, repeats: int) -> list[str]:
    return [
        "## 5. The promotion gate's bootstrap",
        "",
        f"Paired bootstrap of the AUC gain, {b['resamples']:,} resamples of {b['n']:,} test rows "
        f"(`tabflow.promotion.bootstrap.bootstrap`, multinomial counts and one sort per model) against the same "
        f"number of resamples scored one at a time with scikit-learn's `roc_auc_score`. Medians of {repeats} runs, in "
        "`make bench`.",
        "",
        "| | one at a time | tabflow | ratio |",
        "|---|---:|---:|---:|",
        f"| seconds | {b['loop']:.3f} | {b['tabflow']:.3f} | {b['tabflow'] / b['loop']:.3f} |",
        "",
        f"95% interval of the gain: tabflow [{b['interval'].low:+.4f}, {b['interval'].high:+.4f}], one at a time "
        f"[{b['loop_interval'][0]:+.4f}, {b['loop_interval'][1]:+.4f}] (other random draws, same distribution).",
        "",
    ]


def training_section(overhead: dict, quality: list[dict], args) -> list[str]:
    rows, n = overhead["rows"], len(overhead["rows"])
    tab_stages = {s: med(r["tab"][f"seconds_{s}"] for r in rows) for s in ("tune", "train", "evaluate", "promote")}
    tab_wall, bare_wall = med(r["tab_wall"] for r in rows), med(r["bare_wall"] for r in rows)
    tab_startup = med(r["tab_wall"] - sum(r["tab"][f"seconds_{s}"] for s in tab_stages) for r in rows)
    bare = {k: med(r["bare"][k] for r in rows) for k in ("startup_s", "trials_s", "final_s")}
    seed42 = rows[0]
    ratio = med(r["ratio"] for r in rows)
    frozen_wall, frozen_ratio = med(r["frozen_wall"] for r in rows), med(r["frozen_ratio"] for r in rows)
    bare_exit = med(r["bare_wall"] - sum(r["bare"][k] for k in ("startup_s", "trials_s", "final_s")) for r in rows)
    ratios = ", ".join(f"{r['ratio']:.3f}" for r in rows)
    lines = [
        "## 1. Whole `tabflow run` against Keras + Optuna alone",
        "",
        f"`tabflow run --data builtin:breast_cancer --trials {overhead['trials']}` (Prefect flow, MLflow parent and "
        "child runs, Optuna journal store, pyfunc model, evaluation with baselines and plots, registry promotion) "
        "against `benchmarks/bare.py`: the same trials, epochs and seed with Keras and Optuna alone, then the same "
        "final fit and test scoring. Both are timed as whole processes, interleaved, after one warm-up run of each "
        f"(existing MLflow and Prefect databases, as on a user's second run). Medians of {n} runs.",
        "",
        "| | bare Keras + Optuna | tabflow | ratio |",
        "|---|---:|---:|---:|",
        f"| wall time, whole process (s) | {bare_wall:.1f} | {tab_wall:.1f} | **{ratio:.3f}** |",
        f"| against bare with gc.freeze (s) | {frozen_wall:.1f} | {tab_wall:.1f} | {frozen_ratio:.3f} |",
        "",
        "The second row is for candour: tabflow calls `gc.freeze()` before its trials (each trial's "
        "`keras.backend.clear_session()` runs a full collection, ~0.3 s a trial over a heap of imported modules), "
        "which a plain script would not; `bare.py freeze` does the same, so that row is the overhead of Prefect and "
        "MLflow alone. Likewise tabflow ends its process with `os._exit` once everything is flushed, skipping the "
        f"interpreter's teardown of TensorFlow that the bare script pays at exit ({bare_exit:.1f} s, median, "
        "including Python's own start).",
        "",
        f"Per-run ratios: {ratios}. Same trials and same final model in "
        f"every pair (best val_log_loss and test AUC equal to 1e-9): {all(r['same'] for r in rows)}.",
        "",
        "Where the time goes (medians, seconds):",
        "",
        "| phase | bare | tabflow | what tabflow adds |",
        "|---|---:|---:|---|",
        f"| start-up and data (imports, Prefect API, load/clean/split) | {bare['startup_s']:.1f} | {tab_startup:.1f} "
        "| MLflow import and store, the temporary Prefect server (started beside the TensorFlow import), flow and "
        "task runs |",
        f"| trials | {bare['trials_s']:.1f} | {tab_stages['tune']:.1f} | a child run per trial (3 calls, on a "
        "background thread), journal "
        "store writes, progress |",
        f"| final fit | {bare['final_s']:.1f} | {tab_stages['train']:.1f} | logging the pyfunc model (network, "
        "preprocessor, signature, input example) |",
        f"| evaluate (bare: inside final fit) | - | {tab_stages['evaluate']:.1f} | loading the logged model, "
        "baselines as child runs, 3 plots, predictions artifact |",
        f"| promote | - | {tab_stages['promote']:.1f} | registering with lineage tags, the servability check (a "
        "process started during the final fit loads the registered version and scores test rows), the alias move "
        "and its history |",
        "",
        f"Per trial: bare {bare['trials_s'] / overhead['trials']:.2f} s, tabflow "
        f"{tab_stages['tune'] / overhead['trials']:.2f} s.",
        "",
        "## 2. Model quality on the demo table",
        "",
        f"Test metrics of the tuned network ({args.trials} trials) beside scikit-learn's logistic regression on the "
        "same split (70/15/15, stratified; the test split has 86 rows, so one row is 0.0116 of accuracy). "
        "Seed 42 is the default (`make run`); the other seeds are other splits. Numbers come from the same code "
        "path as bare.py, which section 1 checks gives the same model as tabflow.",
        "",
        "| split seed | network AUC | logreg AUC | network accuracy | logreg accuracy |",
        "|---:|---:|---:|---:|---:|",
    ]
    for seed, r in [(42, seed42["bare"])] + [(q["seed"], q) for q in quality]:
        lines.append(
            f"| {seed} | {r['test_auc']:.4f} | {r['logreg_auc']:.4f} | {r['test_accuracy']:.4f} | "
            f"{r['logreg_accuracy']:.4f} |"
        )
    all_rows = [seed42["bare"], *quality]
    lines += [
        f"| median | {med(r['test_auc'] for r in all_rows):.4f} | {med(r['logreg_auc'] for r in all_rows):.4f} "
        f"| {med(r['test_accuracy'] for r in all_rows):.4f} | "
        f"{med(r['logreg_accuracy'] for r in all_rows):.4f} |",
        "",
    ]
    return lines


def measure_serving(repeats: int) -> dict:
    """benchmarks/serving.py, `repeats` times, on a model trained here (5 trials); then batch scoring of the
    scale section's generated files, whole `tabflow predict` processes, peak memory from /usr/bin/time."""
    run_tabflow("serving", 5)
    runs = json_runs(["serving.py", str(WORK / "mlruns"), "serving"], repeats, "serving", WORK)
    result = {kind: {k: med(r[kind][k] for r in runs) for k in runs[0][kind]} for kind in ("mlflow", "tabflow")}
    result["model"] = runs[-1]["model"]
    result["batch"] = measure_batch(max(3, repeats // 2))
    result["load"] = measure_load(max(3, repeats // 2))
    return result


def json_runs(argv: list[str], repeats: int, label: str, cwd: Path) -> list[dict]:
    """A benchmark script (argv[0], in benchmarks/) run `repeats` times; the JSON line each run ends with."""
    runs = []
    for i in range(repeats):
        out = subprocess.run(
            [sys.executable, str(HERE / argv[0]), *argv[1:]], cwd=cwd, check=True, capture_output=True, text=True
        )
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(f"{label} run {i + 1}/{repeats}: {runs[-1]}", flush=True)
    return runs


def measure_load(repeats: int) -> dict:
    """benchmarks/load.py: 8 clients for 60 s while champion moves three times and a broken version is refused."""
    runs = json_runs(["load.py", str(WORK / "mlruns"), "serving", "60", "8"], repeats, "load", HERE)
    keys = ("requests", "failed", "p50_ms", "p99_ms", "moves")
    return {**{k: med(r[k] for r in runs) for k in keys}, "refused": all(r["refused"] for r in runs), "runs": len(runs)}


BATCH_ROWS = (100_000, 1_000_000)


def measure_batch(repeats: int) -> dict[int, dict]:
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "PREFECT_API_URL")}
    for rows in (10_000, *BATCH_ROWS):  # the files of the scale section (generated if this run skipped it)
        if not (WORK / f"scale-{rows}.csv").exists():
            subprocess.run(
                [sys.executable, str(HERE / "scale.py"), str(rows)], cwd=WORK, check=True, capture_output=True
            )
    subprocess.run(
        [
            sys.executable,
            "-m",
            "tabflow.cli",
            "run",
            "--data",
            "scale-10000.csv",
            "--target",
            "target",
            "--model-name",
            "scale",
            "--trials",
            "2",
        ],
        cwd=WORK,
        env=env,
        check=True,
        capture_output=True,
    )
    out: dict[int, list] = {rows: [] for rows in BATCH_ROWS}
    for _ in range(repeats):
        for rows in BATCH_ROWS:
            start = time.perf_counter()
            done = subprocess.run(
                [
                    "/usr/bin/time",
                    "-f",
                    "%M",
                    sys.executable,
                    "-m",
                    "tabflow.cli",
                    "predict",
                    "--model",
                    "scale",
                    "--input",
                    f"scale-{rows}.csv",
                    "--output",
                    f"scored-{rows}.parquet",
                ],
                cwd=WORK,
                env=env,
                check=True,
                capture_output=True,
                text=True,
            )
            out[rows].append((time.perf_counter() - start, int(done.stderr.strip().splitlines()[-1]) / 1024))
            print(f"batch scoring {rows} rows: {out[rows][-1][0]:.1f} s, {out[rows][-1][1]:.0f} MB", flush=True)
    return {
        rows: {
            "seconds": med(s for s, _ in r),
            "peak_mb": med(m for _, m in r),
            "file_mb": (WORK / f"scale-{rows}.csv").stat().st_size / 2**20,
        }
        for rows, r in out.items()
    }


def serving_section(s: dict) -> list[str]:
    m, t = s["mlflow"], s["tabflow"]
    rows = [
        ("single row, p50 latency (ms)", "p50_ms", "{:.2f}"),
        ("single row, p99 latency (ms)", "p99_ms", "{:.2f}"),
        ("single rows per second (one client)", "single_rows_per_s", "{:.0f}"),
        ("rows per second in 1,000-row requests", "batch_rows_per_s", "{:.0f}"),
    ]
    return [
        "## 6. Serving: `tabflow serve` against `mlflow models serve`",
        "",
        "`python benchmarks/serving.py STORE serving`: the same registered model (the demo table, 5 trials) served "
        "by `mlflow models serve --env-manager local --workers 1` and by `tabflow serve` (1 worker), each started "
        "as its own process on 127.0.0.1 and measured in turn by one sequential client (urllib, dataframe_split "
        "JSON) after 20 warm-up requests: 500 single-row requests, then 10 requests of 1,000 rows. Medians over "
        "the runs.",
        "",
        "| | mlflow models serve | tabflow serve | ratio |",
        "|---|---:|---:|---:|",
        *[
            f"| {label} | {fmt.format(m[key])} | {fmt.format(t[key])} | {t[key] / m[key]:.2f} |"
            for label, key, fmt in rows
        ],
        "",
        f"The served model is {s['model']['model_mb']:.1f} MB on disk, {s['model']['network_mb']:.1f} MB of it the "
        "network (`network.keras`, every fold network), the rest tabflow's code, the preprocessing and MLflow's "
        "files. `tabflow serve` answers requests of up to 100 rows with numpy: the preprocessing replayed "
        "(tabflow.features.replay) and the network's forward pass (tabflow.model.forward), each checked against "
        "scikit-learn's and Keras' output on the version's input example when it loads; larger requests go "
        "through scikit-learn and TensorFlow.",
        "",
        "Batch scoring: `tabflow predict` (a whole process: start-up, a Prefect flow, chunks of 100,000 rows) on "
        "the scale section's generated CSVs, with a model trained on its 10k-row table. Peak resident memory from "
        "`/usr/bin/time -f %M`; medians.",
        "",
        "| rows | file (MB) | seconds | peak memory (MB) |",
        "|---:|---:|---:|---:|",
        *[
            f"| {rows:,} | {b['file_mb']:.0f} | {b['seconds']:.1f} | {b['peak_mb']:.0f} |"
            for rows, b in s["batch"].items()
        ],
        "",
        *load_lines(s.get("load")),
    ]


def load_lines(load: dict | None) -> list[str]:
    if not load:
        return []
    return [
        "Load during swaps: `python benchmarks/load.py STORE serving 60 8`: 8 concurrent clients send single-row "
        "requests for 60 s while `champion` moves three times (copies of the version) and once to a version whose "
        "network file is corrupt, which the server refuses while the old one serves on. Medians of "
        f"{load['runs']} runs.",
        "",
        "| requests served | failed | p50 (ms) | p99 (ms) | moves followed | broken version refused |",
        "|---:|---:|---:|---:|---:|---|",
        f"| {load['requests']:,.0f} | {load['failed']:.0f} | {load['p50_ms']:.1f} | {load['p99_ms']:.1f} | "
        f"{load['moves']:.0f} of 3 | {'yes' if load['refused'] else 'no'} |",
        "",
    ]


def measure_profile(repeats: int) -> dict:
    """benchmarks/profile.py: trials on Dask workers (12 trials) and Prefect's cost per flow run per profile."""

    def run(*args: str) -> dict:
        done = subprocess.run(
            [sys.executable, str(HERE / "profile.py"), *args],
            cwd=HERE.parent,
            check=True,
            capture_output=True,
            text=True,
        )
        return json.loads(done.stdout.strip().splitlines()[-1])

    return {"dask": run("dask", str(PROFILE_TRIALS), str(min(repeats, 3))), "prefect": run("prefect", "10")}


PROFILE_TRIALS = 12


def profile_section(p: dict) -> list[str]:
    d, f = p["dask"], p["prefect"]
    base = d["in-process"]
    rows = [(key, d[key]) for key in ("in-process", "1 Dask worker", "2 Dask workers")]
    return [
        "## 7. The server profile: trials on Dask, Prefect per flow run",
        "",
        f"`python benchmarks/profile.py dask {d['trials']} REPEATS`: the tuning stage (`seconds_tune` of the parent "
        "run) of `tabflow run` on the demo table, in the flow's process and spread over a local Dask cluster of one "
        "and of two worker processes (`--nthreads 1`; TensorFlow threads = cores / workers on the machine), each "
        "run a fresh study in the journal store, workers warmed up by one run first. Medians; this machine has "
        f"{os.cpu_count()} cores, so two workers can at best halve the time.",
        "",
        "| trials run | seconds | trials per minute | against in-process |",
        "|---|---:|---:|---:|",
        *[f"| {label} | {sec:.1f} | {60 * d['trials'] / sec:.1f} | {base / sec:.2f}x |" for label, sec in rows],
        "",
        f"Orchestration cost per trial on one Dask worker: {(d['1 Dask worker'] - base) / d['trials']:+.2f} s "
        "(a Dask task per share, the preprocessing fitted again on each worker, trials logged from there).",
        "",
        "`python benchmarks/profile.py prefect 10`: a flow of six no-op tasks, ten runs in one process after a "
        "first one, against the embedded temporary server (SQLite, what `tabflow run` starts) and a Prefect server "
        "on PostgreSQL, both started by the benchmark on 127.0.0.1. Medians.",
        "",
        "| Prefect API | seconds per flow run |",
        "|---|---:|",
        *[
            f"| {label} | {f[label]:.2f} |"
            for label in ("embedded (SQLite)", "server (PostgreSQL)", "embedded, heartbeats off")
        ],
        "",
        "Turning flow-run heartbeats off (what tabflow did on the embedded server until this was measured) cost "
        "about a second per flow run with Prefect 3.9.1, so tabflow leaves them on.",
        "",
    ]


SECTIONS = ("training", "quality", "scale", "bootstrap", "serving", "profile")
NUMBERS = {
    "training": ("1", "2"),
    "quality": ("3",),
    "scale": ("4",),
    "bootstrap": ("5",),
    "serving": ("6",),
    "profile": ("7",),
}
MEASURE = {
    "training": lambda a: training_section(
        measure_overhead(a.repeats, a.trials), measure_quality(a.seeds, a.trials), a
    ),
    "quality": lambda a: quality.render(measure_tables(a)),
    "scale": lambda a: scale_section(measure_scale(SCALE_ROWS, a.repeats), a.repeats),
    "bootstrap": lambda a: bootstrap_section(measure_bootstrap(a.repeats), a.repeats),
    "serving": lambda a: serving_section(measure_serving(a.repeats)),
    "profile": lambda a: profile_section(measure_profile(a.repeats)),
}


def previous_sections() -> dict[str, str]:
    """RESULTS.md's sections by number, to keep those this run did not measure."""
    path = HERE / "RESULTS.md"
    blocks = re.split(r"(?m)^(?=## \d+\.)", path.read_text() if path.exists() else "")
    return {b[3:].split(".", 1)[0]: b.rstrip("\n") + "\n" for b in blocks if b.startswith("## ")}


def write_results(measured: dict[str, list[str]]) -> None:
    kept = previous_sections()
    lines = [
        "# Benchmarks",
        "",
        f"Machine: {os.cpu_count()} cores, Python {platform.python_version()}, {platform.machine()}. `make bench` "
        "measures every section; each says when and with which command. Every figure is a median over repeated "
        "runs, beside its baseline measured in the same run.",
        "",
    ]
    for section in SECTIONS:
        lines += measured[section] if section in measured else [kept[n] for n in NUMBERS[section] if n in kept]
    (HERE / "RESULTS.md").write_text("\n".join(lines))
    print(f"wrote {HERE / 'RESULTS.md'}")


if __name__ == "__main__":
    main()
