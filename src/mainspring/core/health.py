"""Liveness, readiness and metrics endpoints (outside ``/api/v1``: they are for machines).

``/readyz`` runs every readiness check registered on the app (the database always; each kernel
backend registers its own) with a timeout, and answers 503 when any fails, so a load balancer
stops sending traffic to a replica that cannot serve.

A probe must stay cheap under any number of concurrent probes (a load balancer, an orchestrator
and a monitor all ask, every second, on every replica): concurrent probes share ONE in-flight
run of the checks, and its result is reused for ``MAINSPRING_READINESS_CACHE_SECONDS``. So 64
probes at once cost each dependency one round trip, and an outage shows within that time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from pydantic import Field

from mainspring.core.errors import problem_responses
from mainspring.core.observability import require_metrics_scraper
from mainspring.core.schemas import Schema

ReadinessCheck = Callable[[], Awaitable[None]]

router = APIRouter(tags=["operations"])


class Liveness(Schema):
    status: str = Field(examples=["ok"])


class CheckResult(Schema):
    status: str = Field(examples=["ok"])
    latency_ms: float
    error: str | None = None


class Readiness(Schema):
    status: str = Field(examples=["ready"])
    checks: dict[str, CheckResult]


class ReadinessProbe:
    """The registered checks, run at most once at a time and reused for a short while."""

    def __init__(self, *, reuse_seconds: float, timeout_seconds: float) -> None:
        self.checks: dict[str, ReadinessCheck] = {}
        self.reuse_seconds = reuse_seconds
        self.timeout_seconds = timeout_seconds
        self.runs = 0
        """How many times the checks ran (tests read it)."""
        self._last: tuple[float, Readiness] | None = None
        self._running: asyncio.Future[Readiness] | None = None

    def add(self, name: str, check: ReadinessCheck) -> None:
        self.checks[name] = check
        self._last = None

    async def report(self) -> Readiness:
        """The latest result if it is fresh, else the run in flight, else a new run."""
        if self._last is not None and time.monotonic() - self._last[0] < self.reuse_seconds:
            return self._last[1]
        if self._running is None:
            self._running = asyncio.ensure_future(self._run_all())
            self._running.add_done_callback(self._finished)
        # shield: a probe whose client goes away must not cancel the others' shared run.
        return await asyncio.shield(self._running)

    def _finished(self, run: asyncio.Future[Readiness]) -> None:
        self._running = None
        if not run.cancelled() and run.exception() is None:
            self._last = (time.monotonic(), run.result())

    async def _run_all(self) -> Readiness:
        self.runs += 1
        names = list(self.checks)
        results = await asyncio.gather(*(self._run(self.checks[name]) for name in names))
        report = dict(zip(names, results, strict=True))
        ready = all(result.status == "ok" for result in results)
        return Readiness(status="ready" if ready else "unready", checks=report)

    async def _run(self, check: ReadinessCheck) -> CheckResult:
        return await _run(check, self.timeout_seconds)


def register_readiness_check(app: FastAPI, name: str, check: ReadinessCheck) -> None:
    """Add a named check to the ones ``/readyz`` runs."""
    probe: ReadinessProbe = app.state.readiness
    probe.add(name, check)


async def _run(check: ReadinessCheck, seconds: float) -> CheckResult:
    started = time.perf_counter()
    try:
        await asyncio.wait_for(check(), seconds)
    except Exception as exc:  # a failed check is a result, not an error of this endpoint
        return CheckResult(
            status="fail",
            latency_ms=round((time.perf_counter() - started) * 1000, 2),
            error=type(exc).__name__,
        )
    return CheckResult(status="ok", latency_ms=round((time.perf_counter() - started) * 1000, 2))


@router.get("/healthz", summary="Liveness: the process is up")
async def healthz() -> Liveness:
    """Answers 200 as long as the process serves requests; checks no dependency."""
    return Liveness(status="ok")


@router.get(
    "/readyz",
    summary="Readiness: every backend answers",
    responses={503: {"model": Readiness, "description": "A backend does not answer."}},
)
async def readyz(request: Request, response: Response) -> Readiness:
    """Checks the database and every configured backend (Redis...); 503 when any fails, with
    the failed one named. Concurrent probes share one run, reused for a second by default."""
    probe: ReadinessProbe = request.app.state.readiness
    report = await probe.report()
    if report.status != "ready":
        response.status_code = 503
        response.headers["Retry-After"] = "1"
    response.headers["Cache-Control"] = "no-store"
    return report


@router.get(
    "/metrics",
    summary="Prometheus metrics (for the scraper only)",
    response_class=Response,
    dependencies=[Depends(require_metrics_scraper)],
    responses={
        200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}},
        **problem_responses(401, 403),
    },
)
async def metrics() -> Response:
    """Request counts and latency by route template, requests in flight, database pool.
    Bearer ``MAINSPRING_METRICS_TOKEN`` when it is set; loopback clients only otherwise."""
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
