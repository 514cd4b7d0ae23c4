"""The `tabflow` command. Heavy imports (TensorFlow, MLflow, Prefect) wait until a command needs them."""

from __future__ import annotations

import argparse
import atexit
import logging
import os
import sys
from pathlib import Path

from tabflow.errors import TabflowError
from tabflow.local_server import LocalPrefectServer

log = logging.getLogger("tabflow")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    for key, value in runtime_defaults(Path(args.store), Path.cwd() / ".prefect").items():
        os.environ.setdefault(key, value)  # a value the user set wins
    _show_progress()
    try:
        return args.command(args)
    except TabflowError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: finished trials are kept; run the same command again to resume", file=sys.stderr)
        return 130


class _CurrentStdout(logging.StreamHandler):
    """Writes to whatever sys.stdout is at the time, so a caller that swaps it (pytest does) never leaves us a
    closed stream."""

    stream = property(lambda self: sys.stdout, lambda self, value: None)


def _show_progress() -> None:
    """tabflow's own progress on stdout; the libraries' INFO chatter (per-trial lines, registry notes) off."""
    if not log.handlers:  # main() may run more than once in a process
        handler = _CurrentStdout()
        handler.setFormatter(logging.Formatter("%(message)s"))
        log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    for name in ("mlflow", "prefect"):
        logging.getLogger(name).setLevel(logging.WARNING)
    logging.getLogger("tabflow.serving").setLevel(logging.ERROR)  # test rows beyond train's range are expected
    logging.getLogger("EventsWorker").setLevel(logging.ERROR)  # "still processing items" at a quick exit


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tabflow", description="Train, tune, evaluate and promote Keras models "
                                     "on tables, tracked in MLflow and orchestrated by Prefect.")
    parser.add_argument("--store", default="mlruns",
                        help="local tracking, registry and study store (default: ./mlruns)")
    sub = parser.add_subparsers(required=True, metavar="COMMAND")
    run = sub.add_parser("run", help="load, validate, clean, split, tune, train, evaluate and promote")
    _config_flags(run)
    run.set_defaults(command=_run)
    dep = sub.add_parser("deploy", help="schedule the training or scoring flow on a Prefect server's work pool")
    kinds = dep.add_subparsers(required=True, metavar="FLOW")
    for kind in ("train", "score"):
        each = kinds.add_parser(kind, help=f"deploy the {'training' if kind == 'train' else 'batch scoring'} flow")
        when = each.add_mutually_exclusive_group()
        when.add_argument("--cron", help='a cron schedule, e.g. "0 3 * * 1" (Mondays 03:00 UTC)')
        when.add_argument("--interval", type=float, metavar="SECONDS", help="a run every SECONDS")
        each.add_argument("--pool", default="tabflow", help="the process work pool (default: tabflow)")
        if kind == "train":
            _config_flags(each)
            each.add_argument("--max-late-minutes", type=float, default=60.0,
                              help="skip a scheduled run that starts this much later than its slot (default: 60)")
        else:
            each.add_argument("--model", required=True, metavar="NAME[@alias|/version]")
            each.add_argument("--input", required=True, help="PATH.csv or PATH.parquet, read at each run")
            each.add_argument("--output", required=True, help="PATH.csv or PATH.parquet, replaced at each run")
            each.add_argument("--keys", help="comma-separated input columns to copy to the output")
        each.set_defaults(command=_deploy, kind=kind)
    wrk = sub.add_parser("worker", help="run deployed flows: a Prefect process worker polling the pool")
    wrk.add_argument("--pool", default="tabflow")
    wrk.set_defaults(command=_worker)
    show = sub.add_parser("show", help="a registered version's aliases and lineage tags")
    show.add_argument("ref", metavar="NAME[@alias|/version]")
    show.set_defaults(command=_show)
    hist = sub.add_parser("history", help="every move of a model's champion alias")
    hist.add_argument("name")
    hist.set_defaults(command=_history)
    back = sub.add_parser("rollback", help="move champion back (default: to the version before the current one)")
    back.add_argument("name")
    back.add_argument("--to", metavar="VERSION")
    back.add_argument("--reason", required=True)
    back.set_defaults(command=_rollback)
    prom = sub.add_parser("promote", help="judge a version against the champion and promote it if it passes")
    prom.add_argument("name")
    prom.add_argument("version")
    prom.add_argument("--reason", required=True)
    prom.add_argument("--force", action="store_true", help="skip the gate (recorded as forced)")
    prom.set_defaults(command=_promote)
    pred = sub.add_parser("predict", help="score a CSV or Parquet file with a registered model (a Prefect flow)")
    pred.add_argument("--model", required=True, metavar="NAME[@alias|/version]", help="default alias: champion")
    pred.add_argument("--input", required=True, help="PATH.csv or PATH.parquet")
    pred.add_argument("--output", required=True, help="PATH.csv or PATH.parquet (replaced only when complete)")
    pred.add_argument("--keys", help="comma-separated input columns to copy to the output (default: every "
                      "column the model does not read, such as IDs)")
    pred.set_defaults(command=_predict)
    srv = sub.add_parser("serve", help="serve the model an alias points at over HTTP, following the alias")
    srv.add_argument("--model", required=True, help="registered model name")
    srv.add_argument("--alias", default="champion")
    srv.add_argument("--host", default="127.0.0.1")
    srv.add_argument("--port", type=int, default=8080)
    srv.add_argument("--workers", type=int, default=1)
    srv.add_argument("--poll", type=float, default=5.0, help="seconds between checks of the alias (default: 5)")
    srv.add_argument("--max-body-mb", type=float, default=10.0, help="larger request bodies get 413")
    srv.add_argument("--webhook-url", help="this server's /hooks/mlflow address as the MLflow server reaches it: "
                     "registers an MLflow webhook so alias moves arrive at once (needs TABFLOW_WEBHOOK_SECRET)")
    srv.set_defaults(command=_serve)
    ui = sub.add_parser("ui", help="start the MLflow UI on the local store (127.0.0.1)")
    ui.add_argument("--port", type=int, default=5000)
    ui.set_defaults(command=_ui)
    return parser


