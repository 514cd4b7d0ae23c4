# The tabflow image of the server profile: the Prefect worker, the Dask scheduler and the Dask workers.
# Build from the repository root:  docker build -f docker/app.Dockerfile -t tabflow-app .
# docker/compose.yaml gives each service its command and the profile's environment (tracking, Prefect API,
# Optuna storage, Dask scheduler).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TF_CPP_MIN_LOG_LEVEL=2 \
    MLFLOW_DISABLE_TELEMETRY=true \
    PREFECT_HOME=/app/.prefect

# The project folder: the Prefect process worker runs the deployed flows from here (flows/, tasks/).
WORKDIR /app
COPY pyproject.toml README.md ./
COPY tabflow ./tabflow
COPY tasks ./tasks
COPY flows ./flows
# mlruns/ (tabflow's local store: caches, locks, Keras and matplotlib homes), .prefect/ and data/ must be
# writable by the user; a named volume mounted on one of them takes its ownership when first created.
RUN pip install --no-cache-dir . \
    && useradd --create-home --uid 10001 tabflow \
    && install -d -o 10001 /app/mlruns /app/.prefect /app/data

USER 10001
CMD ["tabflow", "worker", "--pool", "tabflow"]
