"""Real servers for system tests: PostgreSQL, MLflow, Prefect, a Prefect worker and Dask, all on 127.0.0.1.

Every starter returns a context manager that, on entry, picks a free port, starts the program with its log in
`workdir` and waits until it answers. With `wait=False` it only starts: call `.wait()` later, so several servers
boot at once. A program that exits or never gets healthy raises ServerError quoting the last lines of its log.
On exit, also when the body raised, each started process group gets SIGTERM, then SIGKILL after a grace period.
"""

from __future__ import annotations

import atexit
import configparser
import contextlib
import glob
import json
import os
import pwd
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

HOST = "127.0.0.1"
TAIL_LINES = 20
_VENV_BIN = Path(sys.executable).parent  # not resolved: the venv's bin, where mlflow finds uvicorn
_HTTP = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never route 127.0.0.1 via a proxy
_handed_out: set[int] = set()
_live: set[Service] = set()


class ServerError(RuntimeError):
    """A server exited or never answered; the message ends with the tail of its log."""


@dataclass(frozen=True)
class Command:
    argv: list[str]
    log: Path
    env: dict[str, str]
    cwd: Path | None = None


def free_port() -> int:
    """A port free on 127.0.0.1, below the usual ephemeral range so outgoing connections do not grab it."""
    for _ in range(200):
        port = random.randrange(20000, 32000)
        if port not in _handed_out and _bindable(port):
            _handed_out.add(port)
            return port
    raise ServerError("no free port found on 127.0.0.1 between 20000 and 32000")


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers themselves do
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """os.environ without a tracking, registry or API URL the caller did not ask for (mlflow.set_registry_uri in
    an earlier test exports MLFLOW_REGISTRY_URI: a child would register into that test's store), with the venv
    first on PATH."""
    unasked = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "PREFECT_API_URL")
    env = {k: v for k, v in os.environ.items() if k not in unasked}
    no_proxy = ",".join(filter(None, [env.get("NO_PROXY"), HOST, "localhost"]))
    env.update(
        PATH=f"{_VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
        PYTHONUNBUFFERED="1",
        NO_PROXY=no_proxy,
        no_proxy=no_proxy,
        TF_CPP_MIN_LOG_LEVEL="2",
        MLFLOW_DISABLE_TELEMETRY="true",
    )
    env.update(extra or {})
    return env


def alive(pid: int) -> bool:
    """Whether a process runs (zombies, which nothing may reap in a container, count as gone)."""
    return _proc_state(pid) not in (None, "Z", "X")


