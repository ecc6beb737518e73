"""Users for tests, through the real service and the real login endpoint.

Other modules' tests use them too::

    from tests.accounts.helpers import signed_in_user

    async def test_create_article(app: FastAPI, client: httpx.AsyncClient) -> None:
        ada = await signed_in_user(app, client)
        response = await client.post("/api/v1/articles", json={...}, headers=ada.headers)
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pyotp
from fastapi import FastAPI

from mainspring.accounts.service.registration import registration_service
from mainspring.core.auth import Role

PASSWORD = "long enough passphrase 42"


@dataclass
class SignedInUser:
    """A user and the tokens of one session."""

    id: uuid.UUID
    email: str
    username: str
    password: str
    access_token: str = ""
    refresh_token: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


def unique_name(prefix: str = "user") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


async def create_user(
    app: FastAPI,
    *,
    username: str | None = None,
    email: str | None = None,
    password: str = PASSWORD,
    role: Role = Role.USER,
    verified: bool = True,
) -> SignedInUser:
    """A user created through the accounts service (not signed in)."""
    username = username or unique_name()
    email = email or f"{username.lower()}@example.com"
    async with app.state.db.session() as session:
        user = await registration_service.create_account(
            session,
            app.state.password_hasher,
            email=email,
            username=username,
            password=password,
            role=role,
            verified=verified,
        )
    return SignedInUser(id=user.id, email=email, username=username, password=password)


async def sign_in(client: httpx.AsyncClient, user: SignedInUser, **extra: Any) -> SignedInUser:
    """Sign ``user`` in through ``POST /api/v1/auth/login``; keeps the new tokens on it."""
    response = await client.post(
        "/api/v1/auth/login",
        json={"identifier": user.email, "password": user.password, **extra},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    user.access_token = body["access_token"]
    user.refresh_token = body["refresh_token"] or ""
    user.extra = body
    return user


async def signed_in_user(
    app: FastAPI, client: httpx.AsyncClient, *, role: Role = Role.USER, **fields: Any
) -> SignedInUser:
    """A new user with ``role``, signed in."""
    return await sign_in(client, await create_user(app, role=role, **fields))


@dataclass
class Authenticator:
    """A user's authenticator app: real TOTP codes from the provisioning URI the API gave.

    The server accepts a code once, and only for the current 30-second step or one either
    side, so ``fresh_code`` hands out the current step's code, then the next step's: two codes
    per step, which is all a test needs (use a recovery code for more).
    """

    totp: pyotp.TOTP
    recovery_codes: list[str] = field(default_factory=list)
    last_step: int | None = None

    def fresh_code(self) -> str:
        current = self.totp.timecode(datetime.now(UTC))
        step = current if self.last_step is None else max(current, self.last_step + 1)
        assert step <= current + 1, "a test may use two codes per 30-second step"
        self.last_step = step
        return self.totp.generate_otp(step)

    def wrong_code(self) -> str:
        """A code the server cannot accept now (none of the steps it would look at)."""
        current = self.totp.timecode(datetime.now(UTC))
        valid = {self.totp.generate_otp(step) for step in range(current - 2, current + 3)}
        return next(f"{n:06d}" for n in range(1_000_000) if f"{n:06d}" not in valid)


async def enable_two_factor(client: httpx.AsyncClient, user: SignedInUser) -> Authenticator:
    """Enrol and confirm an authenticator for the signed-in ``user`` through the API."""
    enrolment = await client.post(
        "/api/v1/users/me/two-factor/enrolment",
        json={"password": user.password},
        headers=user.headers,
    )
    assert enrolment.status_code == 201, enrolment.text
    totp = pyotp.parse_uri(enrolment.json()["provisioning_uri"])
    assert isinstance(totp, pyotp.TOTP)
    app = Authenticator(totp)
    confirmed = await client.post(
        "/api/v1/users/me/two-factor/confirm", json={"code": app.fresh_code()}, headers=user.headers
    )
    assert confirmed.status_code == 200, confirmed.text
    app.recovery_codes = confirmed.json()["recovery_codes"]
    return app
