"""Health, readiness, metrics, request ids and the security headers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI, Request
from prometheus_client.parser import text_string_to_metric_families

from mainspring.app import create_app
from mainspring.core.config import Settings
from mainspring.core.health import register_readiness_check


async def test_healthz(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-content-type-options"] == "nosniff"  # the kernel's, as any route
    assert response.headers["x-request-id"]


async def test_healthz_answers_head_and_refuses_other_methods_as_the_route_would(
    client: httpx.AsyncClient,
) -> None:
    # Answered before routing (core/health.py's fast path): GET and HEAD only; anything else
    # reaches the router, which knows the route and lists its methods.
    head = await client.head("/healthz")
    assert head.status_code == 200
    assert head.content == b""
    refused = await client.post("/healthz")
    assert refused.status_code == 405
    assert "GET" in refused.headers["allow"]
    assert refused.headers["content-type"] == "application/problem+json"


async def test_readyz_checks_the_database(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert body["checks"]["database"]["status"] == "ok"


async def test_readyz_is_503_when_a_backend_fails(app: FastAPI, client: httpx.AsyncClient) -> None:
    async def broken() -> None:
        raise ConnectionRefusedError("redis down")

    register_readiness_check(app, "redis", broken)
    response = await client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unready"
    assert body["checks"]["redis"] == {
        "status": "fail",
        "latency_ms": body["checks"]["redis"]["latency_ms"],
        "error": "ConnectionRefusedError",
        "detail": None,
    }
    assert body["checks"]["database"]["status"] == "ok"


async def test_metrics_count_requests_by_route_template(client: httpx.AsyncClient) -> None:
    await client.get("/healthz")
    await client.get("/no/such/thing")
    text = (await client.get("/metrics")).text
    assert 'mainspring_http_requests_total{method="GET",route="/healthz",status="200"}' in text
    assert 'route="<unmatched>",status="404"' in text
    assert "/no/such/thing" not in text  # raw paths never become labels
    assert "mainspring_http_requests_in_flight" in text
    assert 'mainspring_db_pool_connections{state="checked_out"}' in text
    assert "mainspring_http_request_duration_seconds_bucket" in text


def _samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_metrics_count_each_request_once_in_the_right_buckets(
    client: httpx.AsyncClient,
) -> None:
    """The values, not only the names: the counter, both histograms' buckets, sums and counts,
    and the gauge of requests in flight (the scrape itself is the one in flight)."""
    before = _samples((await client.get("/metrics")).text)
    for _ in range(2):
        assert (await client.get("/healthz")).status_code == 200
    listed = await client.get("/api/v1/articles?limit=2")
    assert listed.status_code == 200
    statements = int(listed.headers["x-db-statements"])
    assert statements > 0
    after = _samples((await client.get("/metrics")).text)

    def grew(name: str, **labels: str) -> float:
        key = (name, frozenset(labels.items()))
        return after[key] - before.get(key, 0.0)

    health = {"method": "GET", "route": "/healthz"}
    assert grew("mainspring_http_requests_total", status="200", **health) == 2
    assert grew("mainspring_http_request_duration_seconds_count", **health) == 2
    assert grew("mainspring_http_request_duration_seconds_bucket", le="+Inf", **health) == 2
    assert 0 < grew("mainspring_http_request_duration_seconds_sum", **health) < 10
    # /healthz runs no SQL: both requests fall in the first bucket, le="0.0".
    assert grew("mainspring_db_statements_per_request_bucket", route="/healthz", le="0.0") == 2
    articles = "/api/v1/articles"
    assert grew("mainspring_db_statements_per_request_sum", route=articles) == statements
    bounds = (0.0, 1.0, 2.0, 3.0, 5.0, 8.0, 13.0, 21.0, 34.0, 55.0)
    for bound in bounds:  # cumulative: every bucket at or above the count, none below
        expected = 1 if statements <= bound else 0
        grown = grew("mainspring_db_statements_per_request_bucket", route=articles, le=str(bound))
        assert grown == expected, bound
    assert after[("mainspring_http_requests_in_flight", frozenset())] == 1
    assert (
        "mainspring_http_requests_created",
        frozenset({**health, "status": "200"}.items()),
    ) in after


async def test_request_id_is_echoed_or_generated(client: httpx.AsyncClient) -> None:
    given = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert given.headers["x-request-id"] == "abc-123"
    made = await client.get("/healthz")
    assert len(made.headers["x-request-id"]) == 32
    hostile = await client.get("/healthz", headers={"X-Request-ID": "bad\tid" + "x" * 200})
    assert hostile.headers["x-request-id"] != "bad\tid" + "x" * 200


async def test_security_headers(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["content-security-policy"].startswith("default-src 'none'")
    assert "strict-transport-security" not in response.headers
    docs = await client.get("/docs")
    assert docs.status_code == 200
    assert "cdn.jsdelivr.net" in docs.headers["content-security-policy"]
    # A path no route serves is answered before routing (core/routing.py, RouteFirst), still
    # inside the kernel's layer: the same headers, and the exact problem+json of a 404.
    miss = await client.get("/no/such/page", headers={"X-Request-ID": "miss-1"})
    assert miss.status_code == 404
    assert miss.headers["x-content-type-options"] == "nosniff"
    assert miss.headers["content-security-policy"].startswith("default-src 'none'")
    assert miss.headers["content-type"] == "application/problem+json"
    assert miss.headers["content-length"] == str(len(miss.content))
    assert miss.json() == {
        "type": "urn:mainspring:problem:not-found",
        "title": "Not Found",
        "status": 404,
        "detail": "No resource at this path.",
        "code": "not-found",
        "instance": "/no/such/page",
        "request_id": "miss-1",
    }


async def test_hsts_only_over_https_from_a_trusted_proxy(client: httpx.AsyncClient) -> None:
    # The ASGI client connects from 127.0.0.1, a trusted proxy by default.
    response = await client.get("/healthz", headers={"X-Forwarded-Proto": "https"})
    assert "max-age=" in response.headers["strict-transport-security"]


async def test_proxy_headers_ignored_from_untrusted_peers(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"trusted_proxies": ["10.9.9.9"]}))
    seen: dict[str, object] = {}

    @app.get("/_test/client")
    async def whoami(request: Request) -> dict[str, object]:
        seen["client"] = request.client.host if request.client else None
        seen["scheme"] = request.url.scheme
        return {}

    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 5000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        response = await c.get(
            "/_test/client",
            headers={"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"},
        )
    assert response.status_code == 200
    assert seen == {"client": "127.0.0.1", "scheme": "http"}
    assert "strict-transport-security" not in response.headers


async def test_cors_allow_list(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"cors_origins": ["https://app.example"]}))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        allowed = await c.options(
            "/healthz",
            headers={"Origin": "https://app.example", "Access-Control-Request-Method": "GET"},
        )
        refused = await c.get("/healthz", headers={"Origin": "https://evil.example"})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://app.example"
    assert "access-control-allow-origin" not in refused.headers


async def test_one_access_log_line_per_request(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="mainspring.access")
    response = await client.get("/healthz", headers={"X-Request-ID": "log-me-1"})
    lines = [r for r in caplog.records if r.name == "mainspring.access"]
    assert len(lines) == 1
    event = lines[0].msg
    assert isinstance(event, dict)
    assert event["request_id"] == "log-me-1" == response.headers["x-request-id"]
    assert event["status"] == 200
    assert event["route"] == "/healthz"
    assert event["duration_ms"] >= 0


# --- readiness under many probes ---------------------------------------------------------------


class CountingCheck:
    """A readiness check that counts its runs and answers when ``release`` is set."""

    def __init__(self, fail: bool = False) -> None:
        self.calls = 0
        self.fail = fail
        self.release = asyncio.Event()
        self.release.set()

    async def __call__(self) -> None:
        self.calls += 1
        await self.release.wait()
        if self.fail:
            raise ConnectionRefusedError("down")


@asynccontextmanager
async def serving(
    settings: Settings, **overrides: object
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    app = create_app(settings.model_copy(update=overrides))
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as client,
    ):
        yield app, client


async def test_concurrent_readiness_probes_share_one_round_of_checks(settings: Settings) -> None:
    async with serving(settings, readiness_cache_seconds=60) as (app, client):
        check = CountingCheck()
        check.release.clear()
        register_readiness_check(app, "slow", check)
        probes = [asyncio.create_task(client.get("/readyz")) for _ in range(64)]
        await asyncio.sleep(0.05)
        check.release.set()
        responses = await asyncio.gather(*probes)
        assert [response.status_code for response in responses] == [200] * 64
        assert check.calls == 1
        assert app.state.readiness.rounds == 1
        # Within the reuse time the result is reused: a dependency that fails now is not seen.
        check.fail = True
        again = await client.get("/readyz")
        assert again.status_code == 200
        assert again.headers["cache-control"] == "no-store"
        assert check.calls == 1


async def test_readiness_without_reuse_sees_an_outage_at_once(settings: Settings) -> None:
    async with serving(settings, readiness_cache_seconds=0) as (app, client):
        check = CountingCheck()
        register_readiness_check(app, "redis", check)
        assert (await client.get("/readyz")).status_code == 200
        check.fail = True
        failed = await client.get("/readyz")
        assert failed.status_code == 503
        assert failed.headers["retry-after"] == "1"
        assert failed.json()["checks"]["redis"]["error"] == "ConnectionRefusedError"
        assert failed.json()["checks"]["database"]["status"] == "ok"
        assert check.calls == 2


async def test_a_hung_check_fails_by_its_deadline_and_is_not_started_again(
    settings: Settings,
) -> None:
    async with serving(settings, readiness_cache_seconds=0, readiness_timeout_seconds=0.05) as (
        app,
        client,
    ):
        check = CountingCheck()
        check.release.clear()  # never answers until released
        register_readiness_check(app, "redis", check)
        for _ in range(3):
            response = await client.get("/readyz")
            assert response.status_code == 503
            assert response.json()["checks"]["redis"] == {
                "status": "fail",
                "latency_ms": response.json()["checks"]["redis"]["latency_ms"],
                "error": "TimeoutError",
                "detail": "no answer within 0.05 s",
            }
        assert check.calls == 1  # later probes joined the pending check
        check.release.set()
        await asyncio.sleep(0)
        assert (await client.get("/readyz")).status_code == 200
