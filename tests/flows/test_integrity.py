"""A champion whose files were changed in the artifact store after registration (review M5): its preprocessing
pickle replaced by one that runs a command when unpickled. Every load refuses it before any of its files runs."""

import os
import pickle
import subprocess
import sys

import mlflow
import pytest

from flows import training
from tabflow.promotion import registry
from tabflow.serving import integrity
from tabflow.serving.alias import Slot
from tests.helpers import client_for, saved_uris, tiny_config

NAME = "signed"


class Payload:
    """Unpickling this creates the file `path`: what an attacker's preprocessor.joblib would do."""

    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.fixture(scope="module")
def tampered(tmp_path_factory):
    """(store, sentinel path): version 1 @champion, its preprocessor.joblib replaced in the store."""
    store = tmp_path_factory.mktemp("integrity") / "mlruns"
    training.train(tiny_config(model_name=NAME), store=str(store))
    client = client_for(store)
    version = client.get_model_version(NAME, "1")
    assert version.tags[integrity.DIGEST_TAG], "a registered version carries its files' digest"
    joblibs = [p for p in store.rglob("preprocessor.joblib") if "artifacts" in str(p)]
    assert joblibs, "the store holds the version's preprocessing"
    sentinel = store.parent / "SENTINEL"
    for path in joblibs:
        path.write_bytes(pickle.dumps(Payload(str(sentinel))))
    return store, sentinel


def test_predict_serve_and_the_gate_refuse_the_changed_files(tampered):
    from tabflow.data.read import load_table

    store, sentinel = tampered
    rows = load_table("builtin:breast_cancer").drop(columns=["target"]).head(5)
    rows.to_csv(store.parent / "rows.csv", index=False)
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    predict = ["predict", "--model", NAME, "--input", str(store.parent / "rows.csv"), "--output"]
    done = subprocess.run(
        [sys.executable, "-m", "tabflow.cli", "--store", str(store), *predict, str(store.parent / "out.csv")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2 and "digest mismatch" in done.stderr, done.stderr[-1000:]
    assert "Traceback" not in done.stderr and not (store.parent / "out.csv").exists()
    restore = saved_uris()
    try:
        uri = client_for(store).tracking_uri
        mlflow.set_tracking_uri(uri)
        mlflow.set_registry_uri(uri)
        with pytest.raises(RuntimeError, match=r"version 1 refused: .*digest mismatch"):
            Slot(NAME, "champion", poll_s=3600).start()  # what `tabflow serve` does first
        with pytest.raises(integrity.Tampered, match="digest mismatch"):
            registry.score_version(NAME, "1", rows)  # the gate scoring the champion
    finally:
        restore()
    assert not sentinel.exists(), "the changed pickle never ran"
