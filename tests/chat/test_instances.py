"""Two server instances on one Redis: what is sent to one reaches the sockets of the other.

Needs Redis (MAINSPRING_TEST_REDIS_URL): with the in-process pub/sub each instance hears only
itself, which is why a deployment of more than one instance must use Redis. CI's PostgreSQL +
Redis run executes these tests; the SQLite run skips them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from mainspring.app import create_app
from mainspring.core.config import Settings
from tests.chat.conftest import new_room
from tests.chat.live import chat, serve
from tests.conftest import TEST_REDIS_URL, not_configured
from tests.fixtures.users import People


@pytest.fixture
async def second_server(settings: Settings) -> AsyncIterator[str]:
    """Another instance of the service: its own app, pub/sub connection, hub and port."""
    if not TEST_REDIS_URL:
        not_configured("cross-instance delivery needs Redis: set MAINSPRING_TEST_REDIS_URL")
    other: FastAPI = create_app(settings)
    async with other.router.lifespan_context(other), serve(other) as base:
        yield base


async def test_a_message_sent_to_one_instance_reaches_the_other(
    server: str, second_server: str, client: httpx.AsyncClient, people: People
) -> None:
    ada, bob, eve = await people(3)
    room = await new_room(client, ada, bob, eve)
    rid = room["id"]
    async with chat(server, ada.token) as a, chat(second_server, bob.token) as b:
        for socket in (a, b):
            await socket.send(type="subscribe")
            await socket.expect("subscribed")
        await a.send(type="send", room_id=rid, client_id="a1", body="across")
        ack = await a.expect("ack")
        assert (await b.expect("message"))["message"] == ack["message"]
        await b.send(type="typing", room_id=rid)
        assert (await a.expect("typing"))["username"] == bob.username

        # Presence is the union of the instances: eve online on the second one.
        async with chat(second_server, eve.token):
            assert (await a.expect("presence", user_id=str(eve.id)))["status"] == "online"
            members = (
                await client.get(f"/api/v1/chat/rooms/{rid}/members", headers=ada.headers)
            ).json()
            assert {m["username"]: m["presence"] for m in members["items"]}[
                eve.username
            ] == "online"
        assert (await a.expect("presence", user_id=str(eve.id)))["status"] == "offline"

        # A ban on one instance cuts the member off on the other at once.
        assert (
            await client.put(f"/api/v1/chat/rooms/{rid}/bans/{bob.username}", headers=ada.headers)
        ).status_code == 204
        assert (await b.expect("room_removed"))["reason"] == "banned"
        await a.send(type="send", room_id=rid, client_id="a2", body="bob is gone")
        await a.expect("ack")
        await b.send(type="ping")
        await b.expect("pong")
        assert all(m["type"] != "message" or m["message"]["seq"] == 1 for m in b.seen)
