"""Rate limits over HTTP: 429 problems and headers, keys by IP, user or custom, the moving
window, the programmatic API, limits shared through Redis and the fail-closed fallback."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI, Request
from redis.asyncio import Redis

from mainspring.app import create_app
from mainspring.core.auth import CurrentPrincipal
from mainspring.core.config import Settings
from mainspring.core.errors import Unauthorized
from mainspring.core.ratelimit import (
    RateLimiterDep,
    RateLimitState,
    normalise_key,
    parse_limit,
    rate_limit,
)
from tests.accounts.helpers import signed_in_user
from tests.conftest import TEST_REDIS_URL, empty_tables, not_configured, unavailable

# Marked at collection (not only by conftest's auto-marking, which runs later): anyio would
# otherwise re-create the async tests for its backend and drop their own parameters.
pytestmark = pytest.mark.anyio

PROBLEM = "application/problem+json"
ON_EACH_BACKEND = pytest.mark.parametrize("backend", ["memory", "redis"])
UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1


async def api_key(request: Request) -> str:
    return request.headers.get("x-api-key", "")


def add_routes(app: FastAPI, scope: str) -> None:
    """Test-only routes; ``scope`` is unique per test, so counts left in Redis never leak."""

    # A default value, not an Annotated hint: the hint would be evaluated in the module's
    # globals (postponed annotations), where this function's ``scope`` does not exist.
    @app.get("/_test/limited")
    async def limited(
        state: RateLimitState = rate_limit("2/minute", scope=scope),
    ) -> dict[str, int]:
        return {"remaining": state.remaining}

    @app.get(
        "/_test/guarded",
        dependencies=[rate_limit("2/minute", scope=f"{scope}-guard", security=True)],
    )
    async def guarded() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/_test/open", dependencies=[rate_limit("1/minute", scope=f"{scope}-open")])
    async def open_limit() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/_test/moving", dependencies=[rate_limit("2/second", scope=f"{scope}-moving")])
    async def moving() -> dict[str, bool]:
        return {"ok": True}

    @app.get(
        "/_test/per-user",
        dependencies=[rate_limit("1/minute", by="user", scope=f"{scope}-user")],
    )
    async def per_user() -> dict[str, bool]:
        return {"ok": True}

    @app.get(
        "/_test/signed-in",
        dependencies=[rate_limit("1/minute", by="user", scope=f"{scope}-signed-in")],
    )
    async def signed_in(principal: CurrentPrincipal) -> dict[str, str]:
        return {"user": str(principal.user_id)}

    @app.get(
        "/_test/per-key", dependencies=[rate_limit("1/minute", by=api_key, scope=f"{scope}-key")]
    )
    async def per_key() -> dict[str, bool]:
        return {"ok": True}

    @app.get(
        "/_test/stacked",
        dependencies=[
            rate_limit("5/minute", scope=f"{scope}-wide"),
            rate_limit("2/minute", scope=f"{scope}-tight"),
            rate_limit("9/minute", scope=f"{scope}-wider"),
        ],
    )
    async def stacked() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/_test/route-a", dependencies=[rate_limit("1/minute")])
    async def route_a() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/_test/route-b", dependencies=[rate_limit("1/minute")])
    async def route_b() -> dict[str, bool]:
        return {"ok": True}

    @app.post("/_test/login")
    async def login(limiter: RateLimiterDep, email: str, password: str) -> dict[str, bool]:
        """Brute-force protection the way accounts does it: check, count failures, clear."""
        await limiter.check("2/minute", f"{scope}-login", email)
        if password != "right":
            await limiter.hit("2/minute", f"{scope}-login", email)
            raise Unauthorized("Wrong email or password.")
        await limiter.clear("2/minute", f"{scope}-login", email)
        return {"ok": True}


@pytest.fixture
def scope() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


@asynccontextmanager
async def running(settings: Settings, scope: str, ratelimit_url: str) -> AsyncIterator[FastAPI]:
    app = create_app(settings.model_copy(update={"ratelimit_url": ratelimit_url}))
    add_routes(app, scope)
    async with app.router.lifespan_context(app):
        try:
            yield app
        finally:
            await empty_tables(app)  # the users some tests sign in


def client_from(app: FastAPI, ip: str) -> httpx.AsyncClient:
    """A client connecting from ``ip`` (not a trusted proxy: its X-Forwarded-For is ignored)."""
    transport = httpx.ASGITransport(app=app, client=(ip, 50_000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def redis_url() -> str:
    if not TEST_REDIS_URL:
        not_configured("MAINSPRING_TEST_REDIS_URL is not set")
    assert TEST_REDIS_URL
    client = Redis.from_url(TEST_REDIS_URL)
    try:
        await client.ping()
    except OSError as exc:
        unavailable(f"Redis at MAINSPRING_TEST_REDIS_URL does not answer: {exc}")
    finally:
        await client.aclose()
    return TEST_REDIS_URL


@pytest.fixture
async def limited_app(backend: str, settings: Settings, scope: str) -> AsyncIterator[FastAPI]:
    """The app on each backend: the in-process one, then Redis when the test run has one."""
    url = "memory://" if backend == "memory" else await redis_url()
    async with running(settings, scope, url) as app:
        yield app


@pytest.fixture
async def memory_app(settings: Settings, scope: str) -> AsyncIterator[FastAPI]:
    async with running(settings, scope, "memory://") as app:
        yield app


@pytest.fixture
async def unreachable_app(settings: Settings, scope: str) -> AsyncIterator[FastAPI]:
    """An app whose Redis is down (created in a fixture, so caplog sees its logs)."""
    async with running(settings, scope, UNREACHABLE_REDIS) as app:
        yield app


@ON_EACH_BACKEND
async def test_spent_quota_answers_429_problem_with_headers(limited_app: FastAPI) -> None:
    async with client_from(limited_app, "203.0.113.1") as client:
        first = await client.get("/_test/limited")
        second = await client.get("/_test/limited")
        refused = await client.get("/_test/limited")

    assert first.status_code == second.status_code == 200
    assert first.json() == {"remaining": 1}
    assert first.headers["ratelimit-limit"] == "2"
    assert first.headers["ratelimit-remaining"] == "1"
    assert 0 < int(first.headers["ratelimit-reset"]) <= 60
    assert second.headers["ratelimit-remaining"] == "0"

    assert refused.status_code == 429
    assert refused.headers["content-type"] == PROBLEM
    body = refused.json()
    assert body["code"] == "rate-limited"
    assert body["status"] == 429
    assert body["request_id"] == refused.headers["x-request-id"]
    retry_after = int(refused.headers["retry-after"])
    assert 0 < retry_after <= 60
    assert f"retry in {retry_after} seconds" in body["detail"]
    assert refused.headers["ratelimit-limit"] == "2"
    assert refused.headers["ratelimit-remaining"] == "0"
    assert refused.headers["ratelimit-reset"] == str(retry_after)


@ON_EACH_BACKEND
async def test_the_window_moves_with_each_hit(limited_app: FastAPI) -> None:
    """2/second: a hit leaves the window one second after it was made, not at a boundary."""
    async with client_from(limited_app, "203.0.113.1") as client:
        assert (await client.get("/_test/moving")).status_code == 200  # t=0
        await asyncio.sleep(0.5)
        assert (await client.get("/_test/moving")).status_code == 200  # t=0.5
        refused = await client.get("/_test/moving")
        assert refused.status_code == 429
        assert refused.headers["retry-after"] == "1"
        await asyncio.sleep(0.7)
        # t=1.2: the hit of t=0 has left the window, the one of t=0.5 still counts. A fixed
        # window would have started afresh and allowed two.
        assert (await client.get("/_test/moving")).status_code == 200
        assert (await client.get("/_test/moving")).status_code == 429


async def test_each_client_address_has_its_own_quota(memory_app: FastAPI) -> None:
    async with (
        client_from(memory_app, "203.0.113.1") as one,
        client_from(memory_app, "203.0.113.2") as two,
    ):
        assert (await one.get("/_test/open")).status_code == 200
        assert (await one.get("/_test/open")).status_code == 429
        # An untrusted peer cannot pose as another client through X-Forwarded-For.
        spoofed = await one.get("/_test/open", headers={"X-Forwarded-For": "198.51.100.7"})
        assert spoofed.status_code == 429
        assert (await two.get("/_test/open")).status_code == 200


async def test_clients_behind_a_trusted_proxy_are_told_apart(memory_app: FastAPI) -> None:
    async with client_from(memory_app, "127.0.0.1") as proxy:  # trusted by default
        first = await proxy.get("/_test/open", headers={"X-Forwarded-For": "198.51.100.7"})
        again = await proxy.get("/_test/open", headers={"X-Forwarded-For": "198.51.100.7"})
        other = await proxy.get("/_test/open", headers={"X-Forwarded-For": "198.51.100.8"})
    assert (first.status_code, again.status_code, other.status_code) == (200, 429, 200)


async def test_by_user_follows_the_user_across_addresses(memory_app: FastAPI) -> None:
    async with (
        client_from(memory_app, "203.0.113.1") as one,
        client_from(memory_app, "203.0.113.2") as two,
    ):
        alice = (await signed_in_user(memory_app, one)).headers
        bob = (await signed_in_user(memory_app, one)).headers
        assert (await one.get("/_test/per-user", headers=alice)).is_success
        moved = await two.get("/_test/per-user", headers=alice)
        assert moved.status_code == 429  # same user, other address: same quota
        assert (await one.get("/_test/per-user", headers=bob)).is_success
        # Anonymous requests fall back to the address.
        assert (await one.get("/_test/per-user")).is_success
        assert (await one.get("/_test/per-user")).status_code == 429
        assert (await two.get("/_test/per-user")).is_success


async def test_by_user_authenticates_once_whatever_the_order(memory_app: FastAPI) -> None:
    """The limit resolves the principal itself; the handler's principal reuses it."""
    async with (
        client_from(memory_app, "203.0.113.1") as one,
        client_from(memory_app, "203.0.113.2") as two,
    ):
        alice = await signed_in_user(memory_app, one)
        answer = await one.get("/_test/signed-in", headers=alice.headers)
        assert answer.json() == {"user": str(alice.id)}
        assert (await two.get("/_test/signed-in", headers=alice.headers)).status_code == 429
        assert (await one.get("/_test/signed-in")).status_code == 401
        bad = await one.get("/_test/per-user", headers={"Authorization": "Bearer forged"})
        assert bad.status_code == 401  # a bad token is refused, not counted as anonymous


