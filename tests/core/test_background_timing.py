"""When schedules fire and retries come back: cron expressions, periods, backoff."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mainspring.core.background import Cron, Every
from mainspring.core.background.timing import (
    CRON_LOOKBACK,
    RETRY_BASE_DELAY,
    RETRY_MAX_DELAY,
    retry_delay,
)


def at(day: int, hour: int, minute: int, second: int = 0) -> datetime:
    """A moment in May 2026 (the 1st is a Friday)."""
    return datetime(2026, 5, day, hour, minute, second, tzinfo=UTC)


def test_cron_fields_accept_steps_ranges_and_lists() -> None:
    cron = Cron.parse("*/15 8-18/5 * * *")
    assert cron.minutes == {0, 15, 30, 45}
    assert cron.hours == {8, 13, 18}
    weekdays = Cron.parse("0 9 * * 1-5,7")
    assert weekdays.weekdays == {0, 1, 2, 3, 4, 5, 7}  # 7 is Sunday, like 0
    assert Cron.parse("5/20 * * * *").minutes == {5, 25, 45}


@pytest.mark.parametrize(
    ("expression", "moment", "fires"),
    [
        ("*/5 * * * *", at(1, 10, 35), True),
        ("*/5 * * * *", at(1, 10, 36), False),
        ("0 3 * * *", at(1, 3, 0, 59), True),
        ("0 9 * * 1-5", at(1, 9, 0), True),  # Friday
        ("0 9 * * 1-5", at(2, 9, 0), False),  # Saturday
        ("0 9 * * 0", at(3, 9, 0), True),  # Sunday
        ("0 0 1 * *", at(1, 0, 0), True),
        ("0 0 15 * 1", at(4, 0, 0), True),  # both day fields set: either matches (a Monday)
        ("0 0 15 * 1", at(15, 0, 0), True),  # ... or the 15th (a Friday)
        ("0 0 15 * 1", at(5, 0, 0), False),
        ("30 12 * 6 *", at(1, 12, 30), False),  # June only
    ],
)
def test_cron_matches_like_cron(expression: str, moment: datetime, fires: bool) -> None:
    assert Cron.parse(expression).matches(moment) is fires


@pytest.mark.parametrize(
    "expression",
    ["* * * *", "60 * * * *", "* 24 * * *", "* * 0 * *", "*/0 * * * *", "5-1 * * * *", "a * * * *"],
)
def test_cron_refuses_what_it_cannot_read(expression: str) -> None:
    with pytest.raises(ValueError, match="cron"):
        Cron.parse(expression)


def test_a_cron_slot_is_the_latest_matching_minute_within_the_lookback() -> None:
    every_five = Cron.parse("*/5 * * * *")
    assert every_five.slot(at(1, 10, 37, 12)) == at(1, 10, 35)
    assert every_five.slot(at(1, 10, 35)) == at(1, 10, 35)
    nightly = Cron.parse("0 3 * * *")
    assert nightly.slot(at(1, 3, 0) + CRON_LOOKBACK) == at(1, 3, 0)  # missed, still within reach
    assert nightly.slot(at(1, 3, 1) + CRON_LOOKBACK) is None  # too late: skipped, not caught up


def test_periods_are_aligned_on_the_epoch() -> None:
    five_minutes = Every(timedelta(minutes=5))
    assert five_minutes.slot(at(1, 10, 37, 12)) == at(1, 10, 35)
    assert five_minutes.slot(at(1, 10, 35)) == at(1, 10, 35)
    assert Every(timedelta(days=1)).slot(at(1, 23, 59)) == at(1, 0, 0)
    with pytest.raises(ValueError, match="at least one second"):
        Every(timedelta(milliseconds=10))


def test_retry_delays_double_with_jitter_up_to_a_cap() -> None:
    for attempt in range(1, 6):
        ceiling = RETRY_BASE_DELAY * 2 ** (attempt - 1)
        delays = {retry_delay(attempt) for _ in range(50)}
        assert all(ceiling / 2 <= delay <= ceiling for delay in delays)
        assert len(delays) > 1  # jittered, not one fixed value
    assert RETRY_MAX_DELAY / 2 <= retry_delay(100) <= RETRY_MAX_DELAY
