"""Who is running a trial or a run: host:pid, so work orphaned by a killed process can be recognised."""

from __future__ import annotations

import os
import socket


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def is_dead(worker: str) -> bool:
    """True only for a process of this host that no longer exists; other hosts' work is left alone."""
    host, _, pid = worker.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