def _proc_state(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rpartition(")")[2].split()[0]


def group_members(pgid: int) -> set[int]:
    """Running processes of a process group, found through /proc."""
    members = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rpartition(")")[2].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
                members.add(int(entry))
    return members


def log_tail(path: Path, lines: int = TAIL_LINES, start: int = 0) -> str:
    """The last lines of a log, written after byte offset `start`."""
    try:
        with path.open("rb") as f:
            f.seek(max(start, f.seek(0, os.SEEK_END) - 65536))
            text = f.read().decode("utf-8", "replace")
    except OSError as exc:
        return f"(no log: {exc})"
    return "\n".join(text.splitlines()[-lines:])


def http_status(url: str, auth: tuple[str, str] | None = None, timeout: float = 3.0) -> int:
    """The HTTP status of a GET (0 when nothing answers)."""
    request = urllib.request.Request(url)
    if auth:
        request.add_header("Authorization", "Basic " + _b64(f"{auth[0]}:{auth[1]}"))
    try:
        with _HTTP.open(request, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (OSError, ValueError):
        return 0


def _b64(text: str) -> str:
    import base64

    return base64.b64encode(text.encode()).decode()


class Service:
    """Processes started together (one port, if any); each in its own session, so its group can be killed."""

    uses_port = True

    def __init__(
        self,
        name: str,
        workdir: Path,
        *,
        port: int | None = None,
        wait: bool = True,
        timeout: float = 120.0,
        grace: float = 5.0,
    ):
        self.name, self.workdir, self.timeout, self.grace = name, Path(workdir).resolve(), timeout, grace
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = port
        self._fixed_port, self._wait_on_enter = port is not None, wait
        self.procs: list[subprocess.Popen] = []
        self._commands_run: list[Command] = []
        self._offsets: list[int] = []  # where this attempt's output starts in each log
        self.logs: list[Path] = []  # every log written, kept after stop
        self._relaunches = 0

    # hooks for subclasses
    def commands(self, port: int) -> list[Command]:
        raise NotImplementedError

    def healthy(self) -> bool:
        raise NotImplementedError

    def begin_stop(self) -> None:
        """Ask politely: SIGTERM to every group."""
        self._signal_groups(signal.SIGTERM)

    def cleanup(self) -> None:
        """Remove what the service created outside workdir."""

    # life cycle
    def start(self) -> Service:
        if self.uses_port and not self._fixed_port:
            self.port = free_port()
        _live.add(self)
        try:
            for command in self.commands(self.port or 0):
                self._spawn(command)
        except BaseException:
            self.stop()
            raise
        return self

    def _spawn(self, command: Command) -> None:
        with command.log.open("ab") as log:
            self._offsets.append(log.tell())
            log.write(f"$ {' '.join(command.argv)}\n".encode())
            log.flush()
            proc = subprocess.Popen(
                command.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=command.env,
                cwd=command.cwd,
                start_new_session=True,
            )
        self.procs.append(proc)
        self._commands_run.append(command)
        if command.log not in self.logs:
            self.logs.append(command.log)

    def wait(self, timeout: float | None = None) -> Service:
        """Block until healthy; raise ServerError (with the log tail) if a process exits or time runs out."""
        deadline = time.monotonic() + (timeout or self.timeout)
        last_error: Exception | None = None
        while True:
            for proc, command, start in zip(self.procs, self._commands_run, self._offsets, strict=True):
                if proc.poll() is not None:
                    tail = log_tail(command.log, start=start)
                    if self._port_was_taken(tail):
                        return self._relaunch().wait(max(1.0, deadline - time.monotonic()))
                    raise ServerError(
                        f"{self.name} exited with code {proc.returncode} before it was healthy "
                        f"(log {command.log}):\n{tail}"
                    )
            try:
                if self.healthy():
                    return self
            except Exception as exc:  # not up yet: keep polling, but remember why for the timeout message
                last_error = exc
            if time.monotonic() > deadline:
                tails = "\n".join(
                    f"--- {c.log}:\n{log_tail(c.log, start=o)}"
                    for c, o in zip(self._commands_run, self._offsets, strict=True)
                )
                raise ServerError(
                    f"{self.name} not healthy after {timeout or self.timeout:.0f} s "
                    f"(last check: {last_error!r}):\n{tails}"
                )
            time.sleep(0.25)

    def _port_was_taken(self, tail: str) -> bool:
        """Another program bound our port between picking and binding: worth a new port, twice at most."""
        return (
            not self._fixed_port
            and self._relaunches < 2
            and any(s in tail.lower() for s in ("address already in use", "is already in use"))
        )

    def _relaunch(self) -> Service:
        self.stop()
        self._relaunches += 1
        return self.start()

    def stop(self) -> None:
        """SIGTERM (or the service's own polite request), SIGKILL after the grace period; then reap."""
        if self.procs:
            pgids = [p.pid for p in self.procs]
            with contextlib.suppress(OSError):
                self.begin_stop()
            if not self._groups_gone(pgids, self.grace):
                self._signal_groups(signal.SIGKILL)
                self._groups_gone(pgids, 10.0)
            self.procs, self._commands_run, self._offsets = [], [], []
        self.cleanup()
        _live.discard(self)

    def _signal_groups(self, sig: int) -> None:
        for proc in self.procs:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, sig)

    def _groups_gone(self, pgids: list[int], within: float) -> bool:
        deadline = time.monotonic() + within
        while True:
            for proc in self.procs:
                proc.poll()  # reap the leaders, else they linger as zombies of ours
            if not any(group_members(g) for g in pgids):
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)

    def restart(self) -> Service:
        """Stop, then start again on the same port (clients keep their URL), and wait until healthy."""
        self.stop()
        self._fixed_port = True
        return self.start().wait()

    def pids(self) -> set[int]:
        """Every running process the service started, children included."""
        return set().union(*(group_members(p.pid) for p in self.procs)) if self.procs else set()

    def __enter__(self):
        self.start()
        try:
            if self._wait_on_enter:
                self.wait()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()


@atexit.register
def _stop_leftovers() -> None:
    for service in list(_live):
        service.stop()


