"""The Prefect server as the compose profile runs it (review H1): an auth string, CSRF protection, one CORS origin,
and tabflow's work pool with a job template that runs cannot override. A real `prefect server start` on
127.0.0.1 (SQLite: what is checked is the API, not its database)."""

import base64
import secrets
import urllib.error
import urllib.request

import pytest
from prefect.client.orchestration import get_client
from prefect.exceptions import PrefectHTTPStatusError
from prefect.settings import (
    PREFECT_API_AUTH_STRING,
    PREFECT_API_URL,
    PREFECT_CLIENT_CSRF_SUPPORT_ENABLED,
    temporary_settings,
)

from flows.deployments import LOCKED, ensure_pool
from tests.system import servers


def request(url: str, method: str = "GET", headers: dict | None = None, body: bytes | None = None):
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as answer:
            return answer.status, dict(answer.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers)


def test_the_api_needs_the_auth_string_and_runs_cannot_choose_the_command(tmp_path):
    auth = f"admin:{secrets.token_hex(12)}"
    env = {
        "PREFECT_SERVER_API_AUTH_STRING": auth,
        "PREFECT_SERVER_CSRF_PROTECTION_ENABLED": "true",
        "PREFECT_SERVER_CORS_ALLOWED_ORIGINS": "http://127.0.0.1:4200",
    }
    database = f"sqlite+aiosqlite:///{tmp_path / 'prefect.db'}"
    with servers.prefect_server(database, tmp_path / "prefect", env=env) as prefect:
        api = prefect.url
        assert request(f"{api}/admin/version")[0] == 401, "no auth: 401"
        wrong = {"Authorization": "Basic " + base64.b64encode(b"admin:wrong").decode()}
        assert request(f"{api}/admin/version", headers=wrong)[0] == 401, "a wrong string: 401"
        right = {"Authorization": "Basic " + base64.b64encode(auth.encode()).decode()}
        assert request(f"{api}/admin/version", headers=right)[0] == 200, "the right one: 200"
        # A state-changing call without auth (and without a CSRF token) is refused as well.
        json_post = {"Content-Type": "application/json"}
        assert request(f"{api}/deployments/filter", "POST", json_post, b"{}")[0] in (401, 403)
        _, preflight = request(
            f"{api}/deployments/filter",
            "OPTIONS",
            {"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        )
        assert "access-control-allow-origin" not in {k.lower() for k in preflight}, "no other origin is allowed"

        updates = {PREFECT_API_URL: api, PREFECT_API_AUTH_STRING: auth, PREFECT_CLIENT_CSRF_SUPPORT_ENABLED: True}
        with temporary_settings(updates=updates):
            ensure_pool("tabflow")
            with get_client(sync_client=True) as client:
                pool = client.read_work_pool("tabflow")
                assert not set(LOCKED) & set(pool.base_job_template["variables"]["properties"]), pool
                flow_id = client.create_flow_from_name("train")
                deployment = client.create_deployment(
                    flow_id, "probe", work_pool_name="tabflow", entrypoint="flows/training.py:train"
                )
                pwned = tmp_path / "pwned"
                with pytest.raises(PrefectHTTPStatusError) as refused:
                    client.create_flow_run_from_deployment(deployment, job_variables={"command": f"touch {pwned}"})
                assert "422" in str(refused.value) or "job_variables" in str(refused.value).lower(), refused.value
                ok = client.create_flow_run_from_deployment(deployment, job_variables={"stream_output": False})
                assert ok.id, "the variables that remain can still be set"
        assert not pwned.exists()