async def test_custom_keys_are_normalised(memory_app: FastAPI) -> None:
    async with (
        client_from(memory_app, "203.0.113.1") as one,
        client_from(memory_app, "203.0.113.2") as two,
    ):
        assert (await one.get("/_test/per-key", headers={"x-api-key": "Key-1"})).is_success
        same = await two.get("/_test/per-key", headers={"x-api-key": "  KEY-1 "})
        assert same.status_code == 429
        assert (await two.get("/_test/per-key", headers={"x-api-key": "key-2"})).is_success


async def test_the_tightest_of_several_limits_is_announced(memory_app: FastAPI) -> None:
    async with client_from(memory_app, "203.0.113.1") as client:
        response = await client.get("/_test/stacked")
        assert response.headers["ratelimit-limit"] == "2"
        assert response.headers["ratelimit-remaining"] == "1"
        await client.get("/_test/stacked")
        refused = await client.get("/_test/stacked")
    assert refused.status_code == 429
    assert refused.headers["ratelimit-limit"] == "2"


async def test_without_a_scope_each_route_has_its_own_quota(memory_app: FastAPI) -> None:
    async with client_from(memory_app, "203.0.113.1") as client:
        assert (await client.get("/_test/route-a")).is_success
        assert (await client.get("/_test/route-a")).status_code == 429
        assert (await client.get("/_test/route-b")).is_success
    async with client_from(memory_app, "127.0.0.1") as scraper:  # /metrics answers loopback
        metrics = (await scraper.get("/metrics")).text
    assert 'mainspring_ratelimit_rejections_total{scope="GET /_test/route-a"}' in metrics


