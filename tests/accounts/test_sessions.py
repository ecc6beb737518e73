"""Sessions: refresh rotation and reuse detection, lifetimes, the cookie flow with its CSRF
check, listing and revoking sessions, logout; a revoked session's tokens stop at once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update

from mainspring.accounts.models import AuthSession, RefreshToken, SecurityEvent
from mainspring.app import create_app
from mainspring.core.cache_entries import KEY_PREFIX
from mainspring.core.config import Settings
from mainspring.core.db import utcnow
from tests.accounts.helpers import SignedInUser, create_user, sign_in
from tests.conftest import not_configured

pytestmark = pytest.mark.anyio

REFRESH = "/api/v1/auth/refresh"
ME = "/api/v1/users/me"
SESSIONS = "/api/v1/users/me/sessions"


async def refresh(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post(REFRESH, json={"refresh_token": token})


async def works(client: httpx.AsyncClient, access_token: str) -> bool:
    response = await client.get(ME, headers={"Authorization": f"Bearer {access_token}"})
    assert response.status_code in (200, 401)
    return response.status_code == 200


@pytest.fixture
async def user(app: FastAPI, client: httpx.AsyncClient) -> SignedInUser:
    return await sign_in(client, await create_user(app))


async def test_refresh_rotates_the_refresh_token(
    app: FastAPI, client: httpx.AsyncClient, user: SignedInUser
) -> None:
    first = await refresh(client, user.refresh_token)
    assert first.status_code == 200
    assert first.headers["cache-control"] == "no-store"
    body = first.json()
    assert body["refresh_token"] != user.refresh_token
    assert await works(client, body["access_token"])
    second = await refresh(client, body["refresh_token"])
    assert second.status_code == 200
    async with app.state.db.read_session() as session:
        digests = set((await session.scalars(select(RefreshToken.token_hash))).all())
    assert user.refresh_token not in digests  # stored as digests only
    assert len(digests) == 3  # one family: the login's token and two successors


async def test_reusing_a_refresh_token_revokes_its_whole_session(
    app: FastAPI, client: httpx.AsyncClient, user: SignedInUser
) -> None:
    rotated = (await refresh(client, user.refresh_token)).json()
    replay = await refresh(client, user.refresh_token)  # the old token, seen again
    assert replay.status_code == 401
    assert replay.json()["code"] == "invalid-refresh-token"
    # Everything of that session is dead: the newest refresh token and every access token.
    assert (await refresh(client, rotated["refresh_token"])).status_code == 401
    assert not await works(client, rotated["access_token"])
    assert not await works(client, user.access_token)
    async with app.state.db.read_session() as session:
        [event] = (
            await session.scalars(
                select(SecurityEvent).where(SecurityEvent.kind == "refresh_token_reused")
            )
        ).all()
        auth_session = await session.get(AuthSession, event.session_id)
    assert event.user_id == user.id
    assert auth_session is not None
    assert auth_session.revoked_reason == "refresh_token_reused"
    assert user.refresh_token not in str(event.details)


async def test_concurrent_refreshes_with_one_token_yield_one_success(
    client: httpx.AsyncClient, user: SignedInUser
) -> None:
    answers = await asyncio.gather(*(refresh(client, user.refresh_token) for _ in range(5)))
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [200, 401, 401, 401, 401]


@pytest.mark.parametrize(
    ("column", "age"),
    [
        ("expires_at", timedelta(seconds=1)),  # absolute lifetime over
        ("last_used_at", timedelta(days=7, seconds=1)),  # idle for longer than the default 7 days
    ],
)
async def test_sessions_end_after_their_lifetimes(
    app: FastAPI, client: httpx.AsyncClient, user: SignedInUser, column: str, age: timedelta
) -> None:
    async with app.state.db.session() as session:
        await session.execute(update(AuthSession).values({column: utcnow() - age}))
    assert (await refresh(client, user.refresh_token)).status_code == 401


async def test_logout_ends_the_session_at_once(
    app: FastAPI, client: httpx.AsyncClient, user: SignedInUser
) -> None:
    other = await sign_in(client, SignedInUser(user.id, user.email, user.username, user.password))
    assert await works(client, user.access_token)  # its state is now cached
    response = await client.post("/api/v1/auth/logout", headers=user.headers)
    assert response.status_code == 204
    assert not await works(client, user.access_token)
    assert (await refresh(client, user.refresh_token)).status_code == 401
    assert await works(client, other.access_token)  # another device stays signed in


async def test_list_and_revoke_my_sessions(
    app: FastAPI, client: httpx.AsyncClient, user: SignedInUser
) -> None:
    phone = await sign_in(client, SignedInUser(user.id, user.email, user.username, user.password))
    stranger = await sign_in(client, await create_user(app))
    listing = await client.get(SESSIONS, headers=user.headers)
    assert listing.status_code == 200
    items = listing.json()["items"]
    assert len(items) == 2
    assert [item["current"] for item in items] == [False, True]  # newest (the phone) first
    assert items[0]["ip"].startswith("10.")
    assert set(items[0]) == {
        "id",
        "created_at",
        "last_used_at",
        "expires_at",
        "ip",
        "user_agent",
        "current",
    }

    stranger_session = (await client.get(SESSIONS, headers=stranger.headers)).json()["items"][0]
    not_mine = await client.delete(f"{SESSIONS}/{stranger_session['id']}", headers=user.headers)
    assert not_mine.status_code == 404
    assert await works(client, stranger.access_token)

    revoked = await client.delete(f"{SESSIONS}/{items[0]['id']}", headers=user.headers)
    assert revoked.status_code == 204
    assert not await works(client, phone.access_token)
    assert (await refresh(client, phone.refresh_token)).status_code == 401
    assert await works(client, user.access_token)
    again = await client.delete(f"{SESSIONS}/{items[0]['id']}", headers=user.headers)
    assert again.status_code == 404


async def test_revoke_every_other_session(client: httpx.AsyncClient, user: SignedInUser) -> None:
    others = [
        await sign_in(client, SignedInUser(user.id, user.email, user.username, user.password))
        for _ in range(3)
    ]
    response = await client.post(f"{SESSIONS}/revoke-others", headers=user.headers)
    assert response.status_code == 204
    assert [await works(client, other.access_token) for other in others] == [False] * 3
    assert await works(client, user.access_token)
    listing = (await client.get(SESSIONS, headers=user.headers)).json()
    assert [item["current"] for item in listing["items"]] == [True]


async def test_session_list_costs_the_same_statements_at_any_size(
    client: httpx.AsyncClient, user: SignedInUser
) -> None:
    for _ in range(6):
        await sign_in(client, SignedInUser(user.id, user.email, user.username, user.password))
    assert await works(client, user.access_token)  # the session state is cached from here on
    counts = set()
    for limit in (1, 7, 100):
        response = await client.get(SESSIONS, params={"limit": limit}, headers=user.headers)
        assert len(response.json()["items"]) == min(limit, 7)
        counts.add(response.headers["x-db-statements"])
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = await client.get(SESSIONS, params=params, headers=user.headers)
        counts.add(page.headers["x-db-statements"])
        seen += [item["id"] for item in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert len(set(seen)) == len(seen) == 7
    assert len(counts) == 1


# --- browser clients: the refresh cookie ---------------------------------------------------------


@pytest.fixture
async def browser(app: FastAPI, client_address: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client that keeps cookies, over HTTPS (the cookies are ``Secure``)."""
    transport = httpx.ASGITransport(app=app, client=(client_address, 40_000))
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as c:
        yield c


