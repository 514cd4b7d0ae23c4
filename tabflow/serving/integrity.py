"""A registered version's files, checked before any of them runs.

A model version is code: its preprocessing is a pickle and its model file is Python, both run when it loads. At
registration each version is tagged with the SHA-256 digest of its files (`artifact_digest`), and with an
HMAC of that digest when TABFLOW_MODEL_SIGNING_KEY is set (`artifact_signature`). Every load (the model server,
batch scoring, the gate's champion scoring, the servability check) downloads the version, checks its files
against the tag, and only then loads it. Without a key the digest catches files changed in the artifact store;
with one, also a registry writer who rewrote the tag.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import tempfile
from pathlib import Path

from tabflow.errors import TabflowError

DIGEST_TAG = "artifact_digest"
SIGNATURE_TAG = "artifact_signature"
SIGNING_KEY = "TABFLOW_MODEL_SIGNING_KEY"


class Tampered(TabflowError):
    """The version's files are not the files that were registered."""


UNSIGNED = frozenset({"registered_model_meta"})  # MLflow writes it at registration: a name and a number, no code


def digest(root: Path) -> str:
    """SHA-256 over every file under `root` (but UNSIGNED): its relative path and its bytes, in path order."""
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.name not in UNSIGNED):
        h.update(json.dumps(str(path.relative_to(root))).encode() + b"\0")
        with open(path, "rb") as fh:
            while block := fh.read(1 << 20):
                h.update(block)
        h.update(b"\0")
    return h.hexdigest()


def sign(value: str, key: str) -> str:
    return hmac.new(key.encode(), value.encode(), hashlib.sha256).hexdigest()


def tags_for(model_uri: str) -> dict[str, str]:
    """The tags a version registered from `model_uri` carries: its files' digest, signed if a key is set."""
    import mlflow

    with tempfile.TemporaryDirectory() as tmp:
        value = digest(Path(mlflow.artifacts.download_artifacts(model_uri, dst_path=tmp)))
    key = os.environ.get(SIGNING_KEY)
    return {DIGEST_TAG: value, **({SIGNATURE_TAG: sign(value, key)} if key else {})}


def verified(name: str, version: str, dst: str) -> str:
    """Download the version into `dst` and return its local path once its files match what was registered;
    Tampered when they do not (or when a signing key is set and the version carries no valid signature)."""
    import mlflow

    tags = mlflow.MlflowClient().get_model_version(name, version).tags
    local = Path(mlflow.artifacts.download_artifacts(f"models:/{name}/{version}", dst_path=dst))
    key = os.environ.get(SIGNING_KEY)
    expected = tags.get(DIGEST_TAG)
    if expected is None:
        if key:
            raise Tampered(f"version {version} of {name!r} carries no {DIGEST_TAG} tag and a signing key is set")
        return str(local)  # registered before digests were recorded
    if not hmac.compare_digest(digest(local), expected):
        raise Tampered(f"version {version} of {name!r}: digest mismatch, its files changed after registration")
    if key and not hmac.compare_digest(sign(expected, key), tags.get(SIGNATURE_TAG, "")):
        raise Tampered(f"version {version} of {name!r}: its signature does not match TABFLOW_MODEL_SIGNING_KEY")
    return str(local)


def load(name: str, version: str, dst: str | None = None):
    """mlflow.pyfunc.load_model of a verified version (into a temporary directory unless `dst` is given)."""
    import mlflow

    if dst is None:
        with tempfile.TemporaryDirectory() as tmp:
            return mlflow.pyfunc.load_model(verified(name, version, tmp))
    return mlflow.pyfunc.load_model(verified(name, version, dst))
