"""The servability check: load a registered version the way a deployment does, in a fresh process, and score
the logged input example and a sample of test rows.

The process starts early (`Checker.start`, while the final model trains) so its imports overlap other work;
`check` then sends it one request and compares what it served with what the flow computed.
`python -m tabflow.serving.servability` is the child: it reads one JSON request per line on stdin and answers on
stdout.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd

from tabflow import settings
from tabflow.errors import first_line


class Checker:
    """A process of its own that loads versions as a deployment would; `timeout_s` bounds each check (a child
    stuck in an artifact download's retries would otherwise hold the training flow at promotion)."""

    def __init__(self, command: list[str] | None = None, timeout_s: float = settings.SERVECHECK_S) -> None:
        self.proc: subprocess.Popen | None = None
        self.command = command or [sys.executable, "-m", "tabflow.serving.servability"]
        self.timeout_s = timeout_s

    def start(self) -> None:
        if self.proc is None:
            self.proc = subprocess.Popen(
                self.command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
                env={**os.environ, "MLFLOW_TRACKING_URI": _tracking_uri()},
            )
            self.lines: queue.Queue[str | None] = queue.Queue()
            threading.Thread(target=_lines, args=(self.proc.stdout, self.lines), daemon=True).start()

    def check(self, model_uri: str, rows: pd.DataFrame, expected: np.ndarray, task: str, classes: tuple) -> str | None:
        """None when the version serves the rows as `expected` (the flow's network output); else why not."""
        from tabflow.serving.contract import network_output

        self.start()
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "rows.parquet"
            rows.to_parquet(path)
            proc = self.proc
            if proc is None or proc.stdin is None or proc.stdout is None:
                return "the checking process did not start"
            request = uuid.uuid4().hex
            try:
                proc.stdin.write(json.dumps({"id": request, "model_uri": model_uri, "rows": str(path)}) + "\n")
                proc.stdin.flush()
                answer = self._answer(proc, request)
            except OSError as exc:
                return f"the checking process failed ({exc})"
            if answer is None:
                self.close()  # a stuck child is not asked again: the next check starts a new one
                return f"the check did not answer within {self.timeout_s:.0f} s"
            if "error" in answer:
                return answer["error"]
            served = network_output(pd.read_parquet(answer["predictions"]), task, classes)
        if served.shape != expected.shape or not np.allclose(served, expected, rtol=1e-5, atol=1e-6):
            worst = float(np.max(np.abs(served - expected))) if served.shape == expected.shape else float("nan")
            return f"its predictions differ from the flow's on {len(rows)} test rows (largest difference {worst:.3g})"
        return None

    def _answer(self, proc: subprocess.Popen, request: str) -> dict | None:
        """The child's answer to `request`, skipping any other line it printed; None past the deadline."""
        deadline = time.monotonic() + self.timeout_s
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                return {"error": "the checking process died"}
            try:
                answer = json.loads(line)
            except ValueError:
                continue  # a library's stray output, not an answer
            if isinstance(answer, dict) and answer.get("id") == request:
                return answer
        return None

    def close(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


def _lines(stream, into: queue.Queue) -> None:
    """The child's output, line by line, then None: read on a thread, so that waiting for it can time out."""
    for line in stream:
        into.put(line)
    into.put(None)


def sample(n: int, seed: int) -> np.ndarray:
    """Which test rows the check scores: all of a small test set, a seeded sample of a large one."""
    if n <= settings.SAMPLE_ROWS:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, settings.SAMPLE_ROWS, replace=False))


def _tracking_uri() -> str:
    import mlflow

    return mlflow.get_tracking_uri()


def _serve_requests() -> None:
    import tensorflow  # noqa: F401  imported before any request: that is the point of starting early

    from tabflow.serving import integrity

    answers = os.fdopen(os.dup(1), "w")  # answers only here: whatever a library prints goes to stderr
    os.dup2(2, 1)
    for line in sys.stdin:
        request = json.loads(line)
        try:
            name, _, version = request["model_uri"].removeprefix("models:/").rpartition("/")
            with tempfile.TemporaryDirectory() as tmp:  # its files checked before any of them runs
                model = integrity.load(name, version, tmp)
                example = model.input_example
                if example is not None:
                    model.predict(example)  # the logged example must score too
                out = Path(request["rows"]).with_suffix(".out.parquet")
                model.predict(pd.read_parquet(request["rows"])).to_parquet(out)
            answer = {"predictions": str(out)}
        except Exception as exc:  # the answer is the failure, for the parent to report
            answer = {"error": f"loading or scoring it failed: {first_line(exc)}"}
        print(json.dumps({"id": request.get("id"), **answer}), file=answers, flush=True)


if __name__ == "__main__":
    _serve_requests()