class Server(Service):
    """An HTTP server; `url` is its base URL, healthy when GET url + health_path answers 200."""

    def __init__(
        self,
        name: str,
        workdir: Path,
        argv: list[str],
        env: dict[str, str],
        *,
        url_path: str = "",
        health_path: str,
        username: str | None = None,
        password: str | None = None,
        **kwargs,
    ):
        super().__init__(name, workdir, **kwargs)
        self._argv, self._env, self._url_path, self._health_path = argv, env, url_path, health_path
        self.username, self.password = username, password

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}{self._url_path}"

    def commands(self, port: int) -> list[Command]:
        argv = [str(port) if a == "{port}" else a for a in self._argv]
        return [Command(argv, self.workdir / f"{self.name}.log", self._env)]

    def healthy(self) -> bool:
        status = http_status(f"http://{HOST}:{self.port}{self._health_path}")
        if status != 200:
            raise ConnectionError(f"GET {self._health_path}: {status or 'no answer'}")
        return True


def mlflow_server(
    backend_url: str,
    artifacts_dir: Path,
    workdir: Path,
    *,
    auth: bool = False,
    auth_db_url: str | None = None,
    env: dict[str, str] | None = None,
    wait: bool = True,
    timeout: float = 180.0,
) -> Server:
    """`mlflow server` with one worker; with auth, the basic-auth app and an admin (`username`, `password`).

    The auth users live in `auth_db_url` (default: a SQLite file in workdir). MLflow's job runner (seven huey
    processes, state in /dev/shm) stays off unless env sets MLFLOW_SERVER_ENABLE_JOB_EXECUTION=true.
    """
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    argv = [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--artifacts-destination",
        str(Path(artifacts_dir).resolve()),
        "--host",
        HOST,
        "--port",
        "{port}",
        "--workers",
        "1",
    ]
    # The database URL (its password included) in the environment, as compose passes it: a command line is
    # visible to every local user and is echoed into the server's log.
    env = child_env(
        {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", "MLFLOW_BACKEND_STORE_URI": backend_url, **(env or {})}
    )
    username = password = None
    if auth:
        username, password = "admin", secrets.token_hex(12)
        ini = configparser.ConfigParser()
        ini["mlflow"] = {
            "default_permission": "READ",
            "admin_username": username,
            "admin_password": password,
            "database_uri": auth_db_url or f"sqlite:///{workdir / 'basic_auth.db'}",
            "authorization_function": "mlflow.server.auth:authenticate_request_basic_auth",
        }
        with (workdir / "basic_auth.ini").open("w") as f:
            ini.write(f)
        argv += ["--app-name", "basic-auth"]
        env.update(
            MLFLOW_AUTH_CONFIG_PATH=str(workdir / "basic_auth.ini"),
            MLFLOW_FLASK_SERVER_SECRET_KEY=secrets.token_hex(16),
        )
    return Server(
        "mlflow",
        workdir,
        argv,
        env,
        health_path="/health",
        username=username,
        password=password,
        wait=wait,
        timeout=timeout,
    )


def prefect_server(
    database_url: str, workdir: Path, *, env: dict[str, str] | None = None, wait: bool = True, timeout: float = 120.0
) -> Server:
    """`prefect server start` on a PostgreSQL database (postgresql+asyncpg://...); `url` ends in /api."""
    home = Path(workdir).resolve() / "prefect-server-home"
    home.mkdir(parents=True, exist_ok=True)
    env = child_env(
        {
            "PREFECT_API_DATABASE_CONNECTION_URL": database_url,
            "PREFECT_HOME": str(home),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_UI_ENABLED": "false",
            "PREFECT_SERVER_REGISTER_BLOCKS_ON_START": "false",
            **(env or {}),
        }
    )
    argv = [sys.executable, "-m", "prefect", "server", "start", "--host", HOST, "--port", "{port}"]
    return Server("prefect", workdir, argv, env, url_path="/api", health_path="/api/health", wait=wait, timeout=timeout)


class PrefectWorker(Service):
    """`prefect worker start --type process`; healthy once the API lists it in its pool."""

    uses_port = False

    def __init__(self, pool: str, api_url: str, workdir: Path, env: dict[str, str] | None, cwd: Path | None, **kwargs):
        super().__init__("prefect-worker", workdir, **kwargs)
        self.pool, self.api_url, self.cwd = pool, api_url.rstrip("/"), cwd
        self.worker_name = f"tabflow-test-{uuid.uuid4().hex[:8]}"
        home = self.workdir / "prefect-worker-home"
        home.mkdir(parents=True, exist_ok=True)
        self._env = child_env({"PREFECT_HOME": str(home), **(env or {}), "PREFECT_API_URL": self.api_url})

    def commands(self, port: int) -> list[Command]:
        argv = [
            sys.executable,
            "-m",
            "prefect",
            "worker",
            "start",
            "--pool",
            self.pool,
            "--type",
            "process",
            "--name",
            self.worker_name,
        ]
        return [Command(argv, self.workdir / f"prefect-worker-{self.pool}.log", self._env, self.cwd)]

    def healthy(self) -> bool:
        workers = _post_json(f"{self.api_url}/work_pools/{self.pool}/workers/filter", {})
        return any(w.get("name") == self.worker_name for w in workers)

    @property
    def pid(self) -> int:
        return self.procs[0].pid


def prefect_worker(
    pool: str,
    api_url: str,
    workdir: Path,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    *,
    wait: bool = True,
    timeout: float = 90.0,
) -> PrefectWorker:
    """A process worker polling `pool`. It ignores SIGTERM, so stopping it costs the short grace then SIGKILL."""
    return PrefectWorker(pool, api_url, workdir, env, cwd, wait=wait, timeout=timeout, grace=2.0)


def ensure_work_pool(api_url: str, pool: str, pool_type: str = "process") -> bool:
    """Create the work pool with its type's default job template; False if it already existed."""
    from prefect.workers.base import BaseWorker

    worker_class = BaseWorker.get_worker_class_from_type(pool_type)
    template = worker_class.get_default_base_job_template() if worker_class else {}
    body = {"name": pool, "type": pool_type, "base_job_template": template}
    try:
        _post_json(f"{api_url.rstrip('/')}/work_pools/", body)
    except urllib.error.HTTPError as exc:
        if exc.code == 409:
            return False
        raise
    return True


def _post_json(url: str, body: dict) -> list | dict:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), method="POST", headers={"Content-Type": "application/json"}
    )
    with _HTTP.open(request, timeout=5) as response:
        return json.loads(response.read() or b"null")


