"""The chat WebSocket, against a real uvicorn server: handshake rules, send and ack, ordering
under concurrent senders, dedup of resends, reconnect catch-up, live events, permissions and
the cut-off of kicked and banned members, the connection's limits."""

from __future__ import annotations

import asyncio
import socket
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from mainspring.app import create_app
from mainspring.chat.channels import room_channel
from mainspring.chat.live import hub as live_hub
from mainspring.chat.live import socket as live_socket
from tests.chat.conftest import new_room, say
from tests.chat.live import ChatClient, chat, serve
from tests.conftest import make_settings
from tests.fixtures.users import People

ROOMS = "/api/v1/chat/rooms"


async def test_handshake_needs_a_token_and_an_allowed_origin(server: str, people: People) -> None:
    (ada,) = await people(1)
    async with connect(f"{server}/api/v1/chat/ws") as socket:
        assert '"unauthorized"' in str(await socket.recv())
        with pytest.raises(ConnectionClosed) as closed:
            await socket.recv()
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 4401
    async with connect(
        f"{server}/api/v1/chat/ws", additional_headers={"Authorization": "Bearer forged"}
    ) as socket:
        await socket.recv()
        with pytest.raises(ConnectionClosed):
            await socket.recv()
    # Another site's page cannot open a socket: the upgrade is refused.
    with pytest.raises(InvalidStatus) as refused:
        async with connect(
            f"{server}/api/v1/chat/ws",
            origin="https://evil.example",  # type: ignore[arg-type]
            additional_headers={"Authorization": f"Bearer {ada.token}"},
        ):
            pass
    assert refused.value.response.status_code == 403
    # A browser: the token as a subprotocol, and the page's own origin.
    host = server.removeprefix("ws://")
    async with connect(
        f"{server}/api/v1/chat/ws",
        origin=f"http://{host}",  # type: ignore[arg-type]
        subprotocols=["mainspring.chat", f"bearer.{ada.token}"],  # type: ignore[list-item]
    ) as socket:
        assert socket.subprotocol == "mainspring.chat"
        assert '"ready"' in str(await socket.recv())


async def test_send_ack_broadcast_and_dedup(
    server: str, client: httpx.AsyncClient, people: People
) -> None:
    ada, bob, eve = await people(3)
    room = await new_room(client, ada, bob)
    async with (
        chat(server, ada.token) as a,
        chat(server, bob.token) as b,
        chat(server, eve.token) as e,
    ):
        for socket in (a, b, e):
            await socket.send(type="subscribe")
        subscribed = await b.expect("subscribed")
        assert [r["room_id"] for r in subscribed["rooms"]] == [room["id"]]
        assert (await e.expect("subscribed"))["rooms"] == []
        await a.expect("subscribed")

        await a.send(type="send", room_id=room["id"], client_id="m-1", body="hello *bob*")
        ack = await a.expect("ack")
        assert ack["client_id"] == "m-1"
        assert ack["duplicate"] is False
        assert ack["message"]["seq"] == 1
        assert "<em>bob</em>" in ack["message"]["body_html"]
        assert (await b.expect("message"))["message"] == ack["message"]
        # Persisted before the ack: history has it.
        history = (await client.get(f"{ROOMS}/{room['id']}/messages", headers=bob.headers)).json()
        assert history["items"] == [ack["message"]]

        # A resend after a lost ack returns the stored message and broadcasts nothing.
        await a.send(type="send", room_id=room["id"], client_id="m-1", body="hello *bob*")
        again = await a.expect("ack")
        assert again["duplicate"] is True
        assert again["message"] == ack["message"]
        await a.send(type="send", room_id=room["id"], client_id="m-2", body="second")
        assert (await b.expect("message"))["message"]["seq"] == 2  # not the resend

        # Non-members cannot send; errors name the client id.
        await e.send(type="send", room_id=room["id"], client_id="x", body="let me in")
        error = await e.expect("error")
        assert (error["code"], error["client_id"]) == ("not-a-member", "x")
        await e.send(type="subscribe", rooms=[room["id"]])
        assert (await e.expect("error"))["code"] == "room-not-found"
        await a.send(type="send", room_id=room["id"], client_id="bad id!", body="x")
        assert (await a.expect("error"))["code"] == "validation-error"


