"""What each `tabflow` command does. Heavy imports wait until the command needs them."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from tabflow import settings
from tabflow.cli.local_prefect import LocalPrefectServer
from tabflow.errors import TabflowError


def run(args: argparse.Namespace) -> int:
    from tabflow.data.read import peek_columns
    from tabflow.data.validate import require_target

    cfg = _config(args)
    columns = peek_columns(cfg.data.source)  # fail in milliseconds, not after the start-up costs
    if columns is not None:
        require_target(columns, cfg.data.target)
    server = _prefect_server()  # beside the TensorFlow import
    import tensorflow  # noqa: F401

    from flows.training import train
    from tabflow.cli.report import summary

    _hide_user_errors_from_prefect()
    _open_tracking_store(Path(args.store))  # SQLAlchemy's set-up, done while the server starts
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
        return not any(f"{name}(" in record.getMessage() or f"{name}:" in record.getMessage() for name in self.names)


def _hide_user_errors_from_prefect() -> None:
    for handler in logging.root.handlers:  # Prefect's console handler sits on the root logger
        handler.addFilter(_UserErrorFilter())


def _open_tracking_store(store: Path) -> None:
    from mlflow import MlflowClient

    from tabflow.tracking import configure

    configure(store)
    MlflowClient().search_experiments(max_results=1)  # MLflow caches the store, engine and migrations check


def _call_flow(flow, cfg, store: str, kwargs: dict | None = None):
    # Heartbeats stay on: turning them off made a flow run slower here, not faster (benchmarks/profile.py).
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


def show(args: argparse.Namespace) -> int:
    from tabflow.promotion.manual import card, show

    print(card(_registry(args), args.ref) if args.card else show(_registry(args), args.ref))
    return 0


def history(args: argparse.Namespace) -> int:
    from tabflow.promotion.manual import history_table

    print(history_table(_registry(args), args.name))
    return 0


def rollback(args: argparse.Namespace) -> int:
    from tabflow.promotion.registry import rollback

    move = rollback(_registry(args), args.name, args.reason, args.to)
    print(f"champion of {args.name}: version {move['from']} -> {move['to']} (rollback recorded: {args.reason})")
    return 0


def promote(args: argparse.Namespace) -> int:
    from tabflow.promotion.manual import promote_version

    client = _registry(args)
    logging.getLogger("tabflow.serving").setLevel(logging.ERROR)
    decision = promote_version(client, args.name, args.version, args.reason, args.force)
    print(f"{decision.verdict} version {args.version} of {args.name}: {decision.reason}")
    return 0 if decision.verdict == "PROMOTE" else 1


def predict(args: argparse.Namespace) -> int:
    from tabflow.serving.batch import score_file  # noqa: F401  fail on a missing dependency before the server starts

    _registry(args)
    server = _prefect_server()
    from flows.scoring import score

    _hide_user_errors_from_prefect()
    if server:
        server.wait_ready()
    keys = [k.strip() for k in args.keys.split(",")] if args.keys else None
    scored = _call_flow(
        score, None, args.store, kwargs={"model": args.model, "source": args.input, "output": args.output, "keys": keys}
    )
    print(
        f"scored {scored.rows} rows of {args.input} with {scored.model} version {scored.version} in "
        f"{scored.seconds:.1f} s -> {scored.output}"
    )
    return 0


def _config(args: argparse.Namespace):
    from tabflow.config import load_config

    return load_config(
        args.config,
        data=args.data,
        target=args.target,
        model_name=args.model_name,
        trials=args.trials,
        timeout=args.timeout,
        seed=args.seed,
        task=args.task,
        allow_schema_change=args.allow_schema_change,
    )


def deploy(args: argparse.Namespace) -> int:
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
    print(
        f"deployed {done.name} on pool {args.pool!r}: {done.schedule}; run it now with: "
        f"prefect deployment run {done.name!r}"
    )
    if not done.workers:
        print(
            f"no worker polls pool {args.pool!r} yet: runs wait (then show as Late) until one does; start one "
            f"with: tabflow worker --pool {args.pool}"
        )
    return 0


def worker(args: argparse.Namespace) -> int:
    """`prefect worker start` for a process pool, with tabflow's environment (quiet libraries, project state)."""
    _require_prefect_server("tabflow worker")
    print(f"worker polling pool {args.pool!r} at {os.environ[settings.PREFECT_API_URL]}; Ctrl+C stops it", flush=True)
    os.execv(
        sys.executable, [sys.executable, "-m", "prefect", "worker", "start", "--pool", args.pool, "--type", "process"]
    )
    return 0  # not reached


def _require_prefect_server(command: str) -> None:
    if not os.environ.get(settings.PREFECT_API_URL):
        raise TabflowError(
            f"{command} needs a Prefect server that outlives this command: set PREFECT_API_URL "
            "(start one with `prefect server start`, see the README's server profile)"
        )


def _prefect_server() -> LocalPrefectServer | None:
    """A temporary Prefect server when none is given, started before Prefect is imported (it reads settings
    then) so that it comes up beside the other imports."""
    if os.environ.get(settings.PREFECT_API_URL):
        return None
    server = LocalPrefectServer(Path(os.environ[settings.PREFECT_HOME]))
    os.environ[settings.PREFECT_API_URL] = server.api_url
    return server


