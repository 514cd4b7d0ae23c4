"""Serving a registered version: the pyfunc and its data contract, the HTTP server, the servability check and
batch scoring.

`tabflow.serving.TabflowModel` is the path that models logged before the package had subpackages import (their
logged code says `from tabflow.serving import TabflowModel`), so it stays importable, lazily: MLflow is slow to
import and most users of this package need none of it.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    if name == "TabflowModel":
        from tabflow.serving.pyfunc import TabflowModel

        return TabflowModel
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