class Cluster(Service):
    """A Dask scheduler and n single-threaded workers, each its own process; `address` is tcp://127.0.0.1:P."""

    def __init__(self, n_workers: int, workdir: Path, env: dict[str, str] | None, **kwargs):
        super().__init__("dask", workdir, **kwargs)
        self.n_workers, self._env = n_workers, child_env(env)
        self._client = None

    @property
    def address(self) -> str:
        return f"tcp://{HOST}:{self.port}"

    def commands(self, port: int) -> list[Command]:
        scheduler = [
            sys.executable,
            "-m",
            "distributed.cli.dask_scheduler",
            "--host",
            HOST,
            "--port",
            str(port),
            "--no-dashboard",
        ]
        commands = [Command(scheduler, self.workdir / "dask-scheduler.log", self._env)]
        for i in range(self.n_workers):
            worker = [
                sys.executable,
                "-m",
                "distributed.cli.dask_worker",
                self.address,
                "--nworkers",
                "1",
                "--nthreads",
                "1",
                "--host",
                HOST,
                "--no-dashboard",
                "--name",
                f"worker-{i}",
                "--local-directory",
                str(self.workdir / f"dask-worker-{i}"),
            ]
            commands.append(Command(worker, self.workdir / f"dask-worker-{i}.log", self._env))
        return commands

    def healthy(self) -> bool:
        if self._client is None:
            with socket.create_connection((HOST, self.port), timeout=1):
                pass  # the scheduler listens: a client can connect now
            from distributed import Client

            self._client = Client(self.address, timeout=10, set_as_default=False)
        return len(self._client.nthreads()) >= self.n_workers

    def wait(self, timeout: float | None = None) -> Cluster:
        try:
            return super().wait(timeout)
        finally:
            if self._client is not None:
                self._client.close()
                self._client = None


def dask_cluster(
    n_workers: int, workdir: Path, env: dict[str, str] | None = None, *, wait: bool = True, timeout: float = 90.0
) -> Cluster:
    """A scheduler plus `n_workers` worker processes (1 thread each); `env` goes to all of them."""
    return Cluster(n_workers, workdir, env, wait=wait, timeout=timeout)


