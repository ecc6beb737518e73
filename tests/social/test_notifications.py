"""Notifications: who is notified of what, the unread count, marking read, and live delivery
over a WebSocket served by a real uvicorn server."""

from __future__ import annotations

import asyncio
import json
import socket
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from mainspring.social.notifications import live
from mainspring.social.service import notification_service
from tests.accounts.helpers import SignedInUser
from tests.fixtures.users import People
from tests.social.conftest import post, walk


async def _kinds(client: httpx.AsyncClient, user: SignedInUser) -> list[str]:
    return [n["kind"] for n in await walk(client, "/api/v1/notifications", user, limit=5)]


async def test_each_interaction_notifies_the_author_once(
    client: httpx.AsyncClient, people: People
) -> None:
    ada, bob = await people(2)
    await client.put(f"/api/v1/profiles/{ada.username}/follow", headers=bob.headers)
    await client.put(f"/api/v1/profiles/{ada.username}/follow", headers=bob.headers)
    original = await post(client, ada, "hello")
    for _ in range(2):
        await client.put(f"/api/v1/posts/{original['id']}/like", headers=bob.headers)
    reply = await post(client, bob, f"hi @{ada.username}", reply_to_id=original["id"])
    await post(client, bob, "look", quote_of_id=original["id"])
    await client.put(f"/api/v1/posts/{original['id']}/repost", headers=bob.headers)
    await post(client, bob, f"hey @{ada.username}")

    notifications = await walk(client, "/api/v1/notifications", ada, limit=4)
    assert [n["kind"] for n in notifications] == [
        "mention",
        "repost",
        "quote",
        "reply",  # the reply mentions ada too: one notification, not two
        "like",
        "follow",
    ]
    assert all(n["actor"]["username"] == bob.username for n in notifications)
    assert all(n["read"] is False for n in notifications)
    reply_notification = notifications[3]
    assert (reply_notification["subject_type"], reply_notification["subject_id"]) == (
        "post",
        reply["id"],
    )
    assert reply_notification["data"]["excerpt"] == f"hi @{ada.username}"
    assert await _kinds(client, bob) == []  # nobody is notified of their own actions


async def test_unread_count_and_marking_read(client: httpx.AsyncClient, people: People) -> None:
    ada, bob, cy = await people(3)
    for fan in (bob, cy):
        await client.put(f"/api/v1/profiles/{ada.username}/follow", headers=fan.headers)
    await post(client, bob, f"@{ada.username} hi")
    count = await client.get("/api/v1/notifications/unread-count", headers=ada.headers)
    assert count.json() == {"count": 3}

    newest = (await client.get("/api/v1/notifications", headers=ada.headers)).json()["items"][0]
    for _ in range(2):
        marked = await client.post(
            f"/api/v1/notifications/{newest['id']}/read", headers=ada.headers
        )
        assert marked.status_code == 204
    unread = await walk(client, "/api/v1/notifications", ada, unread=True)
    assert newest["id"] not in [n["id"] for n in unread]
    assert len(unread) == 2

    not_hers = await client.post(f"/api/v1/notifications/{newest['id']}/read", headers=bob.headers)
    assert not_hers.status_code == 404
    all_read = await client.post("/api/v1/notifications/read", headers=ada.headers)
    assert all_read.json() == {"marked": 2}
    after = await client.get("/api/v1/notifications/unread-count", headers=ada.headers)
    assert after.json() == {"count": 0}
    assert (await client.get("/api/v1/notifications")).status_code == 401


async def test_the_list_costs_the_same_statements_whatever_its_size(
    client: httpx.AsyncClient, people: People
) -> None:
    ada, *fans = await people(4)
    for fan in fans:
        await client.put(f"/api/v1/profiles/{ada.username}/follow", headers=fan.headers)
    await client.get("/api/v1/notifications", headers=ada.headers)  # warm the session check
    small = await client.get("/api/v1/notifications", params={"limit": 1}, headers=ada.headers)
    large = await client.get("/api/v1/notifications", params={"limit": 3}, headers=ada.headers)
    assert (len(small.json()["items"]), len(large.json()["items"])) == (1, 3)
    assert small.headers["x-db-statements"] == large.headers["x-db-statements"]


