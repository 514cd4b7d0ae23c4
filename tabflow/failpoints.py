"""Failpoints: with TABFLOW_FAILPOINT=NAME set, the process kills itself with SIGKILL when it reaches the point
NAME, so that the kill tests stop a real `tabflow run` at an exact step, as etcd's gofail and TiKV's fail-rs do.
Unset, a point costs one environment lookup. The points are listed in tests/flows/test_kill_matrix.py."""

from __future__ import annotations

import os
import signal

from tabflow import settings


def reach(name: str) -> None:
    if os.environ.get(settings.FAILPOINT) == name:
        os.kill(os.getpid(), signal.SIGKILL)
