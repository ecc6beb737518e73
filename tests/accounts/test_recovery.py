"""Forgotten password: the same answer for every address, a single-use expiring link built from
configuration, and a reset that ends every session."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from mainspring.accounts.models import AccountToken
from mainspring.core.db import utcnow
from mainspring.core.passwords import PasswordHasher
from tests.accounts.conftest import Mailbox
from tests.accounts.helpers import create_user, sign_in, unique_name

pytestmark = pytest.mark.anyio

FORGOT = "/api/v1/auth/password/forgot"
RESET = "/api/v1/auth/password/reset"
NEW_PASSWORD = "a brand new passphrase"


async def test_forgot_answers_the_same_with_the_same_work_for_any_address(
    app: FastAPI, client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    user = await create_user(app)
    hasher: PasswordHasher = app.state.password_hasher
    calls = hasher.calls
    known = await client.post(FORGOT, json={"email": user.email})
    unknown = await client.post(FORGOT, json={"email": f"{unique_name()}@example.com"})
    assert known.status_code == unknown.status_code == 202
    assert known.json() == unknown.json()
    assert known.headers["x-db-statements"] == unknown.headers["x-db-statements"]
    assert hasher.calls == calls  # neither path hashes: neither even looks the account up

    [mail] = await mailbox.to(user.email)
    assert "Reset your" in mail.subject
    assert len(mailbox.smtp.messages) == 1  # nothing was sent for the unknown address


async def test_the_link_comes_from_configuration_not_the_host_header(
    app: FastAPI, client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    user = await create_user(app)
    await client.post(
        FORGOT,
        json={"email": user.email},
        headers={"Host": "evil.example", "X-Forwarded-Host": "evil.example"},
    )
    [mail] = await mailbox.to(user.email)
    assert "evil.example" not in mail.text
    assert f"{app.state.settings.public_url}/reset-password?token=" in mail.text


async def test_reset_sets_the_password_ends_every_session_and_notifies(
    app: FastAPI, client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    user = await sign_in(client, await create_user(app))
    await client.post(FORGOT, json={"email": user.email})
    token = await mailbox.link_token(user.email, "/reset-password")

    response = await client.post(RESET, json={"token": token, "new_password": NEW_PASSWORD})
    assert response.status_code == 204
    assert (await client.get("/api/v1/users/me", headers=user.headers)).status_code == 401
    refresh = await client.post("/api/v1/auth/refresh", json={"refresh_token": user.refresh_token})
    assert refresh.status_code == 401
    login = "/api/v1/auth/login"
    old = await client.post(login, json={"identifier": user.email, "password": user.password})
    assert old.status_code == 401
    new = await client.post(login, json={"identifier": user.email, "password": NEW_PASSWORD})
    assert new.status_code == 200
    subjects = [mail.subject for mail in await mailbox.to(user.email)]
    assert any("password was changed" in subject for subject in subjects)

    reused = await client.post(RESET, json={"token": token, "new_password": "yet another phrase"})
    assert (reused.status_code, reused.json()["code"]) == (400, "invalid-link")


async def test_only_the_newest_link_works_and_links_expire(
    app: FastAPI, client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    user = await create_user(app)
    await client.post(FORGOT, json={"email": user.email})
    first = await mailbox.link_token(user.email, "/reset-password")
    await client.post(FORGOT, json={"email": user.email})
    second = await mailbox.link_token(user.email, "/reset-password")
    assert first != second
    stale = await client.post(RESET, json={"token": first, "new_password": NEW_PASSWORD})
    assert stale.status_code == 400
    async with app.state.db.session() as session:
        await session.execute(
            update(AccountToken).values(expires_at=utcnow() - timedelta(seconds=1))
        )
    expired = await client.post(RESET, json={"token": second, "new_password": NEW_PASSWORD})
    assert expired.status_code == 400


async def test_the_new_password_follows_the_policy(
    app: FastAPI, client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    user = await create_user(app)
    await client.post(FORGOT, json={"email": user.email})
    token = await mailbox.link_token(user.email, "/reset-password")
    weak = await client.post(RESET, json={"token": token, "new_password": "iloveyou"})
    assert (weak.status_code, weak.json()["code"]) == (422, "weak-password")
    assert weak.json()["errors"][0]["field"] == "body.new_password"
    # A refused password does not use the link up.
    ok = await client.post(RESET, json={"token": token, "new_password": NEW_PASSWORD})
    assert ok.status_code == 204


async def test_reset_clears_the_failed_login_lockout(
    app: FastAPI, client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    user = await create_user(app)
    login = "/api/v1/auth/login"
    for _ in range(5):
        await client.post(login, json={"identifier": user.email, "password": "guess guess"})
    locked = await client.post(login, json={"identifier": user.email, "password": user.password})
    assert locked.status_code == 429
    await client.post(FORGOT, json={"email": user.email})
    token = await mailbox.link_token(user.email, "/reset-password")
    await client.post(RESET, json={"token": token, "new_password": NEW_PASSWORD})
    unlocked = await client.post(login, json={"identifier": user.email, "password": NEW_PASSWORD})
    assert unlocked.status_code == 200


async def test_forgot_is_throttled_per_address(client: httpx.AsyncClient) -> None:
    email = f"{unique_name()}@example.com"
    statuses = [(await client.post(FORGOT, json={"email": email})).status_code for _ in range(4)]
    assert statuses == [202, 202, 202, 429]
