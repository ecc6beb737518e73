"""The chat WebSocket while the database cannot serve for a moment, against a real server.

A thousand sockets subscribing at once (every client reconnecting after a deploy) exhaust the
connection pool: the frames that needed the database waited past the pool timeout. The socket
then ended with no close frame (1006) and nothing in the log, and its presence clean-up raised
in turn. Now a frame the database could not serve is answered ``database-unavailable`` with
``retry_after`` and the socket stays; a close the server decides while the database is busy
still sends its code; a connect the database cannot serve is closed with 1013.

The app here has a pool of ONE connection, and the test holds it: every piece of database work
of the server waits the pool timeout (0.5 s) and fails, as in the storm.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from mainspring.chat.live import socket as live_socket
from mainspring.core.config import Settings
from tests.chat.conftest import new_room
from tests.chat.live import ChatClient, chat
from tests.conftest import make_settings
from tests.fixtures.users import People


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(
        database_url,
        database_pool_size=1,
        database_max_overflow=0,
        database_pool_timeout_seconds=0.5,
    )


@asynccontextmanager
async def database_busy(app: FastAPI) -> AsyncIterator[None]:
    """The pool's only connection held by the test: the server's database work times out."""
    async with app.state.db.engine.connect():
        yield


async def _closed(client: ChatClient) -> ConnectionClosed:
    """Read until the server closes the socket: how it closed."""
    try:
        while True:
            await client.receive()
    except ConnectionClosed as closed:
        return closed


async def test_a_frame_the_database_cannot_serve_is_answered_and_the_socket_stays(
    app: FastAPI, server: str, client: httpx.AsyncClient, people: People
) -> None:
    ada, bob = await people(2)
    room = await new_room(client, ada, bob)
    async with chat(server, ada.token) as a:
        async with database_busy(app):
            await a.send(type="subscribe")
            refused = await a.expect("error")
            assert refused["code"] == "database-unavailable"
            assert refused["retry_after"] >= 1
            await a.send(type="send", room_id=room["id"], client_id="c-1", body="hello")
            refused = await a.expect("error")
            assert (refused["code"], refused["client_id"]) == ("database-unavailable", "c-1")
        # The database is back: the same socket, the same frames (a resend is deduplicated).
        await a.send(type="subscribe")
        subscribed = await a.expect("subscribed")
        assert [r["room_id"] for r in subscribed["rooms"]] == [room["id"]]
        await a.send(type="send", room_id=room["id"], client_id="c-1", body="hello")
        ack = await a.expect("ack")
        assert (ack["duplicate"], ack["message"]["seq"]) == (False, 1)


async def test_a_close_while_the_database_is_busy_keeps_its_code_and_presence_is_cleared_later(
    app: FastAPI,
    server: str,
    client: httpx.AsyncClient,
    people: People,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ada, bob = await people(2)
    room = await new_room(client, ada, bob)
    monkeypatch.setattr(live_socket, "IDLE_SECONDS", 0.3)
    async with chat(server, bob.token) as b, database_busy(app):
        # bob says nothing: the idle close, whose presence clean-up cannot reach the database.
        closed = await _closed(b)
        assert closed.rcvd is not None, "closed without a close frame"
        assert closed.rcvd.code == live_socket.CLOSE_IDLE
    members = await client.get(f"/api/v1/chat/rooms/{room['id']}/members", headers=ada.headers)
    assert {m["username"]: m["presence"] for m in members.json()["items"]}[bob.username] == (
        "online"  # the row the failed clean-up left, until the next refresh
    )
    await app.state.chat_hub.refresh_presence()
    members = await client.get(f"/api/v1/chat/rooms/{room['id']}/members", headers=ada.headers)
    assert {m["username"]: m["presence"] for m in members.json()["items"]}[bob.username] == (
        "offline"
    )


async def test_a_connect_the_database_cannot_serve_is_closed_with_1013(
    app: FastAPI, server: str, people: People
) -> None:
    (ada,) = await people(1)
    async with (
        database_busy(app),
        connect(
            f"{server}/api/v1/chat/ws", additional_headers={"Authorization": f"Bearer {ada.token}"}
        ) as socket,
    ):
        a = ChatClient(socket)
        refused = await a.receive()
        assert (refused["type"], refused["code"]) == ("error", "database-unavailable")
        closed = await _closed(a)
        assert closed.rcvd is not None, "closed without a close frame"
        assert closed.rcvd.code == 1013
    async with chat(server, ada.token) as a:  # the database back: connects as usual
        await a.send(type="ping")
        await a.expect("pong")


async def test_a_bug_closes_with_1011_not_without_a_close_frame(
    server: str, people: People, monkeypatch: pytest.MonkeyPatch
) -> None:
    (ada,) = await people(1)

    async def broken(session: live_socket.Session, message: dict[str, object]) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(live_socket.Session, "handle", broken)
    async with chat(server, ada.token) as a:
        await a.send(type="ping")
        closed = await _closed(a)
        assert closed.rcvd is not None, "closed without a close frame"
        assert closed.rcvd.code == 1011
