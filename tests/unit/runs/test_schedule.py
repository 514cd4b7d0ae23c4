from datetime import UTC, datetime, timedelta

from tabflow.runs.schedule import skip_reason

NOW = datetime(2026, 11, 29, 3, 0, tzinfo=UTC)


def test_a_run_later_than_allowed_is_skipped_with_its_reason():
    reason = skip_reason(NOW - timedelta(minutes=90), NOW, 60)
    assert reason and "90 min" in reason and "60 min" in reason


def test_runs_on_time_by_hand_or_without_a_limit_go_ahead():
    assert skip_reason(NOW - timedelta(minutes=59), NOW, 60) is None
    assert skip_reason(None, NOW, 60) is None, "a run started by hand has no slot"
    assert skip_reason(NOW - timedelta(days=3), NOW, None) is None