def serve(args: argparse.Namespace) -> int:
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    from tabflow.serving.http import LOOPBACK, ServeSettings, serve
    from tabflow.tracking import alias_version

    _registry(args)
    try:
        found = alias_version(MlflowClient(), args.model, args.alias)
    except MlflowException as exc:
        raise TabflowError(
            f"cannot read @{args.alias} of {args.model!r} from the registry ({exc.error_code}); check "
            "MLFLOW_TRACKING_URI, that its server runs, and its credentials"
        ) from None
    if found is None:
        raise TabflowError(
            f"no version of {args.model!r} holds @{args.alias}; train one with `tabflow run` or "
            "check --model and --alias"
        )
    if args.webhook_url:
        from tabflow.serving.webhooks import register_webhook
        from tabflow.tracking import is_local

        if is_local(MlflowClient().tracking_uri):
            raise TabflowError(
                "--webhook-url needs an MLflow tracking server (MLFLOW_TRACKING_URI=http...): a local "
                "store sends no webhooks; drop the flag, the alias is polled every --poll seconds"
            )
        if len(os.environ.get(settings.WEBHOOK_SECRET, "")) < 16:
            raise TabflowError(
                f"--webhook-url needs {settings.WEBHOOK_SECRET} set to a secret of 16+ characters: it signs "
                "each delivery"
            )
        register_webhook(args.webhook_url, os.environ[settings.WEBHOOK_SECRET])
    loopback = args.host in LOOPBACK
    hosts = args.allowed_hosts.split(",") if args.allowed_hosts else (LOOPBACK if loopback else ("*",))
    cfg = ServeSettings(
        model=args.model,
        alias=args.alias,
        store=str(Path(args.store).resolve()),
        poll_s=args.poll,
        max_bytes=int(args.max_body_mb * 2**20),
        max_rows=args.max_rows,
        max_cells=args.max_cells,
        max_cell_chars=args.max_cell_chars,
        max_concurrent=args.max_concurrent,
        deadline_s=args.deadline_s,
        auth_token_file=str(Path(args.auth_token_file).resolve()) if args.auth_token_file else None,
        allowed_hosts=tuple(h.strip() for h in hosts if h.strip()),
    )
    try:
        token = cfg.token()
    except OSError as exc:
        raise TabflowError(f"--auth-token-file {args.auth_token_file!r} cannot be read ({exc.strerror})") from None
    if cfg.auth_token_file and token is None:
        raise TabflowError(f"--auth-token-file {args.auth_token_file!r} is empty; write the token into it")
    if token is not None and len(token) < 16:
        raise TabflowError("the serving token must be at least 16 characters (e.g. `openssl rand -hex 32`)")
    if not loopback and token is None:
        print(
            f"warning: serving on {args.host} with no token: anyone who reaches it can score and read /metadata; "
            "give --auth-token-file",
            file=sys.stderr,
            flush=True,
        )
    print(
        f"serving {args.model}@{args.alias} on http://{args.host}:{args.port} (POST /invocations); Ctrl+C stops",
        flush=True,
    )
    serve(cfg, args.host, args.port, args.workers)
    return 0


def ui(args: argparse.Namespace) -> int:
    from tabflow.tracking import is_local, tracking_uri

    if args.optuna:
        return _optuna_dashboard(args)
    store = Path(args.store)
    uri = tracking_uri(store)
    if not is_local(uri):
        print(f"MLFLOW_TRACKING_URI points at a tracking server: open {uri} in a browser")
        _print_experiment_links(uri, args.port)
        return 0
    if uri.startswith("sqlite:") and not (store / "mlflow.db").exists():
        raise TabflowError(f"no tracking store in {str(store)!r} yet; run `tabflow run` first or pass --store")
    print(f"MLflow UI on http://127.0.0.1:{args.port} (tracking store {uri}); Ctrl+C stops it", flush=True)
    _print_experiment_links(uri, args.port)
    cmd = [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--backend-store-uri",
        uri,
        "--artifacts-destination",
        str(store.resolve() / "artifacts"),
        "--host",
        "127.0.0.1",
        "--port",
        str(args.port),
        "--workers",
        "1",
    ]
    os.execv(sys.executable, cmd)
    return 0  # not reached


def _print_experiment_links(uri: str, port: int) -> None:
    """Each tabflow experiment's training runs, as links that open MLflow's model-training view."""
    from mlflow import MlflowClient

    from tabflow.tracking import EXPERIMENT_KIND, ui_link

    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    for experiment in client.search_experiments(filter_string=f"tags.`{EXPERIMENT_KIND}` = 'custom_model_development'"):
        print(f"  {experiment.name}: {ui_link(uri, experiment.experiment_id, port=port)}", flush=True)


def _optuna_dashboard(args: argparse.Namespace) -> int:
    """optuna-dashboard on the study storage: the server profile's database, else a model's journal."""
    import shutil

    dashboard = shutil.which("optuna-dashboard", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    if dashboard is None:
        raise TabflowError("optuna-dashboard is not installed: pip install optuna-dashboard (or .[dev])")
    storage = os.environ.get(settings.OPTUNA_STORAGE)
    if not storage:
        journals = sorted((Path(args.store) / "optuna").glob("*.journal"))
        if args.model:
            journals = [j for j in journals if j.stem == args.model]
        if not journals:
            raise TabflowError(
                f"no study journal in {str(Path(args.store) / 'optuna')!r}"
                + (f" for model {args.model!r}" if args.model else "")
                + "; run `tabflow run` first or pass --store"
            )
        if len(journals) > 1:
            names = ", ".join(j.stem for j in journals)
            raise TabflowError(f"the store holds several models' studies ({names}); pick one with --model")
        storage = str(journals[0])
    port = args.port if args.port != settings.UI_PORT else 8080
    print(f"optuna-dashboard on http://127.0.0.1:{port}; Ctrl+C stops it", flush=True)
    os.execv(dashboard, [dashboard, storage, "--host", "127.0.0.1", "--port", str(port)])
    return 0  # not reached
