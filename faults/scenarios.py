"""The faults, what each one must not break, and the figures it leaves."""

from __future__ import annotations

import signal
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from faults.load import Load, Record
from faults.servers import Postgres, Redis, Service

STEADY_SECONDS = 3.0
AFTER_SECONDS = 7.0
OUTAGE_SECONDS = 5.0


@dataclass(frozen=True)
class Bounds:
    """What the service promises, from the settings the suite gives it (see ``__main__``)."""

    request_seconds: float  # no answered request slower than this
    recovery_seconds: float  # serving normally this long after the dependency is back
    healthz_seconds: float  # /healthz answers within this, whatever the database does


@dataclass
class Suite:
    pg: Postgres
    redis: Redis
    service: Service
    bounds: Bounds
    grace_seconds: int


@dataclass
class Outcome:
    name: str
    statuses: dict[str, int] = field(default_factory=dict)
    slowest_seconds: float = 0.0
    recovery_seconds: float | None = None
    acknowledged: int = 0
    failures: list[str] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Fault:
    name: str
    inject: Callable[[Suite], tuple[float, float]]
    """Does the damage and the repair; returns (fault time, back time), monotonic."""
    service_down: bool = False
    """The service itself stops: requests without an answer are expected meanwhile."""
    readyz_must_fail: bool = False
    readyz_back_within: float | None = None
    """Judge /readyz's own return separately with this bound (None: it counts in recovery)."""


def _pg_restart(suite: Suite) -> tuple[float, float]:
    fault = time.monotonic()
    suite.pg.restart("fast")  # returns once PostgreSQL accepts connections again
    return fault, time.monotonic()


def _pg_stop(suite: Suite) -> tuple[float, float]:
    fault = time.monotonic()
    suite.pg.stop("fast")
    time.sleep(OUTAGE_SECONDS)
    suite.pg.start()
    return fault, time.monotonic()


def _redis_kill(suite: Suite) -> tuple[float, float]:
    fault = time.monotonic()
    suite.redis.kill()
    time.sleep(OUTAGE_SECONDS)
    suite.redis.start()
    return fault, time.monotonic()


def _sigterm(suite: Suite) -> tuple[float, float]:
    fault = time.monotonic()
    suite.service.signal(signal.SIGTERM)
    code = suite.service.wait(timeout=2 * suite.grace_seconds + 30)
    if code != 0:
        raise AssertionError(f"the service exited {code} on SIGTERM, not 0")
    suite.service.start()
    return fault, time.monotonic()


def _kill_9(suite: Suite) -> tuple[float, float]:
    fault = time.monotonic()
    suite.service.signal(signal.SIGKILL)
    suite.service.wait(timeout=10)
    suite.service.start()
    return fault, time.monotonic()


FAULTS = [
    Fault("pg-restart", _pg_restart, readyz_must_fail=False),
    Fault("pg-stop", _pg_stop, readyz_must_fail=True),
    # Redis clients reconnect with their own backoff: readiness gets its own, looser bound.
    Fault("redis-kill", _redis_kill, readyz_must_fail=True, readyz_back_within=10.0),
    Fault("sigterm", _sigterm, service_down=True),
    Fault("kill-9", _kill_9, service_down=True),
]


def run_fault(suite: Suite, fault: Fault, acknowledged: list[str]) -> Outcome:
    load = Load(suite.service.base_url)
    load.start()
    try:
        time.sleep(STEADY_SECONDS)
        fault_at, back_at = fault.inject(suite)
        time.sleep(AFTER_SECONDS)
    finally:
        load.stop()
    acknowledged += load.acknowledged
    outcome = judge(fault, suite.bounds, load.records, fault_at, back_at)
    outcome.acknowledged = len(load.acknowledged)
    outcome.notes["outage_seconds"] = round(back_at - fault_at, 2)
    return outcome


def judge(
    fault: Fault, bounds: Bounds, records: list[Record], fault_at: float, back_at: float
) -> Outcome:
    outcome = Outcome(fault.name)
    traffic = [r for r in records if r.kind in ("read", "write")]
    counts: Counter[str] = Counter()
    for record in traffic:
        counts[str(record.status) if record.status is not None else record.error or "error"] += 1
    outcome.statuses = dict(sorted(counts.items()))
    answered = [r for r in records if r.status is not None]
    outcome.slowest_seconds = round(max((r.seconds for r in answered), default=0.0), 2)

    server_errors = [
        r.status for r in records if r.status is not None and r.status >= 500 and r.status != 503
    ]
    if server_errors:
        outcome.failures.append(f"{len(server_errors)} answers {sorted(set(server_errors))}")
    no_retry_after = [r for r in records if r.status == 503 and not r.retry_after]
    if no_retry_after:
        outcome.failures.append(f"{len(no_retry_after)} 503 without Retry-After")
    slow = [r for r in answered if r.seconds > bounds.request_seconds]
    if slow:
        outcome.failures.append(
            f"{len(slow)} answers slower than {bounds.request_seconds} s "
            f"(slowest {max(r.seconds for r in slow):.1f} s)"
        )
    timeouts = [r for r in records if r.error == "client timeout"]
    if timeouts:
        outcome.failures.append(f"{len(timeouts)} requests hung past the client timeout")
    healthz = [r for r in records if r.kind == "healthz"]
    if fault.service_down:
        healthz = [r for r in healthz if r.status is not None]
    slow_health = [r for r in healthz if r.status != 200 or r.seconds > bounds.healthz_seconds]
    if slow_health:
        outcome.failures.append(f"{len(slow_health)} /healthz not answered 200 promptly")
    outcome.notes["healthz_slowest_seconds"] = round(
        max((r.seconds for r in healthz), default=0.0), 3
    )

    readyz = [r for r in records if r.kind == "readyz" and r.status is not None]
    outcome.notes["readyz_503"] = sum(r.status == 503 for r in readyz)
    outcome.notes["readyz_failed"] = dict(Counter(r.error for r in readyz if r.status == 503))
    outcome.notes["readyz_back_seconds"] = round(
        max((r.ended - back_at for r in readyz if r.status == 503 and r.started >= fault_at),
            default=0.0), 2
    )  # fmt: skip
    if fault.readyz_must_fail and not any(
        r.status == 503 and fault_at <= r.started <= back_at for r in readyz
    ):
        outcome.failures.append("/readyz never answered 503 during the outage")

    # Recovery: from the dependency (or the service) being back to the end of the last request
    # that did not succeed; no failure after the fault at all is a recovery of 0 s.
    in_recovery = not fault.service_down and fault.readyz_back_within is None
    watched = traffic + (readyz if in_recovery else [])
    if (
        fault.readyz_back_within is not None
        and outcome.notes["readyz_back_seconds"] > fault.readyz_back_within
    ):
        outcome.failures.append(
            f"/readyz back {outcome.notes['readyz_back_seconds']} s after the dependency, "
            f"bound {fault.readyz_back_within} s"
        )
    bad_after = [r for r in watched if r.started >= fault_at and not r.ok]
    last_bad = max((r.ended for r in bad_after), default=back_at)
    outcome.recovery_seconds = round(max(0.0, last_bad - back_at), 2)
    if outcome.recovery_seconds > bounds.recovery_seconds:
        outcome.failures.append(
            f"recovered in {outcome.recovery_seconds} s, target {bounds.recovery_seconds} s"
        )
    if not any(r.ok and r.kind == "write" and r.started >= back_at for r in traffic):
        outcome.failures.append("no write succeeded after the fault")
    return outcome
