"""The MLflow UI as a new user opens it after `tabflow run`, in headless Chromium (Debian's `chromium`): the
experiment page in the training-runs view, the parent run page (datasets, logged model, registered version,
description) and the compare page of three trials (durations of seconds, not the milliseconds of runs written
after the fact). Screenshots stay in the test's temp dir, next to the DOMs the checks read."""

import html
import json
import os
import re
import shutil
import subprocess
import sys
import urllib.parse
from pathlib import Path

import pytest

from tests.helpers import client_for
from tests.system import servers

NAME = "uitest"
CONFIG = f"""
data: {{source: "builtin:breast_cancer"}}
model_name: {NAME}
tune: {{n_trials: 3, max_epochs: 12, pruner: none}}
train: {{folds: 1}}
"""
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1400,1000",
    "--virtual-time-budget=20000",  # the single-page app fetches its data after the first paint
]


def chromium() -> str:
    """Debian's chromium, installed with apt-get when missing (.ci/run installs it first)."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.geteuid() != 0:
        pytest.fail("the MLflow UI test needs Chromium: apt-get install chromium")
    done = subprocess.run(
        ["apt-get", "install", "-y", "--no-install-recommends", "chromium"],
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0 and shutil.which("chromium"), done.stderr[-2000:]
    return shutil.which("chromium")


def page(browser: str, url: str, out: Path) -> str:
    """The page's text once rendered; its screenshot and DOM saved under `out`."""
    profile = out.with_suffix(".profile")
    args = [browser, *FLAGS, f"--user-data-dir={profile}"]
    subprocess.run([*args, f"--screenshot={out.with_suffix('.png')}", url], capture_output=True, timeout=180)
    dom = subprocess.run([*args, "--dump-dom", url], capture_output=True, text=True, timeout=180).stdout
    out.with_suffix(".html").write_text(dom)
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", dom)))


def test_the_mlflow_ui_shows_what_a_run_explains(tmp_path):
    browser = chromium()
    (tmp_path / "tabflow.yaml").write_text(CONFIG)
    store = tmp_path / "mlruns"
    env = servers.child_env({"PREFECT_HOME": str(tmp_path / ".prefect")})
    cli = [sys.executable, "-m", "tabflow.cli", "--store", str(store)]
    done = subprocess.run(
        [*cli, "run", "--config", "tabflow.yaml"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stderr[-3000:]
    client = client_for(store)
    experiment = client.get_experiment_by_name(NAME).experiment_id
    runs = client.search_runs([experiment])
    parent = next(r for r in runs if r.info.run_name.startswith("train-"))
    trials = [r for r in runs if r.info.run_name.startswith("trial-")]
    assert parent.info.run_id in done.stdout and "workflowType=machine_learning" in done.stdout, (
        "the summary links the run in the training view"
    )

    ui = servers.Server(
        "mlflow-ui", tmp_path / "ui", [*cli, "ui", "--port", "{port}"], env, health_path="/health", timeout=180
    )
    with ui:
        base = f"{ui.url}/#/experiments/{experiment}"
        view = "workflowType=machine_learning"
        shots = tmp_path / "screenshots"
        shots.mkdir()

        listing = page(browser, f"{base}?{view}", shots / "experiment")
        assert "Run Name" in listing and parent.info.run_name in listing, "the runs table, not the GenAI overview"
        assert "one parent run per tabflow run" in listing, "the experiment's description"

        run_page = page(browser, f"{base}/runs/{parent.info.run_id}?{view}", shots / "run")
        assert f"{NAME}-train" in run_page, "the splits as datasets"
        assert "Logged models (1)" in run_page, "the final fit's model, listed on the parent run"
        assert re.search(rf"Registered models {NAME} v1\b", run_page), "the version it registered"
        assert "PROMOTE version 1" in run_page, "the description: the summary with the decision"

        ids = urllib.parse.quote(json.dumps([t.info.run_id for t in trials]))
        compare = page(
            browser,
            f"{ui.url}/#/compare-runs?runs={ids}&experiments=%5B%22{experiment}%22%5D&{view}",
            shots / "compare",
        )
        durations = re.search(r"Duration: ((?:[\d.]+(?:ms|s|min) ?){3})", compare)
        assert durations, compare[:3000]
        seconds = [float(d[:-1]) for d in durations.group(1).split() if d.endswith("s") and not d.endswith("ms")]
        assert seconds and max(seconds) > 1.0, f"trial durations as they ran: {durations.group(1)}"
    for name in ("experiment", "run", "compare"):
        assert (shots / f"{name}.png").stat().st_size > 10_000, f"the {name} screenshot is empty"
