"""The `tabflow` command's flags. Heavy imports (TensorFlow, MLflow, Prefect) wait until a command needs them."""

from __future__ import annotations

import argparse

from tabflow import settings
from tabflow.cli import commands


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tabflow",
        description="Train, tune, evaluate and promote Keras models "
        "on tables, tracked in MLflow and orchestrated by Prefect.",
    )
    parser.add_argument(
        "--store", default="mlruns", help="local tracking, registry and study store (default: ./mlruns)"
    )
    sub = parser.add_subparsers(required=True, metavar="COMMAND")
    run = sub.add_parser("run", help="load, validate, clean, split, tune, train, evaluate and promote")
    config_flags(run)
    run.set_defaults(command=commands.run)
    dep = sub.add_parser("deploy", help="schedule the training or scoring flow on a Prefect server's work pool")
    kinds = dep.add_subparsers(required=True, metavar="FLOW")
    for kind in ("train", "score"):
        each = kinds.add_parser(kind, help=f"deploy the {'training' if kind == 'train' else 'batch scoring'} flow")
        when = each.add_mutually_exclusive_group()
        when.add_argument("--cron", help='a cron schedule, e.g. "0 3 * * 1" (Mondays 03:00 UTC)')
        when.add_argument("--interval", type=float, metavar="SECONDS", help="a run every SECONDS")
        each.add_argument("--pool", default="tabflow", help="the process work pool (default: tabflow)")
        if kind == "train":
            config_flags(each)
            each.add_argument(
                "--max-late-minutes",
                type=float,
                default=60.0,
                help="skip a scheduled run that starts this much later than its slot (default: 60)",
            )
        else:
            each.add_argument("--model", required=True, metavar="NAME[@alias|/version]")
            each.add_argument("--input", required=True, help="PATH.csv or PATH.parquet, read at each run")
            each.add_argument("--output", required=True, help="PATH.csv or PATH.parquet, replaced at each run")
            each.add_argument("--keys", help="comma-separated input columns to copy to the output")
        each.set_defaults(command=commands.deploy, kind=kind)
    wrk = sub.add_parser("worker", help="run deployed flows: a Prefect process worker polling the pool")
    wrk.add_argument("--pool", default="tabflow")
    wrk.set_defaults(command=commands.worker)
    show = sub.add_parser("show", help="a registered version's aliases and lineage tags")
    show.add_argument("ref", metavar="NAME[@alias|/version]")
    show.add_argument("--card", action="store_true", help="print the version's model card (markdown)")
    show.set_defaults(command=commands.show)
    hist = sub.add_parser("history", help="every move of a model's champion alias")
    hist.add_argument("name")
    hist.set_defaults(command=commands.history)
    back = sub.add_parser("rollback", help="move champion back (default: to the version before the current one)")
    back.add_argument("name")
    back.add_argument("--to", metavar="VERSION")
    back.add_argument("--reason", required=True)
    back.set_defaults(command=commands.rollback)
    prom = sub.add_parser(
        "promote",
        help="judge a version against the champion and promote it if it passes",
        description="Judge VERSION against the champion on VERSION's own test rows, with the gate settings and seed "
        "of the run that trained it (its logged config), and move champion on PROMOTE. Exit 0 when it moved, 1 when "
        "the gate held or rejected.",
    )
    prom.add_argument("name")
    prom.add_argument("version")
    prom.add_argument("--reason", required=True)
    prom.add_argument("--force", action="store_true", help="skip the gate (recorded as forced)")
    prom.set_defaults(command=commands.promote)
    pred = sub.add_parser("predict", help="score a CSV or Parquet file with a registered model (a Prefect flow)")
    pred.add_argument("--model", required=True, metavar="NAME[@alias|/version]", help="default alias: champion")
    pred.add_argument("--input", required=True, help="PATH.csv or PATH.parquet")
    pred.add_argument("--output", required=True, help="PATH.csv or PATH.parquet (replaced only when complete)")
    pred.add_argument(
        "--keys",
        help="comma-separated input columns to copy to the output (default: every "
        "column the model does not read, such as IDs)",
    )
    pred.set_defaults(command=commands.predict)
    srv = sub.add_parser("serve", help="serve the model an alias points at over HTTP, following the alias")
    srv.add_argument("--model", required=True, help="registered model name")
    srv.add_argument("--alias", default="champion")
    srv.add_argument("--host", default="127.0.0.1")
    srv.add_argument("--port", type=int, default=8080)
    srv.add_argument("--workers", type=int, default=1)
    srv.add_argument("--poll", type=positive, default=5.0, help="seconds between checks of the alias (default: 5)")
    srv.add_argument("--max-body-mb", type=positive, default=10.0, help="larger request bodies get 413")
    srv.add_argument("--max-rows", type=positive_int, default=100_000, help="rows a request may hold (413 past it)")
    srv.add_argument(
        "--max-cells", type=positive_int, default=5_000_000, help="rows x the model's columns a request may hold"
    )
    srv.add_argument("--max-cell-chars", type=positive_int, default=1_000, help="characters a text cell may hold")
    srv.add_argument("--max-concurrent", type=positive_int, default=16, help="requests answered at once (429 past it)")
    srv.add_argument("--deadline-s", type=positive, default=30.0, help="seconds for a request's body to arrive (408)")
    srv.add_argument(
        "--auth-token-file",
        help="a file holding a bearer token: every endpoint but /ping and /health then needs "
        "`Authorization: Bearer <token>` (or set TABFLOW_SERVE_TOKEN)",
    )
    srv.add_argument(
        "--allowed-hosts",
        help="comma-separated Host headers to answer (default: loopback names when --host is loopback, else any)",
    )
    srv.add_argument(
        "--webhook-url",
        help="this server's /hooks/mlflow address as the MLflow server reaches it: "
        "registers an MLflow webhook so alias moves arrive at once (needs TABFLOW_WEBHOOK_SECRET)",
    )
    srv.set_defaults(command=commands.serve)
    ui = sub.add_parser("ui", help="start the MLflow UI on the local store (127.0.0.1)")
    ui.add_argument("--port", type=int, default=settings.UI_PORT)
    ui.add_argument(
        "--optuna",
        action="store_true",
        help="open the study in optuna-dashboard instead (pip install optuna-dashboard; default port 8080)",
    )
    ui.add_argument("--model", help="with --optuna and several models in the store: whose study")
    ui.set_defaults(command=commands.ui)
    return parser


def config_flags(parser: argparse.ArgumentParser) -> None:
    """The settings a run takes; every one also lives in the YAML (--config)."""
    parser.add_argument("--data", help="PATH.csv, PATH.parquet or builtin:breast_cancer")
    parser.add_argument("--target", help="the column to predict (default: target)")
    parser.add_argument("--model-name", help="registered model name (default: the data file's stem)")
    parser.add_argument("--config", help="a YAML file with any of the settings (flags win)")
    parser.add_argument("--trials", type=int, help="finished Optuna trials the study should hold (default: 20)")
    parser.add_argument("--timeout", type=float, help="stop starting trials after this many seconds")
    parser.add_argument("--seed", type=int, help="seed for the split, the sampler and Keras (default: 42)")
    parser.add_argument(
        "--task",
        choices=("auto", "binary", "multiclass", "regression"),
        help="what to predict (default: auto, from the target column)",
    )
    parser.add_argument(
        "--allow-schema-change",
        action="store_true",
        default=None,
        help="promote over a champion that cannot read the new columns (the floors decide)",
    )


def positive(text: str) -> float:
    """A number above zero (a --poll of 0 would poll the registry in a busy loop)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be above 0")
    return value


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value
