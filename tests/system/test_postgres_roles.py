"""docker/postgres-init.sh on a real PostgreSQL, run as the postgres image runs it on a first start: each
database gets a login role of its own, and that role is no superuser (review M4: a superuser runs programs
with COPY ... TO PROGRAM). Run twice, as on a kept volume, it changes nothing."""

import os
import subprocess
from pathlib import Path

import psycopg2
import pytest

from tests.system import servers

SCRIPT = Path(__file__).parents[2] / "docker" / "postgres-init.sh"
DATABASES = ("mlflow", "prefect", "optuna")


def test_each_database_has_its_own_role_with_no_superuser_rights(tmp_path):
    with servers.postgres(tmp_path / "postgres") as pg:
        passwords = {db: f"{db}-password-4711" for db in DATABASES}
        env = {
            **os.environ,
            "PATH": f"{pg.bindir}{os.pathsep}{os.environ.get('PATH', '')}",
            "PGHOST": servers.HOST,
            "PGPORT": str(pg.port),
            "PGPASSWORD": pg.password,
            "POSTGRES_USER": pg.user,
            **{f"{db.upper()}_DB_PASSWORD": p for db, p in passwords.items()},
        }
        for _ in range(2):  # a second start on a kept volume
            done = subprocess.run(["sh", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60)
            assert done.returncode == 0, done.stderr

        def connect(role: str, db: str):
            url = f"postgresql://{role}:{passwords[role]}@{servers.HOST}:{pg.port}/{db}"
            return psycopg2.connect(url, connect_timeout=5)

        with connect("optuna", "optuna") as conn, conn.cursor() as cur:
            cur.execute("CREATE TABLE trials (n int)")  # its own database: it may make its tables
            cur.execute("SELECT rolsuper, rolcreatedb, rolcreaterole FROM pg_roles WHERE rolname = 'optuna'")
            assert cur.fetchone() == (False, False, False)
        for statement in ("CREATE DATABASE other", "COPY (SELECT 1) TO PROGRAM 'true'"):
            conn = connect("optuna", "optuna")
            conn.autocommit = True
            with pytest.raises(psycopg2.errors.InsufficientPrivilege), conn.cursor() as cur:
                cur.execute(statement)
            conn.close()
        for other in ("mlflow", "prefect"):
            with pytest.raises(psycopg2.OperationalError, match="permission denied"):
                connect("optuna", other).close()

        missing = {k: v for k, v in env.items() if k != "PREFECT_DB_PASSWORD"}
        done = subprocess.run(["sh", str(SCRIPT)], env=missing, capture_output=True, text=True, timeout=60)
        assert done.returncode != 0 and "PREFECT_DB_PASSWORD is not set" in done.stderr, done.stderr
