"""Liveness, readiness and metrics endpoints (outside ``/api/v1``: they are for machines).

``/healthz`` touches no dependency: it answers while the event loop runs, whatever the database
does. It is answered before routing (``LivenessFastPath``), inside the kernel's middleware like
any route: a liveness probe proves the process turns, and a load balancer or an orchestrator
sends many. ``/readyz`` runs every readiness check registered on the app (the database always; each
kernel backend registers its own) and answers 503 naming the dependency that failed, so a load
balancer stops sending traffic to a replica that cannot serve.

A readiness probe must stay cheap under any number of probers (``ReadinessProbe``): concurrent
calls share one round of checks, a round's result is reused for
``MAINSPRING_READINESS_CACHE_SECONDS``, and each check has ``MAINSPRING_READINESS_TIMEOUT_SECONDS``
to answer. A check still running when its deadline passes is reported as failed and left to
finish (never cancelled half-way through a database or Redis call); later rounds join it instead
of starting another, so a hung dependency costs one pending check, not one per probe.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from pydantic import Field
from starlette.types import ASGIApp, Receive, Scope, Send

from mainspring.core.errors import DatabaseUnavailable, problem_responses
from mainspring.core.observability import RouteLabel, require_metrics_scraper
from mainspring.core.schemas import Schema

ReadinessCheck = Callable[[], Awaitable[None]]

router = APIRouter(tags=["operations"])


class Liveness(Schema):
    status: str = Field(examples=["ok"])


class CheckResult(Schema):
    status: str = Field(examples=["ok"])
    latency_ms: float
    error: str | None = Field(None, description="The failure's type.", examples=["TimeoutError"])
    detail: str | None = Field(
        None, description="What failed, when known.", examples=["no answer within 1.0 s"]
    )


class Readiness(Schema):
    status: str = Field(examples=["ready"])
    checks: dict[str, CheckResult]


def register_readiness_check(app: FastAPI, name: str, check: ReadinessCheck) -> None:
    """Add a named check to the ones ``/readyz`` runs."""
    probe: ReadinessProbe = app.state.readiness
    probe.add(name, check)


class ReadinessProbe:
    """The checks of one application, run at most once at a time, their result reused briefly."""

    def __init__(self, *, timeout: float, reuse_seconds: float) -> None:
        self.checks: dict[str, ReadinessCheck] = {}
        self.timeout = timeout
        self.reuse_seconds = reuse_seconds
        self.rounds = 0
        """Rounds of checks run so far (not answers given: those may reuse a round)."""
        self._running: dict[str, tuple[float, asyncio.Task[None]]] = {}
        self._round: asyncio.Future[Readiness] | None = None
        self._last: tuple[float, Readiness] | None = None

    def add(self, name: str, check: ReadinessCheck) -> None:
        self.checks[name] = check
        self._last = None

    async def report(self) -> Readiness:
        """The last round's result if recent enough, else the round in flight, else a new one."""
        if self._last is not None and time.monotonic() - self._last[0] < self.reuse_seconds:
            return self._last[1]
        if self._round is None or self._round.done():
            self._round = asyncio.ensure_future(self._check_all())
        # Shielded: a prober that hangs up does not cancel the round the others wait for.
        return await asyncio.shield(self._round)

    async def _check_all(self) -> Readiness:
        self.rounds += 1
        running = {name: self._start(name) for name in list(self.checks)}
        if running:
            await asyncio.wait([task for _, task in running.values()], timeout=self.timeout)
        now = time.perf_counter()
        results = {
            name: self._result(task, round((now - started) * 1000, 2))
            for name, (started, task) in running.items()
        }
        ready = all(result.status == "ok" for result in results.values())
        report = Readiness(status="ready" if ready else "unready", checks=results)
        self._last = (time.monotonic(), report)
        return report

    def _start(self, name: str) -> tuple[float, asyncio.Task[None]]:
        """The check ``name``: the one still running from an earlier round, or a new one."""
        current = self._running.get(name)
        if current is not None and not current[1].done():
            return current
        task = asyncio.ensure_future(self.checks[name]())
        task.add_done_callback(_retrieve)
        self._running[name] = (time.perf_counter(), task)
        return self._running[name]

    def _result(self, task: asyncio.Task[None], latency_ms: float) -> CheckResult:
        if not task.done():
            return CheckResult(
                status="fail",
                latency_ms=latency_ms,
                error="TimeoutError",
                detail=f"no answer within {self.timeout:g} s",
            )
        error = task.exception() if not task.cancelled() else asyncio.CancelledError()
        if error is None:
            return CheckResult(status="ok", latency_ms=latency_ms)
        detail = error.reason if isinstance(error, DatabaseUnavailable) else None
        return CheckResult(
            status="fail", latency_ms=latency_ms, error=type(error).__name__, detail=detail
        )


def _retrieve(task: asyncio.Task[None]) -> None:
    """Mark a check's failure as seen: a round that timed out may never read it."""
    if not task.cancelled():
        task.exception()


@router.get("/healthz", summary="Liveness: the process is up")
async def healthz() -> Liveness:
    """Answers 200 as long as the process serves requests; checks no dependency."""
    # Documents the endpoint; ``LivenessFastPath`` answers GET and HEAD before routing.
    return Liveness(status="ok")


LIVENESS_BODY = Liveness(status="ok").model_dump_json().encode()


class LivenessFastPath:
    """``GET``/``HEAD /healthz``, answered before routing.

    Through FastAPI's route (matching, dependency solving, the response model) a liveness answer
    cost about three times the kernel's whole share of a request (docs/performance.md). This
    plain ASGI layer sends the same bytes ``healthz`` does. It sits inside ``KernelMiddleware``,
    which it never bypasses: the security headers, request id, metrics and access line are those
    of any route, under the route label ``/healthz``. Any other method (405 with ``Allow``) goes
    on to the router.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.route = RouteLabel("/healthz", "healthz")
        self.length = str(len(LIVENESS_BODY)).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["path"] == "/healthz"
            and scope["method"] in ("GET", "HEAD")
        ):
            scope["route"] = self.route
            headers = [(b"content-length", self.length), (b"content-type", b"application/json")]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": LIVENESS_BODY})
            return
        await self.app(scope, receive, send)


@router.get(
    "/readyz",
    summary="Readiness: every backend answers",
    responses={503: {"model": Readiness, "description": "A backend does not answer."}},
)
async def readyz(request: Request, response: Response) -> Readiness:
    """Checks the database and every configured backend (Redis...); 503 names the ones that
    failed. Concurrent probes share one round of checks, reused for a second by default."""
    probe: ReadinessProbe = request.app.state.readiness
    report = await probe.report()
    response.headers["Cache-Control"] = "no-store"
    if report.status != "ready":
        response.status_code = 503
        response.headers["Retry-After"] = "1"
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
