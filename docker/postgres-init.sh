#!/bin/sh
# The server profile's databases, created once: the official postgres image runs the scripts in
# /docker-entrypoint-initdb.d only when its data volume is empty. Each database belongs to a login role of its
# own name (mlflow, prefect, optuna), with its own password and no superuser, CREATEDB or CREATEROLE right, and
# only that role may connect to it: a leaked study-database URL opens the studies, not MLflow's or Prefect's
# tables, and never the server (a superuser can run programs with COPY ... TO PROGRAM).
set -e

for db in mlflow prefect optuna; do
    password=$(printenv "$(echo "$db" | tr a-z A-Z)_DB_PASSWORD") || {
        echo "postgres-init: $(echo "$db" | tr a-z A-Z)_DB_PASSWORD is not set" >&2
        exit 1
    }
    # \gexec runs each statement only when its object is missing, so a re-run on a kept volume is harmless.
    psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
        --set db="$db" --set password="$password" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD %L', :'db', :'password')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'db')\gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'db')
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db')\gexec
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', :'db')\gexec
SQL
done
