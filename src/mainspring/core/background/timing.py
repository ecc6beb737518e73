"""When periodic work is due: cron expressions, fixed intervals, and the retry backoff.

A schedule divides time into *slots*: the moments it should fire. ``slot(now)`` answers the
latest slot at or before ``now``; the scheduler runs a slot once, however many workers ask (see
``scheduler.py``). Everything here is pure computation on timezone-aware UTC datetimes.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

CRON_LOOKBACK = timedelta(hours=1)
"""How late a cron slot may still fire: a slot every worker missed (all were down at 03:00)
runs when one comes back within the hour; an older one is skipped, not caught up."""

RETRY_BASE_DELAY = timedelta(seconds=10)
RETRY_MAX_DELAY = timedelta(hours=1)

_FIELD = re.compile(r"^(\*|\d+(?:-\d+)?)(?:/(\d+))?$")


@dataclass(frozen=True)
class _CronField:
    name: str
    low: int
    high: int

    def parse(self, text: str) -> frozenset[int]:
        """The values one field allows: ``*``, ``5``, ``1-5``, ``*/15``, ``0-30/10``, lists."""
        values: set[int] = set()
        for part in text.split(","):
            match = _FIELD.match(part)
            if match is None:
                raise ValueError(f"cron {self.name} field {text!r}: cannot read {part!r}")
            span, step_text = match.groups()
            if span == "*":
                start, stop = self.low, self.high
            elif "-" in span:
                start, stop = (int(bound) for bound in span.split("-"))
            else:
                start = int(span)
                stop = self.high if step_text else start
            step = int(step_text) if step_text else 1
            if not (self.low <= start <= stop <= self.high) or step < 1:
                raise ValueError(
                    f"cron {self.name} field {text!r}: values must be within {self.low}-{self.high}"
                )
            values.update(range(start, stop + 1, step))
        return frozenset(values)


_FIELDS = (
    _CronField("minute", 0, 59),
    _CronField("hour", 0, 23),
    _CronField("day-of-month", 1, 31),
    _CronField("month", 1, 12),
    _CronField("day-of-week", 0, 7),  # 0 and 7 are both Sunday
)


@dataclass(frozen=True)
class Cron:
    """A five-field cron expression, in UTC: ``minute hour day-of-month month day-of-week``.

    Numeric fields only (``*/5 * * * *``, ``0 3 * * 1-5``, ``15,45 8-18 * * *``). As in classic
    cron, when both day fields are restricted a day matching *either* one fires.
    """

    expression: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    any_day: bool
    any_weekday: bool

    @classmethod
    def parse(cls, expression: str) -> Cron:
        parts = expression.split()
        if len(parts) != len(_FIELDS):
            raise ValueError(f"cron {expression!r}: expected 5 fields, got {len(parts)}")
        minutes, hours, days, months, weekdays = (
            field.parse(part) for field, part in zip(_FIELDS, parts, strict=True)
        )
        if 7 in weekdays:
            weekdays = weekdays | {0}
        return cls(
            expression=expression,
            minutes=minutes,
            hours=hours,
            days=days,
            months=months,
            weekdays=weekdays,
            any_day=parts[2] == "*",
            any_weekday=parts[4] == "*",
        )

    def matches(self, moment: datetime) -> bool:
        """Whether the minute of ``moment`` (UTC) is one this expression fires on."""
        moment = moment.astimezone(UTC)
        if (
            moment.minute not in self.minutes
            or moment.hour not in self.hours
            or moment.month not in self.months
        ):
            return False
        day_ok = moment.day in self.days
        weekday_ok = (moment.weekday() + 1) % 7 in self.weekdays  # cron: Sunday is 0
        if not self.any_day and not self.any_weekday:
            return day_ok or weekday_ok
        return day_ok and weekday_ok

    def slot(self, now: datetime) -> datetime | None:
        """The latest matching minute at or before ``now``, if within ``CRON_LOOKBACK``."""
        minute = now.astimezone(UTC).replace(second=0, microsecond=0)
        for back in range(int(CRON_LOOKBACK / timedelta(minutes=1)) + 1):
            candidate = minute - timedelta(minutes=back)
            if self.matches(candidate):
                return candidate
        return None


@dataclass(frozen=True)
class Every:
    """A fixed period, aligned on the Unix epoch: ``every=timedelta(minutes=5)`` fires at :00,
    :05, :10... on every worker alike, so workers agree on the slot without talking."""

    period: timedelta

    def __post_init__(self) -> None:
        if self.period < timedelta(seconds=1):
            raise ValueError("a schedule's period must be at least one second")

    def slot(self, now: datetime) -> datetime:
        epoch = datetime(1970, 1, 1, tzinfo=UTC)
        periods = (now - epoch) // self.period
        return epoch + periods * self.period


def retry_delay(attempt: int) -> timedelta:
    """How long a job waits after failing its ``attempt``-th run: exponential with jitter.

    The ceiling doubles with every attempt (10 s, 20 s, 40 s... capped at an hour) and the
    delay is drawn between half the ceiling and the ceiling ("equal jitter"), so jobs that
    failed together (a mail server down for a minute) do not all come back at the same instant.
    """
    doublings = min(max(attempt - 1, 0), 20)  # 2**20 * 10 s is far past the cap already
    ceiling = min(RETRY_BASE_DELAY * (1 << doublings), RETRY_MAX_DELAY)
    return ceiling / 2 + ceiling / 2 * random.random()  # noqa: S311 - spreading load, not secrets
