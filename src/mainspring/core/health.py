"""Liveness, readiness and metrics endpoints (outside ``/api/v1``: they are for machines).

``/readyz`` runs every readiness check registered on the app (the database always; each kernel
backend registers its own) with a timeout, and answers 503 when any fails, so a load balancer
stops sending traffic to a replica that cannot serve.
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
CHECK_TIMEOUT_SECONDS = 2.0

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


def register_readiness_check(app: FastAPI, name: str, check: ReadinessCheck) -> None:
    """Add a named check to the ones ``/readyz`` runs."""
    checks: dict[str, ReadinessCheck] = app.state.readiness_checks
    checks[name] = check


async def _run(check: ReadinessCheck) -> CheckResult:
    started = time.perf_counter()
    try:
        await asyncio.wait_for(check(), CHECK_TIMEOUT_SECONDS)
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
    """Checks the database and every configured backend (Redis...); 503 when any fails."""
    checks: dict[str, ReadinessCheck] = request.app.state.readiness_checks
    names = list(checks)
    results = await asyncio.gather(*(_run(checks[name]) for name in names))
    report = dict(zip(names, results, strict=True))
    ready = all(result.status == "ok" for result in results)
    if not ready:
        response.status_code = 503
    return Readiness(status="ready" if ready else "unready", checks=report)


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
