"""Every path that hashes or verifies a password does it holding no database connection (on
SQLite, not the write lock): registration, password change and reset, account deletion, email
change, a second factor's enrolment (sign-in: ``test_login_storm.py``). With a pool of ONE
connection, a write made while such a request is hashing answers at once; when the request
held its connection through the hash, that write waited for the pool and answered 503.

And the check still stands: a password changed while a re-authentication was hashing refuses
the request, as a wrong password would."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from mainspring.accounts.models import User
from mainspring.core.config import Settings
from tests.accounts.conftest import Mailbox
from tests.conftest import make_settings
from tests.fixtures.mail import SMTPServer
from tests.fixtures.users import PASSWORD, NewUser, SignedInUser

NEW_PASSWORD = "another long passphrase 43"


@pytest.fixture
def settings(database_url: str, smtp_server: SMTPServer) -> Settings:
    return smtp_server.configure(
        make_settings(
            database_url,
            database_pool_size=1,
            database_max_overflow=0,
            database_pool_timeout_seconds=1.0,
            sqlite_busy_timeout_ms=1000,
        )
    )


class HeldHasher:
    """The app's hasher, its first hash or verification held until ``release``."""

    def __init__(self, app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> None:
        self.hashing, self.released = asyncio.Event(), asyncio.Event()
        hasher = app.state.password_hasher
        self._monkeypatch, self._hasher = monkeypatch, hasher
        self._originals = {name: getattr(hasher, name) for name in ("hash", "verify")}
        for name, original in self._originals.items():
            monkeypatch.setattr(hasher, name, self._held(original))

    def _held(self, original: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def held(*args: Any) -> Any:
            self.hashing.set()
            await self.released.wait()  # the hash "takes" until the test releases it
            return await original(*args)

        return held

    def restore(self) -> None:
        """Later hashes run at once (the held request stays held until ``release``)."""
        for name, original in self._originals.items():
            self._monkeypatch.setattr(self._hasher, name, original)

    async def start(self, request: Awaitable[httpx.Response]) -> asyncio.Task[httpx.Response]:
        """Send ``request`` and return once it is hashing."""
        task = asyncio.ensure_future(request)
        await asyncio.wait_for(self.hashing.wait(), timeout=10)
        return task


@dataclass
class Case:
    """A request that hashes, and what it answers."""

    method: str
    path: str
    status: int
    body: dict[str, Any]


async def registration(client: httpx.AsyncClient, ada: SignedInUser, mailbox: Mailbox) -> Case:
    body = {"email": "grace@example.com", "username": "grace", "password": PASSWORD}
    return Case("POST", "/api/v1/auth/register", 202, body)


async def password_change(client: httpx.AsyncClient, ada: SignedInUser, mailbox: Mailbox) -> Case:
    body = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    return Case("POST", "/api/v1/users/me/password", 204, body)


async def password_reset(client: httpx.AsyncClient, ada: SignedInUser, mailbox: Mailbox) -> Case:
    forgot = await client.post("/api/v1/auth/password/forgot", json={"email": ada.email})
    assert forgot.status_code == 202, forgot.text
    token = await mailbox.link_token(ada.email, "/reset-password")
    body = {"token": token, "new_password": NEW_PASSWORD}
    return Case("POST", "/api/v1/auth/password/reset", 204, body)


async def account_deletion(client: httpx.AsyncClient, ada: SignedInUser, mailbox: Mailbox) -> Case:
    return Case("DELETE", "/api/v1/users/me", 204, {"password": PASSWORD})


async def email_change(client: httpx.AsyncClient, ada: SignedInUser, mailbox: Mailbox) -> Case:
    body = {"new_email": "ada.new@example.com", "password": PASSWORD}
    return Case("POST", "/api/v1/users/me/email", 202, body)


async def two_factor_enrolment(
    client: httpx.AsyncClient, ada: SignedInUser, mailbox: Mailbox
) -> Case:
    return Case("POST", "/api/v1/users/me/two-factor/enrolment", 201, {"password": PASSWORD})


CASES = [
    registration,
    password_change,
    password_reset,
    account_deletion,
    email_change,
    two_factor_enrolment,
]


@pytest.mark.parametrize("prepare", CASES, ids=[case.__name__ for case in CASES])
async def test_a_request_holds_no_connection_while_it_hashes(
    app: FastAPI,
    client: httpx.AsyncClient,
    new_user: NewUser,
    mailbox: Mailbox,
    monkeypatch: pytest.MonkeyPatch,
    prepare: Callable[[httpx.AsyncClient, SignedInUser, Mailbox], Awaitable[Case]],
) -> None:
    ada = await new_user("ada")
    bob = await new_user("bob")
    case = await prepare(client, ada, mailbox)
    hasher = HeldHasher(app, monkeypatch)
    request = await hasher.start(
        client.request(case.method, case.path, json=case.body, headers=ada.headers)
    )

    write = await client.post("/api/v1/projects", json={"name": "Launch"}, headers=bob.headers)
    hasher.released.set()

    assert write.status_code == 201, write.text
    answered = await request
    assert answered.status_code == case.status, answered.text


async def test_a_registration_that_hashed_still_meets_the_unique_username(
    app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The username is checked in the request's transaction, after the hash: one taken while
    the registration was hashing is refused (409), and one account holds it."""
    hasher = HeldHasher(app, monkeypatch)
    body = {"email": "grace@example.com", "username": "grace", "password": PASSWORD}
    first = await hasher.start(client.post("/api/v1/auth/register", json=body))
    hasher.restore()
    other = {**body, "email": "hopper@example.com"}
    taken_meanwhile = await client.post("/api/v1/auth/register", json=other)
    assert taken_meanwhile.status_code == 202, taken_meanwhile.text
    hasher.released.set()

    refused = await first
    assert refused.status_code == 409, refused.text
    assert refused.json()["code"] == "username-taken"
    async with app.state.db.read_session() as session:
        emails = (await session.scalars(select(User.email).where(User.username == "grace"))).all()
    assert emails == ["hopper@example.com"]


@pytest.mark.parametrize("prepare", [password_change, account_deletion, email_change])
async def test_a_password_changed_during_the_check_refuses_the_request(
    app: FastAPI,
    client: httpx.AsyncClient,
    new_user: NewUser,
    mailbox: Mailbox,
    monkeypatch: pytest.MonkeyPatch,
    prepare: Callable[[httpx.AsyncClient, SignedInUser, Mailbox], Awaitable[Case]],
) -> None:
    """The account is read before the hash and again in the request's transaction: the old
    password, checked while the password changed, changes nothing."""
    ada = await new_user("ada")
    case = await prepare(client, ada, mailbox)
    hasher = HeldHasher(app, monkeypatch)
    request = await hasher.start(
        client.request(case.method, case.path, json=case.body, headers=ada.headers)
    )
    hasher.restore()
    changed = await client.post(
        "/api/v1/users/me/password",
        json={"current_password": PASSWORD, "new_password": "yet another passphrase 44"},
        headers=ada.headers,
    )
    assert changed.status_code == 204, changed.text
    hasher.released.set()

    refused = await request
    assert refused.status_code == 403, refused.text
    assert refused.json()["code"] == "wrong-password"
    async with app.state.db.read_session() as session:
        user = await session.get(User, ada.id)
    assert user is not None
    assert user.is_active
    assert user.email == ada.email
