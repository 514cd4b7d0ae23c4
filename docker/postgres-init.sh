#!/bin/sh
# The server profile's databases, created once: the official postgres image runs the scripts in
# /docker-entrypoint-initdb.d only when its data volume is empty. Each belongs to POSTGRES_USER, the one
# account mlflow, prefect-server and the Optuna workers connect as.
set -e

for db in mlflow prefect optuna; do
    # \gexec runs the CREATE only when the database is missing, so a re-run on a kept volume is harmless.
    psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
        --set db="$db" --set owner="$POSTGRES_USER" <<'SQL'
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'owner')
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db')\gexec
SQL
done
