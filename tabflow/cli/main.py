"""The `tabflow` command's entry point: settings in place, one line for a user's mistake, a quick exit."""

from __future__ import annotations

import atexit
import logging
import os
import sys
from pathlib import Path

from tabflow.cli.parser import parser
from tabflow.errors import TabflowError
from tabflow.settings import PLACEHOLDER, placeholders, runtime_defaults, unwritable

log = logging.getLogger("tabflow")


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    problem = unwritable(Path(args.store))  # before anything writes there (Keras' and matplotlib's caches too)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    for key, value in runtime_defaults(Path(args.store), Path.cwd() / ".prefect").items():
        os.environ.setdefault(key, value)  # a value the user set wins
    _show_progress()
    unset = placeholders(dict(os.environ))
    if unset:
        print(
            f"error: {', '.join(unset)} still hold(s) the placeholder {PLACEHOLDER!r} from docker/.env.example; "
            "set real secrets (e.g. `openssl rand -hex 24`)",
            file=sys.stderr,
        )
        return 2
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


class _TrialBar(_CurrentStdout):
    """On a terminal, the trials as a live progress bar (trial n of N, best so far, elapsed and ETA, by tqdm);
    every other line printed above it."""

    bar = None

    def emit(self, record: logging.LogRecord) -> None:
        from tqdm import tqdm

        trials = getattr(record, "trials", None)
        if trials is None:
            if self.bar is not None:
                tqdm.write(self.format(record), file=sys.stdout)
            else:
                super().emit(record)
            return
        n, total, metric, best = trials
        if self.bar is None or n <= self.bar.n:  # a new study (or a resumed one): a new bar
            self.bar = tqdm(total=total, initial=n - 1, desc="trials", unit="trial", file=sys.stdout, leave=True)
        self.bar.set_postfix_str(f"best {metric} {best:.4f}" if best is not None else "", refresh=False)
        self.bar.update(n - self.bar.n)
        if n >= total:
            self.bar.close()
            self.bar = None


def _show_progress() -> None:
    """tabflow's own progress on stdout (trials as a progress bar on a terminal, plain lines elsewhere: CI, logs,
    Prefect workers); the libraries' INFO chatter (per-trial lines, registry notes) off."""
    if not log.handlers:  # main() may run more than once in a process
        handler = _TrialBar() if sys.stdout.isatty() else _CurrentStdout()
        handler.setFormatter(logging.Formatter("%(message)s"))
        log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    for name in ("mlflow", "prefect"):
        logging.getLogger(name).setLevel(logging.WARNING)
    logging.getLogger("tabflow.serving").setLevel(logging.ERROR)  # test rows beyond train's range are expected
    logging.getLogger("EventsWorker").setLevel(logging.ERROR)  # "still processing items" at a quick exit


def entry() -> None:
    """The console script: `main`, then a quick exit once every exit handler has run.

    Python's own teardown of TensorFlow, MLflow and Prefect modules takes seconds after the summary is printed;
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