def _config_flags(parser: argparse.ArgumentParser) -> None:
    """The settings a run takes; every one also lives in the YAML (--config)."""
    parser.add_argument("--data", help="PATH.csv, PATH.parquet or builtin:breast_cancer")
    parser.add_argument("--target", help="the column to predict (default: target)")
    parser.add_argument("--model-name", help="registered model name (default: the data file's stem)")
    parser.add_argument("--config", help="a YAML file with any of the settings (flags win)")
    parser.add_argument("--trials", type=int, help="finished Optuna trials the study should hold (default: 20)")
    parser.add_argument("--timeout", type=float, help="stop starting trials after this many seconds")
    parser.add_argument("--seed", type=int, help="seed for the split, the sampler and Keras (default: 42)")
    parser.add_argument("--task", choices=("auto", "binary", "multiclass", "regression"),
                        help="what to predict (default: auto, from the target column)")
    parser.add_argument("--allow-schema-change", action="store_true", default=None,
                        help="promote over a champion that cannot read the new columns (the floors decide)")


def runtime_defaults(store: Path, prefect_home: Path) -> dict[str, str]:
    """Environment that keeps Prefect, MLflow and Keras state out of $HOME and their chatter off the terminal.

    It must be in place before they are imported (Prefect reads its settings at import).
    """
    prefect_home.mkdir(parents=True, exist_ok=True)  # Prefect fails on a home whose parent is missing
    return {
        "PREFECT_HOME": str(prefect_home),
        "PREFECT_LOGGING_LEVEL": "WARNING",
        "PREFECT_LOGGING_TO_API_ENABLED": "false",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_REGISTER_BLOCKS_ON_START": "false",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
        "KERAS_HOME": str(store.resolve() / ".keras"),
        "MPLCONFIGDIR": str(store.resolve() / ".matplotlib"),
        "MLFLOW_LOGGING_LEVEL": "WARNING",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        # oneDNN's reordered float sums make results differ between CPUs, and it prints a notice at import.
        "TF_ENABLE_ONEDNN_OPTS": "0",
        "GIT_PYTHON_REFRESH": "quiet",
    }


def _run(args: argparse.Namespace) -> int:
    from tabflow import data

    cfg = _config(args)
    columns = data.peek_columns(cfg.data.source)  # fail in milliseconds, not after the start-up costs
    if columns is not None:
        data.require_target(columns, cfg.data.target)
    server = _prefect_server()  # beside the TensorFlow import
    import tensorflow  # noqa: F401

    from flows.training import train
    from tabflow.report import summary

    _hide_user_errors_from_prefect()
    _open_tracking_store(Path(args.store))  # ~1 s of SQLAlchemy set-up, done while the server starts
    if server:
        server.wait_ready()
    print(summary(_call_flow(train, cfg, args.store)))
    return 0