async def test_concurrent_senders_total_order(
    server: str, client: httpx.AsyncClient, people: People
) -> None:
    users = await people(4)
    room = await new_room(client, users[0], *users[1:])
    per_sender = 10
    async with chat(server, users[0].token) as watcher:
        await watcher.send(type="subscribe")
        await watcher.expect("subscribed")

        async def burst(index: int) -> list[int]:
            async with chat(server, users[index].token) as socket:
                acks = []
                for i in range(per_sender):
                    await socket.send(
                        type="send",
                        room_id=room["id"],
                        client_id=f"{index}-{i}",
                        body=f"{index}:{i}",
                    )
                    acks.append((await socket.expect("ack"))["message"]["seq"])
                return acks

        acked = await asyncio.gather(*(burst(i) for i in range(1, 4)))
        received = await watcher.messages(3 * per_sender)
    # One total order: every number once, no gap; each sender's messages in the order sent.
    assert sorted(m["seq"] for m in received) == list(range(1, 3 * per_sender + 1))
    for index, seqs in enumerate(acked, start=1):
        assert seqs == sorted(seqs)
        mine = sorted(
            (m for m in received if m["body"].startswith(f"{index}:")), key=lambda m: m["seq"]
        )
        assert [m["body"] for m in mine] == [f"{index}:{i}" for i in range(per_sender)]
    history = (
        await client.get(f"{ROOMS}/{room['id']}/messages?limit=100", headers=users[1].headers)
    ).json()
    by_seq = {m["seq"]: m["id"] for m in received}
    assert [(m["seq"], m["id"]) for m in history["items"]] == sorted(by_seq.items())


async def test_reconnect_catches_up_since_a_sequence(
    server: str, client: httpx.AsyncClient, people: People
) -> None:
    ada, bob = await people(2)
    room = await new_room(client, ada, bob)
    async with chat(server, bob.token) as b:
        await b.send(type="subscribe")
        await b.expect("subscribed")
        assert (await say(client, ada, room["id"], "one", "1")).status_code == 201
        seen = (await b.expect("message"))["message"]["seq"]
    for i in range(2, 5):  # bob is away
        await say(client, ada, room["id"], f"m{i}", str(i))
    async with chat(server, bob.token) as b:
        await b.send(type="subscribe", since={room["id"]: seen})
        missed = await b.messages(3)
        assert [m["body"] for m in missed] == ["m2", "m3", "m4"]
        summary = (await b.expect("subscribed"))["rooms"][0]
        assert summary == {
            "room_id": room["id"],
            "last_seq": 4,
            "last_read_seq": 0,
            "unread": 4,
            "truncated": False,
        }
        # Read receipts reach the room, and move the unread count.
        await b.send(type="read", room_id=room["id"], seq=4)
        receipt = await b.expect("read")
        assert (receipt["user_id"], receipt["seq"]) == (str(bob.id), 4)
    mine = (await client.get(f"{ROOMS}/{room['id']}", headers=bob.headers)).json()
    assert mine["unread"] == 0


async def test_live_events_edit_delete_reaction_typing_presence_mention(
    server: str, client: httpx.AsyncClient, people: People
) -> None:
    ada, bob = await people(2)
    room = await new_room(client, ada, bob)
    rid = room["id"]
    async with chat(server, ada.token) as a:
        await a.send(type="subscribe")
        await a.expect("subscribed")
        async with chat(server, bob.token) as b:
            presence = await a.expect("presence", user_id=str(bob.id))
            assert presence["status"] == "online"
            await b.send(type="subscribe")
            await b.expect("subscribed")
            await b.send(type="typing", room_id=rid)
            typing = await a.expect("typing")
            assert (typing["room_id"], typing["username"]) == (rid, bob.username)
            sent = (await say(client, bob, rid, f"hey @{ada.username}", "b1")).json()
            mention = await a.expect("mention")
            assert mention["message"]["id"] == sent["id"]
            url = f"{ROOMS}/{rid}/messages/{sent['id']}"
            await client.patch(url, json={"body": "edited"}, headers=bob.headers)
            assert (await a.expect("edit"))["message"]["body"] == "edited"
            await client.put(f"{url}/reactions/ok", headers=ada.headers)
            reaction = await b.expect("reaction")
            assert (reaction["emoji"], reaction["on"], reaction["username"]) == (
                "ok",
                True,
                ada.username,
            )
            await client.delete(url, headers=bob.headers)
            deleted = await a.expect("delete")
            assert (deleted["message_id"], deleted["seq"]) == (sent["id"], 1)
            await b.send(type="presence", status="away")
            assert (await a.expect("presence", user_id=str(bob.id)))["status"] == "away"
            members = (await client.get(f"{ROOMS}/{rid}/members", headers=ada.headers)).json()
            assert {m["username"]: m["presence"] for m in members["items"]} == {
                ada.username: "online",
                bob.username: "away",
            }
        offline = await a.expect("presence", user_id=str(bob.id))
        assert offline["status"] == "offline"