async def test_login_lockout_with_the_programmatic_api(memory_app: FastAPI) -> None:
    async with client_from(memory_app, "203.0.113.1") as client:

        async def login(email: str, password: str) -> int:
            response = await client.post(
                "/_test/login", params={"email": email, "password": password}
            )
            return response.status_code

        assert await login("alice@example.com", "wrong") == 401
        assert await login("alice@example.com", "right") == 200  # success clears the count
        assert await login("alice@example.com", "wrong") == 401
        assert await login(" ALICE@Example.com ", "wrong") == 401  # same account
        assert await login("alice@example.com", "right") == 429  # locked out, even when right
        assert await login("bob@example.com", "right") == 200


async def test_rejections_are_counted_by_scope(memory_app: FastAPI, scope: str) -> None:
    async with client_from(memory_app, "203.0.113.1") as client:
        for _ in range(3):
            await client.get("/_test/limited")
        ready = (await client.get("/readyz")).json()
    async with client_from(memory_app, "127.0.0.1") as scraper:  # /metrics answers loopback
        metrics = (await scraper.get("/metrics")).text
    assert f'mainspring_ratelimit_rejections_total{{scope="{scope}"}} 1.0' in metrics
    assert "ratelimit" not in ready["checks"]  # the memory backend has nothing to check