class _UserErrorFilter(logging.Filter):
    """Prefect logs a failed task with its traceback; for a user's mistake the CLI's one line says it all."""

    names = ("TabflowError", "DataError", "ConfigError")

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], TabflowError):
            return False
        return not any(f"{name}(" in record.getMessage() or f"{name}:" in record.getMessage()
                       for name in self.names)


def _hide_user_errors_from_prefect() -> None:
    for handler in logging.root.handlers:  # Prefect's console handler sits on the root logger
        handler.addFilter(_UserErrorFilter())


def _open_tracking_store(store: Path) -> None:
    from mlflow import MlflowClient

    from tabflow.tracking import configure

    configure(store)
    MlflowClient().search_experiments(max_results=1)  # MLflow caches the store, engine and migrations check


def _call_flow(flow, cfg, store: str, kwargs: dict | None = None):
    # Heartbeats stay on: with PREFECT_FLOWS_HEARTBEAT_FREQUENCY unset a flow run of six tasks took ~1 s longer
    # here (Prefect 3.9.1; benchmarks/profile.py), the opposite of what turning them off once saved.
    if kwargs is not None:
        return flow(**kwargs, store=str(Path(store).resolve()))
    return flow(cfg, store=str(Path(store).resolve()))


def _registry(args: argparse.Namespace):
    from mlflow import MlflowClient

    from tabflow.tracking import configure

    store = Path(args.store)
    uri = configure(store)
    if uri.startswith("sqlite:") and not (store / "mlflow.db").exists():
        raise TabflowError(f"no tracking store in {str(store)!r} yet; run `tabflow run` first or pass --store")
    return MlflowClient()


def _show(args: argparse.Namespace) -> int:
    from tabflow.manage import show

    print(show(_registry(args), args.ref))
    return 0


def _history(args: argparse.Namespace) -> int:
    from tabflow.manage import history_table

    print(history_table(_registry(args), args.name))
    return 0


def _rollback(args: argparse.Namespace) -> int:
    from tabflow.registry import rollback

    move = rollback(_registry(args), args.name, args.reason, args.to)
    print(f"champion of {args.name}: version {move['from']} -> {move['to']} (rollback recorded: {args.reason})")
    return 0


def _promote(args: argparse.Namespace) -> int:
    from tabflow.manage import promote_version

    client = _registry(args)
    logging.getLogger("tabflow.serving").setLevel(logging.ERROR)
    decision = promote_version(client, args.name, args.version, args.reason, args.force)
    print(f"{decision.verdict} version {args.version} of {args.name}: {decision.reason}")
    return 0 if decision.verdict == "PROMOTE" else 1


def _predict(args: argparse.Namespace) -> int:
    from tabflow.batch import score_file  # noqa: F401  fail on a missing dependency before the server starts

    _registry(args)
    server = _prefect_server()
    from flows.scoring import score

    _hide_user_errors_from_prefect()
    if server:
        server.wait_ready()
    keys = [k.strip() for k in args.keys.split(",")] if args.keys else None
    scored = _call_flow(score, None, args.store,
                        kwargs={"model": args.model, "source": args.input, "output": args.output, "keys": keys})
    print(f"scored {scored.rows} rows of {args.input} with {scored.model} version {scored.version} in "
          f"{scored.seconds:.1f} s -> {scored.output}")
    return 0


def _config(args: argparse.Namespace):
    from tabflow.config import load_config

    return load_config(args.config, data=args.data, target=args.target, model_name=args.model_name,
                       trials=args.trials, timeout=args.timeout, seed=args.seed, task=args.task,
                       allow_schema_change=args.allow_schema_change)


def _deploy(args: argparse.Namespace) -> int:
    _require_prefect_server("tabflow deploy")
    schedule = {"cron": args.cron} if args.cron else {"interval": args.interval} if args.interval else {}
    if args.kind == "train":
        cfg = _config(args)  # validated here, not at 03:00 on the worker
        from flows.deployments import deploy_training

        done = deploy_training(cfg, args.store, schedule, args.pool, args.max_late_minutes)
    else:
        from flows.deployments import deploy_scoring

        keys = [k.strip() for k in args.keys.split(",")] if args.keys else None
        done = deploy_scoring(args.model, args.input, args.output, keys, args.store, schedule, args.pool)
    print(f"deployed {done.name} on pool {args.pool!r}: {done.schedule}; run it now with: "
          f"prefect deployment run {done.name!r}")
    if not done.workers:
        print(f"no worker polls pool {args.pool!r} yet: runs wait (then show as Late) until one does; start one "
              f"with: tabflow worker --pool {args.pool}")
    return 0


