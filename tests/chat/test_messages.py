"""Messages over HTTP: sending (sequence numbers, dedup by client id), history before/after,
edits, deletions, replies, reactions, mentions, attachments, sanitised Markdown, search."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from mainspring.chat.deps import MESSAGES_PER_MINUTE
from mainspring.chat.models import Message
from tests.chat.conftest import new_room, say
from tests.fixtures.users import People

ROOMS = "/api/v1/chat/rooms"


async def test_send_stores_in_sequence_and_renders_safe_markdown(
    client: httpx.AsyncClient, people: People
) -> None:
    ada, bob = await people(2)
    room = await new_room(client, ada, bob)
    first = await say(client, ada, room["id"], "**hi** <script>alert(1)</script>", "a-1")
    assert first.status_code == 201
    message = first.json()
    assert first.headers["location"] == f"{ROOMS}/{room['id']}/messages/{message['id']}"
    assert message["seq"] == 1
    assert message["sender"]["username"] == ada.username
    assert "<strong>hi</strong>" in message["body_html"]
    assert "<script>" not in message["body_html"]
    second = (await say(client, bob, room["id"], "yo", "b-1")).json()
    assert second["seq"] == 2
    fetched = await client.get(
        f"{ROOMS}/{room['id']}/messages/{message['id']}", headers=bob.headers
    )
    assert fetched.json() == message


async def test_a_resend_returns_the_stored_message(
    app: FastAPI, client: httpx.AsyncClient, people: People
) -> None:
    ada, bob = await people(2)
    room = await new_room(client, ada, bob)
    first = await say(client, ada, room["id"], "once", "same-id")
    again = await say(client, ada, room["id"], "once (resent)", "same-id")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    # Another sender may use the same client id: ids are per sender.
    assert (await say(client, bob, room["id"], "mine", "same-id")).status_code == 201
    async with app.state.db.read_session() as session:
        assert await session.scalar(select(func.count()).select_from(Message)) == 2


async def test_concurrent_senders_get_a_total_order(
    client: httpx.AsyncClient, people: People
) -> None:
    people_ = await people(4)
    room = await new_room(client, people_[0], *people_[1:])
    sends = [
        say(client, person, room["id"], f"{person.username} {i}", f"c{i}")
        for person in people_
        for i in range(5)
    ]
    responses = await asyncio.gather(*sends)
    assert all(r.status_code == 201 for r in responses)
    seqs = sorted(r.json()["seq"] for r in responses)
    assert seqs == list(range(1, 21))
    history = (
        await client.get(f"{ROOMS}/{room['id']}/messages", headers=people_[1].headers)
    ).json()
    assert [m["seq"] for m in history["items"]] == list(range(1, 21))


async def test_sending_over_http_is_rate_limited_per_person(
    client: httpx.AsyncClient, people: People
) -> None:
    ada, bob = await people(2)
    room = await new_room(client, ada, bob)
    limit = int(MESSAGES_PER_MINUTE.split("/")[0])
    statuses = [
        (await say(client, ada, room["id"], f"m{i}", f"c{i}")).status_code for i in range(limit)
    ]
    assert statuses == [201] * limit
    refused = await say(client, ada, room["id"], "one too many", "c-over")
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.headers["ratelimit-remaining"] == "0"
    stored = (await client.get(f"{ROOMS}/{room['id']}", headers=ada.headers)).json()
    assert stored["last_seq"] == limit  # the refused one was not stored
    # The limit is per person: bob still sends.
    assert (await say(client, bob, room["id"], "hi", "b1")).status_code == 201


async def test_history_before_and_after(client: httpx.AsyncClient, people: People) -> None:
    ada, bob, eve = await people(3)
    room = await new_room(client, ada, bob)
    for i in range(7):
        await say(client, ada, room["id"], f"m{i}", f"c{i}")
    url = f"{ROOMS}/{room['id']}/messages"
    newest = (await client.get(f"{url}?limit=3", headers=bob.headers)).json()
    assert [m["seq"] for m in newest["items"]] == [5, 6, 7]
    assert newest["has_more"]
    older = (await client.get(f"{url}?limit=3&before=5", headers=bob.headers)).json()
    assert [m["seq"] for m in older["items"]] == [2, 3, 4]
    assert older["has_more"]
    oldest = (await client.get(f"{url}?limit=3&before=2", headers=bob.headers)).json()
    assert [m["seq"] for m in oldest["items"]] == [1]
    assert not oldest["has_more"]
    missed = (await client.get(f"{url}?after=4", headers=bob.headers)).json()
    assert [m["seq"] for m in missed["items"]] == [5, 6, 7]
    assert not missed["has_more"]
    # Non-members read nothing and send nothing, even in a public room.
    refused = await client.get(url, headers=eve.headers)
    assert refused.status_code == 403
    assert refused.json()["code"] == "not-a-member"
    assert (await say(client, eve, room["id"], "hi", "e")).status_code == 403
    private = await new_room(client, ada, kind="private", name="p")
    assert (
        await client.get(f"{ROOMS}/{private['id']}/messages", headers=eve.headers)
    ).status_code == 404
    assert (await client.get(f"{url}?before=0", headers=bob.headers)).status_code == 422


async def test_edit_delete_and_moderation(client: httpx.AsyncClient, people: People) -> None:
    ada, bob, cid = await people(3)
    room = await new_room(client, ada, bob, cid)
    message = (await say(client, bob, room["id"], "typo", "b1")).json()
    url = f"{ROOMS}/{room['id']}/messages/{message['id']}"
    assert (await client.patch(url, json={"body": "x"}, headers=cid.headers)).status_code == 403
    edited = await client.patch(url, json={"body": "fixed _now_"}, headers=bob.headers)
    assert edited.status_code == 200
    assert edited.json()["body"] == "fixed _now_"
    assert edited.json()["edited_at"] is not None
    assert "<em>now</em>" in edited.json()["body_html"]
    assert (await client.delete(url, headers=cid.headers)).status_code == 403
    assert (await client.delete(url, headers=ada.headers)).status_code == 204  # the owner may
    gone = (await client.get(f"{ROOMS}/{room['id']}/messages", headers=bob.headers)).json()
    assert [(m["seq"], m["deleted"], m["body"]) for m in gone["items"]] == [(1, True, "")]
    assert (await client.patch(url, json={"body": "again"}, headers=bob.headers)).status_code == 404


async def test_replies_reactions_mentions_attachments(
    client: httpx.AsyncClient, people: People
) -> None:
    ada, bob, eve = await people(3)
    room = await new_room(client, ada, bob)
    other = await new_room(client, ada, name="other")
    first = (await say(client, ada, room["id"], "question", "a1")).json()
    reply = await client.post(
        f"{ROOMS}/{room['id']}/messages",
        json={
            "client_id": "b1",
            "body": f"@{ada.username} and @{eve.username}: see this",
            "reply_to_id": first["id"],
            "attachments": [{"url": "https://example.com/a.png", "name": "a.png"}],
        },
        headers=bob.headers,
    )
    assert reply.status_code == 201, reply.text
    body = reply.json()
    assert body["reply_to_id"] == first["id"]
    assert body["mentions"] == [ada.username]  # eve is not a member: not mentioned
    assert body["attachments"] == [
        {"url": "https://example.com/a.png", "name": "a.png", "content_type": ""}
    ]
    cross = await client.post(
        f"{ROOMS}/{other['id']}/messages",
        json={"client_id": "x", "body": "x", "reply_to_id": first["id"]},
        headers=ada.headers,
    )
    assert cross.status_code == 409
    assert cross.json()["code"] == "invalid-reply"
    bad_url = await client.post(
        f"{ROOMS}/{room['id']}/messages",
        json={"client_id": "y", "body": "x", "attachments": [{"url": "javascript:alert(1)"}]},
        headers=ada.headers,
    )
    assert bad_url.status_code == 422  # not even the document's shape
    no_host = await client.post(
        f"{ROOMS}/{room['id']}/messages",
        json={"client_id": "z", "body": "x", "attachments": [{"url": "https://:80/a"}]},
        headers=ada.headers,
    )
    assert no_host.status_code == 400  # the document's shape, but not a URL
    assert no_host.json()["code"] == "invalid-attachment"
    react = f"{ROOMS}/{room['id']}/messages/{first['id']}/reactions/%F0%9F%91%8D"
    for person in (ada, bob, bob):
        assert (await client.put(react, headers=person.headers)).status_code == 204
    shown = (
        await client.get(f"{ROOMS}/{room['id']}/messages/{first['id']}", headers=ada.headers)
    ).json()
    assert shown["reactions"] == [
        {"emoji": "\N{THUMBS UP SIGN}", "count": 2, "usernames": [ada.username, bob.username]}
    ]
    assert (await client.delete(react, headers=bob.headers)).status_code == 204
    shown = (
        await client.get(f"{ROOMS}/{room['id']}/messages/{first['id']}", headers=ada.headers)
    ).json()
    assert shown["reactions"][0]["count"] == 1
    assert (await client.put(react, headers=eve.headers)).status_code == 403


@pytest.mark.parametrize("query", ["%", "_", "\\", "' OR 1=1 --"])
async def test_search_is_safe_with_any_input(
    client: httpx.AsyncClient, people: People, query: str
) -> None:
    (ada,) = await people(1)
    room = await new_room(client, ada)
    await say(client, ada, room["id"], "100% sure", "a")
    response = await client.get("/api/v1/chat/search", params={"q": query}, headers=ada.headers)
    assert response.status_code == 200


async def test_search_only_in_my_rooms(client: httpx.AsyncClient, people: People) -> None:
    ada, bob = await people(2)
    mine = await new_room(client, ada, name="mine")
    theirs = await new_room(client, bob, name="theirs")
    for i in range(3):
        await say(client, ada, mine["id"], f"Deploy plan {i}", f"a{i}")
    await say(client, bob, theirs["id"], "deploy plan secret", "b")
    url = "/api/v1/chat/search"
    first = (
        await client.get(url, params={"q": "plan DEPLOY", "limit": 2}, headers=ada.headers)
    ).json()
    assert [m["body"] for m in first["items"]] == ["Deploy plan 2", "Deploy plan 1"]
    rest = (
        await client.get(
            url,
            params={"q": "plan DEPLOY", "limit": 2, "cursor": first["next_cursor"]},
            headers=ada.headers,
        )
    ).json()
    assert [m["body"] for m in rest["items"]] == ["Deploy plan 0"]
    assert rest["next_cursor"] is None
    assert (
        await client.get(url, params={"q": "x", "cursor": "forged"}, headers=ada.headers)
    ).status_code == 400
    nothing = await client.get(url, params={"q": str(uuid.uuid4())}, headers=bob.headers)
    assert nothing.json()["items"] == []
