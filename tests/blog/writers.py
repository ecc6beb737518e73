"""What the blog's and the RealWorld adapter's tests build on: signed-in writers and readers
(accounts created through the accounts service, signed in through the real login endpoint),
and a short way to publish an article over HTTP."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from mainspring.accounts.service.registration import registration_service
from mainspring.core.auth import Role
from mainspring.core.config import Settings

PASSWORD = "correct horse battery staple"
ARTICLES = "/api/v1/articles"


@dataclass(frozen=True)
class Writer:
    """A registered, signed-in user: ``headers`` carry their access token."""

    id: uuid.UUID
    username: str
    email: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


Writers = Callable[..., Awaitable[Writer]]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Cheap password hashing: these tests sign many people in, none of them tests Argon2."""
    return settings.model_copy(update={"password_hash_memory_kib": 8, "password_hash_time_cost": 1})


@pytest.fixture
async def client(app: FastAPI, client: httpx.AsyncClient) -> httpx.AsyncClient:
    """The suite's client, on a blog cache without the entries a previous test left in a
    shared Redis: they describe tables the suite emptied behind the services' back."""
    from mainspring.blog.caching import ARTICLES_TAG, AUTHORS_TAG

    await app.state.cache.invalidate_tags(ARTICLES_TAG, AUTHORS_TAG)
    return client


@pytest.fixture
def writer(app: FastAPI, client: httpx.AsyncClient) -> Writers:
    """``await writer("ada")`` (or ``role=Role.MODERATOR``): an account, signed in."""

    async def make(username: str, *, role: Role = Role.USER) -> Writer:
        email = f"{username}@example.com"
        async with app.state.db.session() as session:
            user = await registration_service.create_account(
                session,
                app.state.password_hasher,
                email=email,
                username=username,
                password=PASSWORD,
                role=role,
            )
        login = await client.post(
            "/api/v1/auth/login", json={"identifier": username, "password": PASSWORD}
        )
        assert login.status_code == 200, login.text
        return Writer(user.id, username, email, login.json()["access_token"])

    return make


async def publish(
    client: httpx.AsyncClient, author: Writer, title: str = "Hello world", **fields: Any
) -> dict[str, Any]:
    """Create a published article (``fields`` override the defaults) and return its body."""
    payload = {"title": title, "body": f"Body of *{title}*.", "status": "published", **fields}
    response = await client.post(ARTICLES, json=payload, headers=author.headers)
    assert response.status_code == 201, response.text
    article: dict[str, Any] = response.json()
    return article
