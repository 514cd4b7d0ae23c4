"""A temporary Prefect API server for one `tabflow run`, started before Prefect is even imported.

Prefect starts the same server itself at the first flow call, but importing Prefect's server code in this
process holds the GIL and the import lock against the TensorFlow import, so the two start-ups queue up
(benchmarks/RESULTS.md, section 1). Spawning the process first lets both run on their own cores.
"""

from __future__ import annotations

import atexit
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tabflow.errors import TabflowError


class LocalPrefectServer:
    def __init__(self, home: Path):
        self.port = free_port()
        self.api_url = f"http://127.0.0.1:{self.port}/api"
        home.mkdir(parents=True, exist_ok=True)  # a PREFECT_HOME the user named may not exist yet
        self.log = home / "server.log"
        env = {
            **os.environ,
            "PREFECT_UI_ENABLED": "0",
            "PREFECT__SERVER_EPHEMERAL": "1",
            "PREFECT__SERVER_FINAL": "1",
        }  # what Prefect's own temporary server sets
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "--factory",
                    "prefect.server.api.server:create_app",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--log-level",
                    "error",
                    "--lifespan",
                    "on",
                ],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )
        # Registered before Prefect is imported, so it runs after Prefect's own exit handlers, which still
        # send the run's last events to this server.
        atexit.register(self.stop)

    def wait_ready(self, timeout_s: float = 120.0) -> None:
        if wait_until_healthy(f"{self.api_url}/health", self.process, timeout_s):
            return
        self.stop()
        raise TabflowError(
            f"the local Prefect server did not start (see {self.log}); set PREFECT_API_URL to a "
            "running Prefect server, or remove .prefect/ to start from a fresh database"
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _die_with_parent() -> None:
    """A killed `tabflow run` (SIGKILL skips every exit handler) must not leave its server behind."""
    import ctypes
    import signal

    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


def wait_until_healthy(url: str, process: subprocess.Popen, timeout_s: float) -> bool:
    """Poll a server's health URL until it answers 200; False if the process exits or time runs out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return True
        except OSError:
            time.sleep(0.1)
    return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