async def test_a_block_silences_mentions_and_notify_skips_it(
    app: FastAPI, client: httpx.AsyncClient, people: People
) -> None:
    ada, troll = await people(2)
    await client.put(f"/api/v1/profiles/{troll.username}/block", headers=ada.headers)
    await post(client, troll, f"@{ada.username} you there?")
    async with app.state.db.session() as session:
        skipped = await notification_service.notify(
            session, ada.id, troll.id, "article_comment", "article", uuid.uuid4(), {}
        )
        assert skipped is None
        sent = await notification_service.notify(
            session, troll.id, ada.id, "article_comment", "article", uuid.uuid4(), {"slug": "s"}
        )
        assert sent is not None
    assert await _kinds(client, ada) == []
    assert await _kinds(client, troll) == ["article_comment"]


async def test_deleting_a_post_forgets_the_notifications_about_it(
    client: httpx.AsyncClient, people: People
) -> None:
    ada, bob = await people(2)
    original = await post(client, ada, "hello")
    await client.put(f"/api/v1/posts/{original['id']}/like", headers=bob.headers)
    assert await _kinds(client, ada) == ["like"]
    await client.delete(f"/api/v1/posts/{original['id']}", headers=ada.headers)
    assert await _kinds(client, ada) == []


# --- live, over a WebSocket -------------------------------------------------------------------


@pytest.fixture
async def server(app: FastAPI) -> AsyncIterator[str]:
    """The app served by uvicorn on a free port of this machine, in the test's event loop.

    The socket listens before uvicorn starts: a client connecting early waits in its backlog.
    """
    listening = socket.create_server(("127.0.0.1", 0))
    port = listening.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_config=None))
    task = asyncio.create_task(server.serve(sockets=[listening]))
    try:
        yield f"ws://127.0.0.1:{port}/api/v1/notifications/ws"
    finally:
        server.should_exit = True
        await task
        listening.close()


async def _receive(socket: ClientConnection) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(socket.recv(), 5))
    return message


async def test_notifications_arrive_live_after_commit(
    server: str, client: httpx.AsyncClient, people: People
) -> None:
    ada, bob = await people(2)
    await client.put(f"/api/v1/profiles/{ada.username}/follow", headers=bob.headers)
    async with connect(server) as socket:
        await socket.send(json.dumps({"type": "auth", "token": ada.access_token}))
        assert await _receive(socket) == {"type": "ready", "unread_count": 1}

        original = await post(client, ada, "live")
        await client.put(f"/api/v1/posts/{original['id']}/like", headers=bob.headers)
        pushed = await _receive(socket)
        assert pushed["type"] == "notification"
        assert pushed["notification"]["kind"] == "like"
        assert pushed["notification"]["actor"]["username"] == bob.username
        listed = (await client.get("/api/v1/notifications", headers=ada.headers)).json()
        assert pushed["notification"] == listed["items"][0]

        # A change that rolls back announces nothing: bob's like of a missing post fails.
        await client.put(f"/api/v1/posts/{uuid.uuid4()}/like", headers=bob.headers)
        await socket.send(json.dumps({"type": "ping"}))
        assert await _receive(socket) == {"type": "pong"}
        await socket.send(json.dumps({"type": "shout"}))
        assert (await _receive(socket))["code"] == "unknown-type"


async def test_the_socket_needs_a_valid_token_first(server: str, people: People) -> None:
    (ada,) = await people(1)
    for first in (
        {"type": "auth", "token": "not-a-jwt"},
        {"type": "hello"},
        {"token": ada.access_token},
    ):
        async with connect(server) as socket:
            await socket.send(json.dumps(first))
            error = await _receive(socket)
            assert (error["type"], error["code"]) == ("error", "unauthorized")
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(socket.recv(), 5)
            assert socket.close_code == 4401


async def test_the_socket_closes_soon_after_its_session_ends(
    server: str, client: httpx.AsyncClient, people: People, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(live, "SESSION_RECHECK_SECONDS", 0.1)
    (ada,) = await people(1)
    async with connect(server) as socket:
        await socket.send(json.dumps({"type": "auth", "token": ada.access_token}))
        assert (await _receive(socket))["type"] == "ready"
        await socket.send(json.dumps({"type": "ping"}))
        assert await _receive(socket) == {"type": "pong"}

        response = await client.post("/api/v1/auth/logout", headers=ada.headers)
        assert response.status_code == 204
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(socket.recv(), 5)
        assert socket.close_code == 4401
