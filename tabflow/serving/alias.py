"""The version an alias points at, loaded and checked, and swapped in atomically when the alias moves."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from tabflow.errors import first_line

log = logging.getLogger("tabflow.server")


@dataclass(frozen=True)
class Loaded:
    """One registered version, ready to serve."""

    name: str
    version: str
    model: Any  # tabflow.serving.pyfunc.TabflowModel, unwrapped: MLflow's own schema check would echo the data
    tags: dict
    loaded_at: float = field(default_factory=time.time)


def load(name: str, version: str) -> Loaded:
    """Load a version as a deployment does, and score its input example: a version that cannot is refused."""
    import mlflow

    pyfunc = mlflow.pyfunc.load_model(f"models:/{name}/{version}")
    model = pyfunc.unwrap_python_model()
    example = pyfunc.input_example
    if example is None or not hasattr(model, "schema"):
        raise RuntimeError("it is not a tabflow model with an input example")
    example = pd.DataFrame(example)
    out = model.predict(None, example)
    if len(out) != len(example):
        raise RuntimeError("scoring its input example returned the wrong number of rows")
    if not model.prepare_replay(example):
        log.warning("version %s of %s: small requests go through scikit-learn and TensorFlow (slower)", version, name)
    tags = dict(mlflow.MlflowClient().get_model_version(name, version).tags)
    return Loaded(name, version, model, tags)


class Slot:
    """The serving model, swapped atomically (one reference assignment) when the alias moves."""

    def __init__(self, name: str, alias: str, poll_s: float):
        self.name, self.alias, self.poll_s = name, alias, poll_s
        self.current: Loaded | None = None
        self.refused: dict[str, str] = {}  # version -> why it was not swapped in
        self.wake = threading.Event()  # set by an MLflow webhook: check the alias now, not at the next poll

    def serving(self) -> Loaded:
        """The version serving now (one is loaded before the app answers: `start` fails otherwise)."""
        if self.current is None:
            raise RuntimeError(f"no version of {self.name!r} is loaded")
        return self.current

    def start(self) -> None:
        self.refresh()
        if self.current is None:
            raise RuntimeError(self.refused.get("start", f"no version of {self.name!r} holds @{self.alias}"))
        threading.Thread(target=self._watch, name="tabflow-alias-watch", daemon=True).start()

    def _watch(self) -> None:  # a daemon thread: it ends with the server process
        while True:
            self.wake.wait(self.poll_s)
            self.wake.clear()
            try:
                self.refresh()
            except Exception as exc:  # the registry may be briefly unreachable: keep serving, try again
                log.warning("could not read @%s of %s: %s", self.alias, self.name, exc)

    def refresh(self) -> None:
        from mlflow import MlflowClient

        from tabflow.tracking import alias_version

        version = alias_version(MlflowClient(), self.name, self.alias)
        if version is None or (self.current and version == self.current.version) or version in self.refused:
            return
        try:
            loaded = load(self.name, version)
        except Exception as exc:
            reason = first_line(exc)
            self.refused[version] = reason
            log.error(
                "version %s of %s refused, still serving %s: %s",
                version,
                self.name,
                self.current.version if self.current else "nothing",
                reason,
            )
            return
        previous = self.current
        self.current = loaded
        log.warning(
            "now serving version %s of %s (was %s)", version, self.name, previous.version if previous else "none"
        )
