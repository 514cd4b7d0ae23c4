# tabflow serve: the model an alias points at, over HTTP, following the alias as it moves.
# Build from the repository root:  docker build -f docker/serve.Dockerfile -t tabflow-serve .
# Run:  docker run -p 8080:8080 -e MLFLOW_TRACKING_URI=http://mlflow:5000 -e TABFLOW_MODEL=NAME tabflow-serve
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY tabflow ./tabflow
COPY tasks ./tasks
COPY flows ./flows
# tabflow creates ./.prefect and writes caches under its store (./mlruns) at start: both must be the user's,
# or every command fails with PermissionError in the root-owned /app.
RUN pip install --no-cache-dir . \
    && useradd --create-home --uid 10001 tabflow \
    && install -d -o 10001 /app/mlruns /app/.prefect

USER 10001
ENV TABFLOW_MODEL=model \
    TABFLOW_ALIAS=champion \
    TABFLOW_POLL_S=5
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=90s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/health', timeout=2)"]
# The server binds 0.0.0.0 inside the container only; tabflow serve defaults to 127.0.0.1 elsewhere.
ENTRYPOINT ["sh", "-c", "exec tabflow serve --model \"$TABFLOW_MODEL\" --alias \"$TABFLOW_ALIAS\" --poll \"$TABFLOW_POLL_S\" --host 0.0.0.0 --port 8080"]
