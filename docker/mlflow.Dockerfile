# The MLflow tracking server of the server profile: PostgreSQL backend, proxied artifacts, basic auth.
# Build from docker/:  docker build -f mlflow.Dockerfile -t tabflow-mlflow docker
# docker/compose.yaml runs it with the backend URI, admin password and Flask secret key from docker/.env.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MLFLOW_DISABLE_TELEMETRY=true \
    MLFLOW_AUTH_CONFIG_PATH=/etc/mlflow/basic_auth.ini

# mlflow 3.18.0 does not install (its skinny/tracing wheels are missing): 3.17.2 is the version tabflow uses.
# Flask-WTF is what mlflow[auth] adds; psycopg2 is SQLAlchemy's default PostgreSQL driver.
RUN pip install --no-cache-dir mlflow==3.17.2 psycopg2-binary==2.9.13 Flask-WTF==1.3.0 \
    && useradd --create-home --uid 10001 mlflow \
    && install -d -o 10001 -m 0750 /mlartifacts /var/lib/mlflow-auth
COPY mlflow-auth.ini /etc/mlflow/basic_auth.ini

USER 10001
WORKDIR /home/mlflow
EXPOSE 5000
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=5 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:5000/health', timeout=3)"]
# The backend store comes from MLFLOW_BACKEND_STORE_URI (kept off the command line, where ps would show its
# password); compose adds --allowed-hosts for the service name.
CMD ["mlflow", "server", "--artifacts-destination", "/mlartifacts", "--host", "0.0.0.0", "--port", "5000", \
     "--workers", "1", "--app-name", "basic-auth"]
