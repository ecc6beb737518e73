"""Fixtures of the chat's tests: people, rooms made over HTTP, and the app served by a real
uvicorn server for the WebSocket tests (``tests/chat/live.py`` holds the socket client)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.chat.live import serve
from tests.fixtures.users import SignedInUser, any_client_address


@pytest.fixture
def client_address() -> str:
    return any_client_address()


async def new_room(
    client: httpx.AsyncClient,
    owner: SignedInUser,
    *members: SignedInUser,
    kind: str = "public",
    name: str = "general",
) -> dict[str, Any]:
    """A room created by ``owner`` over HTTP, with ``members`` invited into it."""
    response = await client.post(
        "/api/v1/chat/rooms", json={"kind": kind, "name": name}, headers=owner.headers
    )
    assert response.status_code == 201, response.text
    room: dict[str, Any] = response.json()
    for member in members:
        invited = await client.post(
            f"/api/v1/chat/rooms/{room['id']}/members",
            json={"username": member.username},
            headers=owner.headers,
        )
        assert invited.status_code == 201, invited.text
    return room


async def say(
    client: httpx.AsyncClient, user: SignedInUser, room_id: str, body: str, client_id: str
) -> httpx.Response:
    return await client.post(
        f"/api/v1/chat/rooms/{room_id}/messages",
        json={"client_id": client_id, "body": body},
        headers=user.headers,
    )


@pytest.fixture
async def server(app: FastAPI) -> AsyncIterator[str]:
    """The test's app served by uvicorn on a free port: its ``ws://`` base URL."""
    async with serve(app) as base:
        yield base
