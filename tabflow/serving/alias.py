"""The version an alias points at, loaded and checked, and swapped in atomically when the alias moves."""

from __future__ import annotations

import logging
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from tabflow.errors import first_line
from tabflow.serving import integrity
from tabflow.serving.contract import Throttle

log = logging.getLogger("tabflow.server")
MAX_RETRIES = 5  # loads of one version that fail on the registry or the network, before it is refused


@dataclass(frozen=True)
class Loaded:
    """One registered version, ready to serve."""

    name: str
    version: str
    model: Any  # tabflow.serving.pyfunc.TabflowModel, unwrapped: MLflow's own schema check would echo the data
    tags: dict
    path: str = ""  # its downloaded artifacts (ours to delete once it no longer serves)
    loaded_at: float = field(default_factory=time.time)


class Refused(Exception):
    """The version itself cannot serve (as opposed to a registry or network hiccup while loading it)."""


def load(name: str, version: str) -> Loaded:
    """Load a version as a deployment does, and score its input example: a version that cannot is Refused."""
    import mlflow

    path = tempfile.mkdtemp(prefix=f"tabflow-serve-{name}-{version}-")
    try:
        try:  # the download may fail on the network (retried); the files' check fails for good
            local = integrity.verified(name, version, path)
        except integrity.Tampered as exc:
            raise Refused(str(exc)) from None
        try:  # the files are here: a failure now is the version's own
            pyfunc = mlflow.pyfunc.load_model(local)
        except Exception as exc:
            raise Refused(f"it does not load: {first_line(exc)}") from None
        model = pyfunc.unwrap_python_model()
        example = pyfunc.input_example
        if example is None or not hasattr(model, "schema"):
            raise Refused("it is not a tabflow model with an input example")
        example = pd.DataFrame(example)
        try:
            out = model.predict(None, example)
        except Exception as exc:
            raise Refused(f"scoring its input example failed: {first_line(exc)}") from None
        if len(out) != len(example):
            raise Refused("scoring its input example returned the wrong number of rows")
        if not model.prepare_replay(example):
            log.warning(
                "version %s of %s: small requests go through scikit-learn and TensorFlow (slower)", version, name
            )
        tags = dict(mlflow.MlflowClient().get_model_version(name, version).tags)
    except BaseException:
        _remove(path)
        raise
    return Loaded(name, version, model, tags, path)


def transient(exc: BaseException) -> bool:
    """A failure worth retrying: the registry or the network, not the version (which loaded and failed, or does
    not exist)."""
    from mlflow.exceptions import MlflowException

    if isinstance(exc, Refused):
        return False
    if isinstance(exc, MlflowException):
        return exc.error_code not in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE")
    return isinstance(exc, OSError | TimeoutError)


def _remove(path: str) -> None:
    if path:
        shutil.rmtree(path, ignore_errors=True)
        for entry in [e for e in sys.path if e.startswith(path)]:  # MLflow put the model's code there
            sys.path.remove(entry)


class Slot:
    """The serving model, swapped atomically (one reference assignment) when the alias moves."""

    def __init__(self, name: str, alias: str, poll_s: float):
        self.name, self.alias, self.poll_s = name, alias, poll_s
        self.current: Loaded | None = None
        self.refused: dict[str, str] = {}  # version -> why it cannot serve (for good)
        self.retry: dict[str, tuple[int, float]] = {}  # version -> (failed loads, monotonic time to try again)
        self.registry_ok = True  # the last read of the alias worked
        self.wake = threading.Event()  # set by an MLflow webhook: check the alias now, not at the next poll
        self._unreachable = Throttle()

    def serving(self) -> Loaded:
        """The version serving now (one is loaded before the app answers: `start` fails otherwise)."""
        if self.current is None:
            raise RuntimeError(f"no version of {self.name!r} is loaded")
        return self.current

    def start(self) -> None:
        self.refresh()
        if self.current is None:
            reasons = [f"version {v} refused: {why}" for v, why in self.refused.items()]
            raise RuntimeError(reasons[0] if reasons else f"no version of {self.name!r} holds @{self.alias}")
        threading.Thread(target=self._watch, name="tabflow-alias-watch", daemon=True).start()

    def _watch(self) -> None:  # a daemon thread: it ends with the server process
        while True:
            self.wake.wait(self.poll_s)
            self.wake.clear()
            self.poll()

    def poll(self) -> None:
        try:
            self.refresh()
        except Exception as exc:  # the registry may be unreachable for a while: keep serving, try again
            self.registry_ok = False
            if self._unreachable.ready():  # once a minute, not once a poll
                log.warning("could not read @%s of %s (serving on): %s", self.alias, self.name, first_line(exc))

    def refresh(self) -> None:
        from mlflow import MlflowClient

        from tabflow.tracking import alias_version

        version = alias_version(MlflowClient(), self.name, self.alias)  # raises when the registry fails
        if not self.registry_ok:
            log.warning("read @%s of %s again: the registry is back", self.alias, self.name)
            self._unreachable = Throttle()  # the next outage is logged when it starts
        self.registry_ok = True
        if version is None or (self.current and version == self.current.version) or version in self.refused:
            return
        failed, when = self.retry.get(version, (0, 0.0))
        if time.monotonic() < when:
            return
        try:
            loaded = load(self.name, version)
        except Exception as exc:
            reason, serving = first_line(exc), self.current.version if self.current else "nothing"
            if transient(exc) and failed < MAX_RETRIES:
                self.retry[version] = (failed + 1, time.monotonic() + min(300.0, self.poll_s * 2**failed))
                log.warning(
                    "version %s of %s did not load (will retry), serving %s: %s", version, self.name, serving, reason
                )
                return
            self.refused[version] = reason
            log.error("version %s of %s refused, still serving %s: %s", version, self.name, serving, reason)
            return
        self.retry.pop(version, None)
        previous, self.current = self.current, loaded
        if previous is not None:  # its objects are in memory: requests still on it need none of its files
            _remove(previous.path)
        log.warning(
            "now serving version %s of %s (was %s)", version, self.name, previous.version if previous else "none"
        )