async def test_cookie_login_and_refresh_with_csrf(app: FastAPI, browser: httpx.AsyncClient) -> None:
    user = await create_user(app)
    login = await browser.post(
        "/api/v1/auth/login",
        json={"identifier": user.email, "password": user.password, "cookie": True},
    )
    assert login.status_code == 200
    body = login.json()
    assert body["refresh_token"] is None  # never readable by scripts
    csrf = body["csrf_token"]
    cookies = login.headers.get_list("set-cookie")
    [refresh_cookie] = [c for c in cookies if c.startswith("mainspring_refresh=")]
    for attribute in ("HttpOnly", "Secure", "SameSite=strict", "Path=/api/v1/auth"):
        assert attribute.lower() in refresh_cookie.lower()
    [csrf_cookie] = [c for c in cookies if c.startswith("mainspring_csrf=")]
    assert "httponly" not in csrf_cookie.lower()  # the page's script reads it

    missing = await browser.post(REFRESH)
    assert (missing.status_code, missing.json()["code"]) == (403, "csrf-rejected")
    wrong = await browser.post(REFRESH, headers={"X-CSRF-Token": csrf[:-2] + "xx"})
    assert wrong.status_code == 403
    not_ascii = await browser.post(REFRESH, headers={b"X-CSRF-Token": "é".encode("latin-1")})
    assert not_ascii.status_code == 403
    ok = await browser.post(REFRESH, headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 200
    assert ok.json()["refresh_token"] is None
    assert await works(browser, ok.json()["access_token"])
    # The cookie was rotated: the browser now holds the successor, which works once more.
    again = await browser.post(REFRESH, headers={"X-CSRF-Token": csrf})
    assert again.status_code == 200

    logout = await browser.post(
        "/api/v1/auth/logout",
        headers={"Authorization": f"Bearer {again.json()['access_token']}"},
    )
    assert logout.status_code == 204
    assert "mainspring_refresh" not in browser.cookies
    assert (await browser.post(REFRESH, headers={"X-CSRF-Token": csrf})).status_code == 401


async def test_a_logout_on_one_replica_ends_the_session_on_another(
    app: FastAPI, client: httpx.AsyncClient, user: SignedInUser, settings: Settings
) -> None:
    # With Redis, each process keeps the session states it has read (Cache.keep_near): the
    # other replica's copy must hear of the revocation through Redis, not wait for a TTL.
    if not settings.redis_url and not settings.cache_url:
        not_configured("two replicas share their cache through Redis only")
    other_replica = create_app(settings)
    async with (
        other_replica.router.lifespan_context(other_replica),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=other_replica), base_url="http://testserver"
        ) as there,
    ):
        assert await works(there, user.access_token)  # the state is now in its copy
        assert await works(there, user.access_token)
        mirror = other_replica.state.cache._mirror
        assert mirror is not None
        assert mirror.live
        assert any(key.startswith(f"{KEY_PREFIX}session:") for key in mirror.values)
        response = await client.post("/api/v1/auth/logout", headers=user.headers)
        assert response.status_code == 204
        assert not await works(client, user.access_token)  # at once where it was revoked
        for _ in range(100):  # and on the other replica as soon as Redis's message arrives
            if not await works(there, user.access_token):
                break
            await asyncio.sleep(0.01)
        else:
            raise AssertionError("the other replica still accepts the token after 1 s")