async def test_ready_comes_first_when_an_invitation_arrives_during_the_handshake(
    server: str, client: httpx.AsyncClient, people: People, monkeypatch: pytest.MonkeyPatch
) -> None:
    ada, bob = await people(2)
    room = await new_room(client, ada)
    delivered = asyncio.Event()
    on_user, set_status = live_hub.Hub._on_user, live_hub.Hub.set_status

    async def on_user_then_tell(self: live_hub.Hub, user_id: str, data: dict[str, Any]) -> None:
        await on_user(self, user_id, data)
        delivered.set()

    async def online_then_invited(
        self: live_hub.Hub, user_id: uuid.UUID, status: str | None
    ) -> None:
        await set_status(self, user_id, status)
        if status == "online":  # bob's channel is watched and his handshake not over yet
            invited = await client.post(
                f"{ROOMS}/{room['id']}/members",
                json={"username": bob.username},
                headers=ada.headers,
            )
            assert invited.status_code == 201
            await asyncio.wait_for(delivered.wait(), 10)

    monkeypatch.setattr(live_hub.Hub, "_on_user", on_user_then_tell)
    monkeypatch.setattr(live_hub.Hub, "set_status", online_then_invited)
    async with chat(server, bob.token) as b:  # asserts that the first frame is ``ready``
        added = await b.expect("room_added")
        assert added["room_id"] == room["id"]


@pytest.mark.parametrize("action", ["kick", "ban"])
async def test_removed_members_are_cut_off_at_once(
    server: str, client: httpx.AsyncClient, people: People, action: str
) -> None:
    ada, bob, eve = await people(3)
    room = await new_room(client, ada, bob, eve)
    rid = room["id"]
    async with chat(server, eve.token) as e, chat(server, bob.token) as b:
        for socket in (e, b):
            await socket.send(type="subscribe")
            await socket.expect("subscribed")
        if action == "kick":
            removed = await client.delete(
                f"{ROOMS}/{rid}/members/{eve.username}", headers=ada.headers
            )
        else:
            removed = await client.put(f"{ROOMS}/{rid}/bans/{eve.username}", headers=ada.headers)
        assert removed.status_code == 204
        notice = await e.expect("room_removed")
        assert notice == {
            "type": "room_removed",
            "room_id": rid,
            "reason": f"{action}ed".replace("baned", "banned"),
        }
        await say(client, ada, rid, "after the removal", "a1")
        assert (await b.expect("message"))["message"]["body"] == "after the removal"
        await e.send(type="ping")
        await e.expect("pong")
        assert all(m["type"] != "message" for m in e.seen)  # nothing of the room reached eve
        await e.send(type="send", room_id=rid, client_id="e1", body="still here?")
        assert (await e.expect("error"))["code"] in ("not-a-member", "banned")


async def test_frame_size_rate_limit_and_idle_close(
    server: str, people: People, monkeypatch: pytest.MonkeyPatch
) -> None:
    (ada,) = await people(1)
    async with chat(server, ada.token) as a:
        await a.send(type="ping", pad="x" * (live_socket.MAX_FRAME_BYTES + 1))
        with pytest.raises(ConnectionClosed) as closed:
            await a.expect("pong")
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1009
    async with chat(server, ada.token) as a:
        for _ in range(live_socket.RATE_BURST + 5):
            await a.send(type="ping")
        limited = await a.expect("error")
        assert limited["code"] == "rate-limited"
        await a.send(type="nonsense")
    monkeypatch.setattr(live_socket, "IDLE_SECONDS", 0.3)
    async with chat(server, ada.token) as a:
        with pytest.raises(ConnectionClosed) as closed:
            await a.receive()
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 4408


async def test_a_slow_consumer_is_disconnected(
    database_url: str, client: httpx.AsyncClient, people: People, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The in-process pub/sub on both runs: it hands the hub a burst at once, faster than any
    # socket drains, whereas over Redis the pace of the burst depends on the network.
    app = create_app(make_settings(database_url, pubsub_url="memory://"))
    async with app.router.lifespan_context(app), serve(app) as server:
        await _slow_consumer(app, server, client, people, monkeypatch)


async def _slow_consumer(
    app: FastAPI,
    server: str,
    client: httpx.AsyncClient,
    people: People,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ada, bob = await people(2)
    room = await new_room(client, ada, bob)
    monkeypatch.setattr(live_socket, "CLOSE_DRAIN_SECONDS", 0.5)
    monkeypatch.setattr(live_hub, "SEND_QUEUE_SIZE", 8)
    total = 200
    # A small receive buffer on bob's side, so that little is in flight on the wire.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", int(server.rsplit(":", 1)[1])))
    sock.setblocking(False)
    async with chat(server, bob.token, max_size=None, sock=sock) as b:
        await b.send(type="subscribe")
        await b.expect("subscribed")
        # bob stops reading: the socket buffers fill, the server's writes block, events pile
        # up in his send queue, and past its bound (8 here) the server drops them and closes
        # his socket instead of buffering without bound for him.
        b.socket.transport.pause_reading()
        padding = "x" * 10_000
        for i in range(total):
            await app.state.pubsub.publish(
                room_channel(room["id"]), {"type": "typing", "n": i, "padding": padding}
            )
        b.socket.transport.resume_reading()
        received = await _count_until_closed(b)
    assert received < total


async def _count_until_closed(socket: ChatClient) -> int:
    received = 0
    try:
        while True:
            await socket.receive()
            received += 1
    except ConnectionClosed:
        return received
    except TimeoutError:
        raise AssertionError(f"still open after {received} events") from None
