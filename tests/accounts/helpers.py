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
from typing import Any

import httpx
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
