"""The Dockerfiles pass hadolint (offline; no Docker engine runs here) and keep the promises the README makes."""

import subprocess
import sys
from pathlib import Path

import pytest

DOCKER = Path(__file__).resolve().parents[2] / "docker"
HADOLINT = Path(sys.executable).parent / "hadolint"


@pytest.mark.parametrize("dockerfile", sorted(DOCKER.glob("*.Dockerfile")), ids=lambda p: p.name)
def test_dockerfile_passes_hadolint(dockerfile):
    result = subprocess.run([str(HADOLINT), str(dockerfile)], capture_output=True, text=True)
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout


def test_serve_image_runs_as_a_user_and_checks_its_health():
    text = (DOCKER / "serve.Dockerfile").read_text()
    user = [line.split()[1] for line in text.splitlines() if line.startswith("USER ")]
    assert user and user[-1] not in ("0", "root")
    assert "HEALTHCHECK" in text and "/health" in text and "tabflow serve" in text
