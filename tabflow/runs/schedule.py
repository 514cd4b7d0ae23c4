"""When a scheduled run should not start: the pure part of the deployments' late-run policy."""

from __future__ import annotations

from datetime import datetime


def skip_reason(scheduled: datetime | None, now: datetime, max_late_minutes: float | None) -> str | None:
    """A reason to skip a run that starts more than `max_late_minutes` after its slot, else None.

    Runs pile up while no worker polls the pool; when one comes back, training each of them on the same data is
    waste, and the next slot comes anyway. None for runs started by hand (no slot) or without a limit."""
    if scheduled is None or max_late_minutes is None:
        return None
    late = (now - scheduled).total_seconds() / 60
    if late <= max_late_minutes:
        return None
    return (
        f"skipped: started {late:.0f} min after its scheduled time {scheduled:%Y-%m-%d %H:%M} UTC, more than "
        f"the {max_late_minutes:g} min allowed (max_late_minutes); the next scheduled run will train"
    )