class Postgres(Service):
    """A throwaway PostgreSQL cluster: superuser `tabflow` with a password over TCP, trust on its unix socket."""

    user = "tabflow"

    def __init__(self, workdir: Path, **kwargs):
        super().__init__("postgres", workdir, **kwargs)
        self.password = secrets.token_hex(12)
        self.bindir = postgres_bindir()
        self._as_postgres = os.geteuid() == 0  # initdb and postgres refuse to run as root
        self._base: Path | None = None
        self._own_base = False

    def url(self, db: str, driver: str = "postgresql") -> str:
        return f"{driver}://{self.user}:{self.password}@{HOST}:{self.port}/{db}"

    def create_database(self, name: str) -> str:
        """CREATE DATABASE name; returns its postgresql:// URL."""
        import psycopg2
        from psycopg2 import sql

        conn = psycopg2.connect(self.url("postgres"), connect_timeout=5)
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        finally:
            conn.close()
        return self.url(name)

    def _prefix(self) -> list[str]:
        return ["runuser", "-u", "postgres", "--"] if self._as_postgres else []

    def _make_base(self) -> Path:
        """Data and socket dir: under /tmp owned by postgres when root (pytest's tmp dirs are 0700 root)."""
        if self._as_postgres:
            if shutil.which("runuser") is None:
                raise ServerError("running as root, PostgreSQL must run as user postgres, but runuser is missing")
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                raise ServerError(
                    "running as root, PostgreSQL must run as user postgres, which does not exist "
                    "(apt-get install postgresql creates it)"
                ) from None
        base = self.workdir / "pgdata"
        if self._as_postgres or len(str(base)) > 80:  # unix socket paths are limited to ~107 bytes
            base, self._own_base = Path(tempfile.mkdtemp(prefix="tabflow-pg-")), True
        base.mkdir(exist_ok=True)
        if self._as_postgres:
            pw = pwd.getpwnam("postgres")
            os.chown(base, pw.pw_uid, pw.pw_gid)
        return base

    def _initdb(self, log: Path) -> None:
        pwfile = self._base / "pwfile"
        pwfile.write_text(self.password + "\n")
        if self._as_postgres:
            pw = pwd.getpwnam("postgres")
            os.chown(pwfile, pw.pw_uid, pw.pw_gid)
        argv = [
            *self._prefix(),
            str(self.bindir / "initdb"),
            "-D",
            str(self._base / "data"),
            "-U",
            self.user,
            f"--pwfile={pwfile}",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
            "--no-instructions",
        ]
        with log.open("ab") as out:
            out.write(f"$ {' '.join(argv)}\n".encode())
            out.flush()
            done = subprocess.run(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=child_env(),
                timeout=120,
                check=False,
            )
        pwfile.unlink()
        if done.returncode != 0:
            raise ServerError(f"initdb failed with code {done.returncode} (log {log}):\n{log_tail(log)}")

    def commands(self, port: int) -> list[Command]:
        log = self.workdir / "postgres.log"
        if self._base is None:
            self._base = self._make_base()
            self._initdb(log)
        argv = [
            *self._prefix(),
            str(self.bindir / "postgres"),
            "-D",
            str(self._base / "data"),
            "-p",
            str(port),
            "-k",
            str(self._base),
            "-c",
            f"listen_addresses={HOST}",
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
            "-c",
            "logging_collector=off",
        ]
        return [Command(argv, log, child_env())]

    def healthy(self) -> bool:
        import psycopg2

        psycopg2.connect(self.url("postgres"), connect_timeout=2).close()
        return True

    def begin_stop(self) -> None:
        """Fast shutdown (SIGINT to the postmaster): it disconnects clients; SIGTERM would wait for them."""
        try:
            postmaster = int((self._base / "data" / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError, TypeError):
            super().begin_stop()
        else:
            os.kill(postmaster, signal.SIGINT)

    def cleanup(self) -> None:
        if self._own_base and self._base is not None:
            shutil.rmtree(self._base, ignore_errors=True)
            self._base = None


def postgres_bindir() -> Path:
    """The directory of initdb/postgres: from PATH, else the newest /usr/lib/postgresql/*/bin."""
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0,
    )
    if not candidates:
        raise ServerError(
            "PostgreSQL not found: no initdb on PATH or in /usr/lib/postgresql/*/bin (apt-get install postgresql)"
        )
    return Path(candidates[-1]).parent


def postgres(workdir: Path, *, port: int | None = None, wait: bool = True, timeout: float = 60.0) -> Postgres:
    """A fresh PostgreSQL cluster on 127.0.0.1 (initdb ~1-2 s), removed on exit."""
    return Postgres(workdir, port=port, wait=wait, timeout=timeout, grace=10.0)
