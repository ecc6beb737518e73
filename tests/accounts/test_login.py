"""Sign-in: tokens, the OAuth 2.0 token endpoint, brute-force limits, no user enumeration."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import bcrypt
import httpx
import jwt
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update

from mainspring.accounts.models import SecurityEvent, User
from mainspring.core.config import Settings
from mainspring.core.passwords import PasswordHasher
from tests.accounts.helpers import (
    PASSWORD,
    create_user,
    enable_two_factor,
    sign_in,
    signed_in_user,
    unique_name,
)

pytestmark = pytest.mark.anyio

LOGIN = "/api/v1/auth/login"
TOKEN = "/api/v1/auth/token"
ME = "/api/v1/users/me"


async def login(client: httpx.AsyncClient, identifier: str, password: str) -> httpx.Response:
    return await client.post(LOGIN, json={"identifier": identifier, "password": password})


async def events(app: FastAPI, kind: str) -> list[SecurityEvent]:
    async with app.state.db.read_session() as session:
        rows = await session.scalars(select(SecurityEvent).where(SecurityEvent.kind == kind))
        return list(rows.all())


async def test_login_with_email_or_username_in_any_case(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    user = await create_user(app, username=unique_name("Grace"))
    for identifier in (user.email, user.email.upper(), user.username.lower(), user.username):
        response = await login(client, f" {identifier} ", user.password)
        assert response.status_code == 200, identifier
        assert response.headers["cache-control"] == "no-store"
        body = response.json()
        assert set(body) == {
            "access_token",
            "token_type",
            "expires_in",
            "refresh_token",
            "csrf_token",
        }
        assert body["token_type"] == "bearer"
        assert body["expires_in"] == 900
        me = await client.get(ME, headers={"Authorization": f"Bearer {body['access_token']}"})
        assert me.json()["id"] == str(user.id)


async def test_access_token_claims(app: FastAPI, client: httpx.AsyncClient) -> None:
    user = await sign_in(client, await create_user(app))
    header = jwt.get_unverified_header(user.access_token)
    assert header == {"alg": "EdDSA", "kid": "test", "typ": "at+jwt"}
    jwks = (await client.get("/.well-known/jwks.json")).json()
    key = jwt.PyJWK(jwks["keys"][0])
    claims = jwt.decode(user.access_token, key, algorithms=["EdDSA"], audience="mainspring-api")
    assert claims["iss"] == "mainspring"
    assert claims["sub"] == str(user.id)
    assert uuid.UUID(claims["sid"])
    assert claims["exp"] - claims["iat"] == 900
    assert claims["nbf"] == claims["iat"]
    assert len(claims["jti"]) >= 16
    assert len(user.refresh_token) >= 43  # 256 bits, base64url


async def test_oauth_token_endpoint_password_and_refresh_grants(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    user = await create_user(app)
    granted = await client.post(
        TOKEN,
        data={"grant_type": "password", "username": user.username, "password": user.password},
    )
    assert granted.status_code == 200
    refreshed = await client.post(
        TOKEN,
        data={"grant_type": "refresh_token", "refresh_token": granted.json()["refresh_token"]},
    )
    assert refreshed.status_code == 200
    assert refreshed.json()["refresh_token"] != granted.json()["refresh_token"]

    wrong = await client.post(
        TOKEN, data={"grant_type": "password", "username": user.username, "password": "nope"}
    )
    assert wrong.status_code == 400
    assert wrong.headers["content-type"] == "application/problem+json"
    assert wrong.json()["error"] == "invalid_grant"
    unsupported = await client.post(TOKEN, data={"grant_type": "client_credentials"})
    assert unsupported.status_code == 400
    assert unsupported.json()["error"] == "unsupported_grant_type"


async def test_unknown_account_and_wrong_password_look_the_same(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    """Same status, body (but the request id), statements and hasher work: one verification,
    against a dummy hash when there is no account."""
    user = await create_user(app)
    hasher: PasswordHasher = app.state.password_hasher
    answers = []
    for identifier in (user.email, f"{unique_name()}@example.com", unique_name()):
        calls = hasher.calls
        answers.append(await login(client, identifier, "wrong password here"))
        assert hasher.calls - calls == 1
    bodies = [{k: v for k, v in r.json().items() if k != "request_id"} for r in answers]
    assert all(body == bodies[0] for body in bodies)
    assert {r.status_code for r in answers} == {401}
    assert bodies[0]["code"] == "invalid-credentials"
    assert len({r.headers["x-db-statements"] for r in answers}) == 1
    failures = await events(app, "login_failed")
    assert [e.user_id for e in failures].count(user.id) == 1
    assert all(e.details == {"reason": "bad_credentials"} for e in failures)


async def test_failed_logins_lock_the_identifier_then_even_the_right_password_waits(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    user = await create_user(app)
    for _ in range(5):  # the default: 5 per 5 minutes per identifier
        assert (await login(client, user.email, "not the password")).status_code == 401
    locked = await login(client, user.email.upper(), user.password)  # the same, normalised
    assert locked.status_code == 429
    assert locked.headers["content-type"] == "application/problem+json"
    assert 0 < int(locked.headers["retry-after"]) <= 300
    [lockout] = await events(app, "login_locked")
    assert lockout.user_id == user.id
    assert "password" not in str(lockout.details)


async def test_a_lockout_does_not_tell_which_email_is_whose(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    """Usernames are public. Were the lockout the account's, failures spent on a username would
    make that account's email, and no other address, answer 429: an email -> account oracle.
    The bucket is the identifier typed, so the owner's email answers like a stranger's."""
    user = await create_user(app)
    for _ in range(5):
        assert (await login(client, user.username, "not the password")).status_code == 401
    assert (await login(client, user.username, "not the password")).status_code == 429
    stranger = f"{unique_name()}@example.com"
    answers = [await login(client, email, "a guess") for email in (user.email, stranger)]
    assert [answer.status_code for answer in answers] == [401, 401]
    # The account's other bucket is spent at the same pace: twice the limit at most in all.
    for _ in range(4):
        assert (await login(client, user.email, "a guess")).status_code == 401
    assert (await login(client, user.email, user.password)).status_code == 429


async def test_unknown_accounts_are_throttled_like_real_ones(client: httpx.AsyncClient) -> None:
    ghost = f"{unique_name()}@example.com"
    statuses = [(await login(client, ghost, "guess number x")).status_code for _ in range(6)]
    assert statuses == [401] * 5 + [429]


async def test_failed_logins_are_limited_per_address_and_success_does_not_reset_it(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    user = await create_user(app)
    victims = [f"{unique_name()}@example.com" for _ in range(20)]
    for victim in victims[:19]:  # 19 failures over many accounts, under each account's limit
        assert (await login(client, victim, "guess")).status_code == 401
    assert (await login(client, user.email, user.password)).status_code == 200
    assert (await login(client, victims[19], "guess")).status_code == 401  # the 20th
    refused = await login(client, user.email, user.password)
    assert refused.status_code == 429


async def test_disabled_account_is_told_only_with_the_right_password(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    user = await create_user(app)
    async with app.state.db.session() as session:
        await session.execute(
            update(User).where(User.id == user.id).values(disabled_at=User.created_at)
        )
    assert (await login(client, user.email, "wrong password")).json()["code"] == (
        "invalid-credentials"
    )
    response = await login(client, user.email, user.password)
    assert (response.status_code, response.json()["code"]) == (403, "account-disabled")


@pytest.fixture
def verified_login_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"verified_email_required_for": ["login"]})


async def test_login_can_require_a_verified_email(verified_login_settings: Settings) -> None:
    from mainspring.app import create_app
    from tests.conftest import empty_tables

    app = create_app(verified_login_settings)
    transport = httpx.ASGITransport(app=app, client=("10.9.9.9", 1))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://t") as verified_client,
    ):
        try:
            unverified = await create_user(app, verified=False)
            verified = await create_user(app, verified=True)
            refused = await login(verified_client, unverified.email, unverified.password)
            assert (refused.status_code, refused.json()["code"]) == (403, "email-not-verified")
            assert (await login(verified_client, verified.email, PASSWORD)).status_code == 200
        finally:
            await empty_tables(app)


async def test_bcrypt_hashes_are_verified_then_upgraded_to_argon2id(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    user = await create_user(app)
    legacy = bcrypt.hashpw(user.password.encode(), bcrypt.gensalt(rounds=4)).decode()
    async with app.state.db.session() as session:
        await session.execute(update(User).where(User.id == user.id).values(password_hash=legacy))
    assert (await login(client, user.email, "wrong password")).status_code == 401
    assert (await login(client, user.email, user.password)).status_code == 200
    async with app.state.db.read_session() as session:
        upgraded = await session.scalar(select(User.password_hash).where(User.id == user.id))
    assert upgraded is not None
    assert upgraded.startswith("$argon2id$")
    assert (await login(client, user.email, user.password)).status_code == 200
    assert len(await events(app, "password_rehashed")) == 1


async def test_a_legacy_hash_is_upgraded_even_when_a_second_factor_is_asked_for(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    user = await signed_in_user(app, client)
    await enable_two_factor(client, user)
    legacy = bcrypt.hashpw(user.password.encode(), bcrypt.gensalt(rounds=4)).decode()
    async with app.state.db.session() as session:
        await session.execute(update(User).where(User.id == user.id).values(password_hash=legacy))
    response = await login(client, user.email, user.password)
    assert (response.status_code, response.json()["code"]) == (403, "mfa-required")
    async with app.state.db.read_session() as session:
        upgraded = await session.scalar(select(User.password_hash).where(User.id == user.id))
    assert upgraded is not None
    assert upgraded.startswith("$argon2id$")
    assert len(await events(app, "password_rehashed")) == 1


async def test_a_malformed_stored_hash_matches_nothing(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    user = await create_user(app)
    async with app.state.db.session() as session:
        await session.execute(
            update(User).where(User.id == user.id).values(password_hash="not-a-hash")
        )
    assert (await login(client, user.email, user.password)).status_code == 401


async def test_production_hasher_parameters() -> None:
    """The defaults (not the tests' fast ones): Argon2id, m=19 MiB, t=2, p=1."""
    defaults = Settings(_env_file=None)
    hasher = PasswordHasher.from_settings(defaults)
    hashed = await hasher.hash("correct horse battery staple")
    assert hashed.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert await hasher.verify("correct horse battery staple", hashed) == (True, None)
    assert await hasher.verify("correct horse battery stapl", hashed) == (False, None)
    # A hash made with weaker parameters verifies, and is upgraded.
    weak = await PasswordHasher(time_cost=1, memory_kib=64, parallelism=1, concurrency=1).hash(
        "correct horse battery staple"
    )
    valid, upgraded = await hasher.verify("correct horse battery staple", weak)
    assert valid
    assert upgraded is not None
    assert "m=19456,t=2" in upgraded


async def test_hashing_runs_off_the_event_loop_a_bounded_number_at_once() -> None:
    """Eight hashes with a limit of two: never more than two threads hash at once, and the
    event loop keeps answering (a ticker keeps ticking) while they run."""
    hasher = PasswordHasher(time_cost=2, memory_kib=19_456, parallelism=1, concurrency=2)
    running = peak = 0
    original = hasher._hash.hash

    def counting_hash(password: str, **kwargs: Any) -> str:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        try:
            return original(password, **kwargs)
        finally:
            running -= 1

    hasher._hash.hash = counting_hash  # type: ignore[method-assign,assignment]
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.001)

    tick_task = asyncio.create_task(ticker())
    started = time.perf_counter()
    await asyncio.gather(*(hasher.hash(f"password number {i}") for i in range(8)))
    tick_task.cancel()
    assert peak == 2
    assert hasher.calls == 8
    assert ticks >= 3, f"the loop was blocked for {time.perf_counter() - started:.2f}s"