async def test_two_instances_share_their_counts_through_redis(
    settings: Settings, scope: str
) -> None:
    url = await redis_url()
    async with (
        running(settings, scope, url) as one,
        running(settings, scope, url) as two,
        client_from(one, "203.0.113.1") as a,
        client_from(two, "203.0.113.1") as b,
    ):
        assert (await a.get("/_test/limited")).is_success
        second = await b.get("/_test/limited")
        assert second.is_success
        assert second.headers["ratelimit-remaining"] == "0"
        assert (await a.get("/_test/limited")).status_code == 429
        assert (await b.get("/_test/limited")).status_code == 429
        ready = (await a.get("/readyz")).json()
    assert ready["checks"]["ratelimit"]["status"] == "ok"


async def test_security_limits_hold_when_redis_is_unreachable(
    unreachable_app: FastAPI, scope: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("WARNING", logger="mainspring.ratelimit")
    async with client_from(unreachable_app, "203.0.113.1") as client:
        guarded = [(await client.get("/_test/guarded")).status_code for _ in range(3)]
        opened = [(await client.get("/_test/open")).status_code for _ in range(3)]
        ready = await client.get("/readyz")
    async with client_from(unreachable_app, "127.0.0.1") as scraper:  # /metrics: loopback
        metrics = (await scraper.get("/metrics")).text

    assert guarded == [200, 200, 429]  # fails closed: counted in the process
    assert opened == [200, 200, 200]  # an ordinary limit fails open
    warnings = [
        r.msg
        for r in caplog.records
        if isinstance(r.msg, dict) and r.msg.get("event") == "ratelimit_backend_unavailable"
    ]
    assert len(warnings) == 1  # logged once, not once per request
    assert warnings[0]["error"] == "ConnectionError"
    assert ready.status_code == 503
    assert ready.json()["checks"]["ratelimit"]["status"] == "fail"
    assert (
        f'mainspring_ratelimit_degraded_total{{outcome="fallback",scope="{scope}-guard"}} 3.0'
        in metrics
    )
    assert (
        f'mainspring_ratelimit_degraded_total{{outcome="allowed",scope="{scope}-open"}} 3.0'
        in metrics
    )


def test_normalise_key() -> None:
    assert normalise_key("  Alice@Example.COM ") == "alice@example.com"
    fullwidth = "\uff21\uff2c\uff29\uff23\uff25"  # "ALICE" in fullwidth letters
    assert normalise_key(fullwidth) == "alice"  # compatibility forms fold (NFKC)
    assert normalise_key("2001:DB8::1") == "2001:db8::1"
    # The separator is escaped: no value can pose as two key parts.
    assert normalise_key("a/b") == "a%2fb"
    assert normalise_key("a%2fb") == "a%252fb"
    long = normalise_key("x" * 500)
    assert long.startswith("sha256:")
    assert len(long) == len("sha256:") + 64
    assert normalise_key("bad\x00key").startswith("sha256:")


def test_malformed_limits_are_refused_when_declared() -> None:
    assert parse_limit("5 per 15 minutes").get_expiry() == 900
    with pytest.raises(ValueError, match="rate limit"):
        rate_limit("ten a minute")
    with pytest.raises(ValueError, match="one rate limit"):
        rate_limit("1/second;10/minute")
    with pytest.raises(ValueError, match="'ip', 'user'"):
        rate_limit("1/second", by="email")  # type: ignore[arg-type]
