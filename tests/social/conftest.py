"""Social tests: signed-in users through the accounts service and the real login endpoint.

Every test calls from its own client address: rate limits key on it for anonymous requests and,
with Redis, outlive a test.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from mainspring.social.posts.service import post_service
from mainspring.social.schemas import PostCreate
from tests.fixtures.users import SignedInUser, any_client_address


@pytest.fixture
def client_address() -> str:
    """The root ``client`` connects from this address."""
    return any_client_address()


async def post(
    client: httpx.AsyncClient, user: SignedInUser, body: str, **links: Any
) -> dict[str, Any]:
    """Write a post over HTTP as ``user``; returns the created post."""
    response = await client.post(
        "/api/v1/posts", json={"body": body, **links}, headers=user.headers
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def write_posts(app: FastAPI, user: SignedInUser, count: int, text: str = "post") -> None:
    """Many posts at once, through the service (the HTTP endpoint is rate-limited)."""
    async with app.state.db.session() as session:
        for i in range(count):
            await post_service.create(session, user.id, PostCreate(body=f"{text} {i}"))


async def walk(
    client: httpx.AsyncClient,
    path: str,
    user: SignedInUser | None = None,
    limit: int = 3,
    **query: Any,
) -> list[dict[str, Any]]:
    """Every item of a keyset-paginated list, slice by slice (``query``: its filters)."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    headers = user.headers if user else {}
    while True:
        params: dict[str, Any] = {"limit": limit, **query, **({"cursor": cursor} if cursor else {})}
        response = await client.get(path, params=params, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        items += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items


def ids(items: list[dict[str, Any]]) -> list[uuid.UUID]:
    return [uuid.UUID(item["id"]) for item in items]