def _worker(args: argparse.Namespace) -> int:
    """`prefect worker start` for a process pool, with tabflow's environment (quiet libraries, project state)."""
    _require_prefect_server("tabflow worker")
    print(f"worker polling pool {args.pool!r} at {os.environ['PREFECT_API_URL']}; Ctrl+C stops it", flush=True)
    os.execv(sys.executable, [sys.executable, "-m", "prefect", "worker", "start", "--pool", args.pool, "--type",
                              "process"])
    return 0  # not reached


def _require_prefect_server(command: str) -> None:
    if not os.environ.get("PREFECT_API_URL"):
        raise TabflowError(f"{command} needs a Prefect server that outlives this command: set PREFECT_API_URL "
                           "(start one with `prefect server start`, see the README's server profile)")


def _prefect_server() -> LocalPrefectServer | None:
    """A temporary Prefect server when none is given, started before Prefect is imported (it reads settings
    then) so that it comes up beside the other imports."""
    if os.environ.get("PREFECT_API_URL"):
        return None
    server = LocalPrefectServer(Path(os.environ["PREFECT_HOME"]))
    os.environ["PREFECT_API_URL"] = server.api_url
    return server


def _serve(args: argparse.Namespace) -> int:
    from mlflow import MlflowClient

    from tabflow.registry import alias_version
    from tabflow.server import serve

    _registry(args)
    if alias_version(MlflowClient(), args.model, args.alias) is None:
        raise TabflowError(f"no version of {args.model!r} holds @{args.alias}; train one with `tabflow run` or "
                           "check --model and --alias")
    if args.webhook_url:
        from tabflow.server import WEBHOOK_SECRET, register_webhook
        from tabflow.tracking import is_local

        if is_local(MlflowClient().tracking_uri):
            raise TabflowError("--webhook-url needs an MLflow tracking server (MLFLOW_TRACKING_URI=http...): a local "
                               "store sends no webhooks; drop the flag, the alias is polled every --poll seconds")
        if len(os.environ.get(WEBHOOK_SECRET, "")) < 16:
            raise TabflowError(f"--webhook-url needs {WEBHOOK_SECRET} set to a secret of 16+ characters: it signs "
                               "each delivery")
        register_webhook(args.webhook_url, os.environ[WEBHOOK_SECRET])
    print(f"serving {args.model}@{args.alias} on http://{args.host}:{args.port} (POST /invocations); Ctrl+C stops",
          flush=True)
    serve(str(Path(args.store).resolve()), args.model, args.alias, args.host, args.port, args.workers, args.poll,
          int(args.max_body_mb * 2**20))
    return 0


def _ui(args: argparse.Namespace) -> int:
    from tabflow.tracking import is_local, tracking_uri

    store = Path(args.store)
    uri = tracking_uri(store)
    if not is_local(uri):
        print(f"MLFLOW_TRACKING_URI points at a tracking server: open {uri} in a browser")
        return 0
    if uri.startswith("sqlite:") and not (store / "mlflow.db").exists():
        raise TabflowError(f"no tracking store in {str(store)!r} yet; run `tabflow run` first or pass --store")
    print(f"MLflow UI on http://127.0.0.1:{args.port} (tracking store {uri}); Ctrl+C stops it", flush=True)
    cmd = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", uri, "--artifacts-destination",
           str(store.resolve() / "artifacts"), "--host", "127.0.0.1", "--port", str(args.port), "--workers", "1"]
    os.execv(sys.executable, cmd)
    return 0  # not reached


def entry() -> None:
    """The console script: `main`, then a quick exit once every exit handler has run.

    Python's own teardown of TensorFlow, MLflow and Prefect modules took ~2 s after the summary was printed here;
    nothing is left to save by then (runs, registry and study are committed, Prefect's exit handlers have sent
    their events, the local server is stopped), so the last exit handler flushes and ends the process.
    """
    code = [1]  # an exception escaping main means failure
    atexit.register(_quick_exit, code)  # registered first, so it runs last
    try:
        code[0] = main()
    except SystemExit as exc:  # argparse: 0 for --help, 2 for a bad flag
        code[0] = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
        raise
    raise SystemExit(code[0])


def _quick_exit(code: list[int]) -> None:
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code[0])


if __name__ == "__main__":
    entry()
