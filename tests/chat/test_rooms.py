"""Rooms over HTTP: kinds, roles, invitations, joining, leaving, kicks, bans, DMs and groups."""

from __future__ import annotations

import httpx

from tests.chat.conftest import new_room, say
from tests.fixtures.users import People

ROOMS = "/api/v1/chat/rooms"


async def test_create_list_and_read_a_room(client: httpx.AsyncClient, people: People) -> None:
    ada, bob = await people(2)
    response = await client.post(
        ROOMS, json={"kind": "public", "name": "general", "topic": "hi"}, headers=ada.headers
    )
    assert response.status_code == 201
    room = response.json()
    assert response.headers["location"] == f"{ROOMS}/{room['id']}"
    assert room | {"id": None, "created_at": None} == {
        "id": None,
        "kind": "public",
        "name": "general",
        "topic": "hi",
        "last_seq": 0,
        "member_count": 1,
        "role": "owner",
        "unread": 0,
        "last_read_seq": 0,
        "created_at": None,
    }
    mine = (await client.get(ROOMS, headers=ada.headers)).json()
    assert [r["id"] for r in mine["items"]] == [room["id"]]
    assert mine["total"] == 1
    # A public room: anyone signed in sees it in the directory and may read its card.
    directory = (await client.get(f"{ROOMS}/public?q=gen", headers=bob.headers)).json()
    assert [r["id"] for r in directory["items"]] == [room["id"]]
    assert directory["items"][0]["role"] is None
    assert (await client.get(f"{ROOMS}/{room['id']}", headers=bob.headers)).status_code == 200
    assert (await client.get(ROOMS)).status_code == 401


async def test_private_rooms_are_invisible_to_outsiders(
    client: httpx.AsyncClient, people: People
) -> None:
    ada, bob, eve = await people(3)
    room = await new_room(client, ada, bob, kind="private", name="secret")
    for path in (f"{ROOMS}/{room['id']}", f"{ROOMS}/{room['id']}/members"):
        response = await client.get(path, headers=eve.headers)
        assert response.status_code == 404
        assert response.json()["code"] == "room-not-found"
    assert (await client.post(f"{ROOMS}/{room['id']}/join", headers=eve.headers)).status_code == 404
    directory = (await client.get(f"{ROOMS}/public", headers=eve.headers)).json()
    assert directory["total"] == 0
    # Members only invite into a private room if they moderate it.
    response = await client.post(
        f"{ROOMS}/{room['id']}/members", json={"username": eve.username}, headers=bob.headers
    )
    assert response.status_code == 403
    assert response.json()["code"] == "role-forbids"


async def test_a_member_joining_a_private_room_again_gets_it_and_an_outsider_never_sees_it(
    client: httpx.AsyncClient, people: People
) -> None:
    ada, bob, eve = await people(3)
    room = await new_room(client, ada, bob, kind="private")
    for member in (ada, bob):  # already members: joining again is answered the room
        again = await client.post(f"{ROOMS}/{room['id']}/join", headers=member.headers)
        assert again.status_code == 200, again.text
        assert again.json()["member_count"] == 2
    outsider = await client.post(f"{ROOMS}/{room['id']}/join", headers=eve.headers)
    assert outsider.status_code == 404
    assert outsider.json()["code"] == "room-not-found"


async def test_join_leave_and_roles(client: httpx.AsyncClient, people: People) -> None:
    ada, bob, cid = await people(3)
    room = await new_room(client, ada)
    joined = await client.post(f"{ROOMS}/{room['id']}/join", headers=bob.headers)
    assert joined.status_code == 200
    assert joined.json()["role"] == "member"
    again = await client.post(f"{ROOMS}/{room['id']}/join", headers=bob.headers)
    assert again.json()["member_count"] == 2  # idempotent
    members = (await client.get(f"{ROOMS}/{room['id']}/members", headers=bob.headers)).json()
    assert [(m["username"], m["role"], m["presence"]) for m in members["items"]] == [
        (ada.username, "owner", "offline"),
        (bob.username, "member", "offline"),
    ]
    # Only owners change roles; the last owner cannot leave or step down.
    url = f"{ROOMS}/{room['id']}/members/{bob.username}"
    forbidden = await client.patch(url, json={"role": "owner"}, headers=bob.headers)
    assert forbidden.status_code == 403
    left = await client.post(f"{ROOMS}/{room['id']}/leave", headers=ada.headers)
    assert left.status_code == 409
    assert left.json()["code"] == "last-owner"
    demote = await client.patch(
        f"{ROOMS}/{room['id']}/members/{ada.username}", json={"role": "member"}, headers=ada.headers
    )
    assert demote.status_code == 409
    promoted = await client.patch(url, json={"role": "moderator"}, headers=ada.headers)
    assert promoted.status_code == 200
    assert promoted.json()["role"] == "moderator"
    assert (
        await client.post(f"{ROOMS}/{room['id']}/leave", headers=bob.headers)
    ).status_code == 204
    assert (await client.get(ROOMS, headers=bob.headers)).json()["total"] == 0
    not_member = await client.post(f"{ROOMS}/{room['id']}/leave", headers=cid.headers)
    assert not_member.status_code == 403
    assert not_member.json()["code"] == "not-a-member"


async def test_kick_and_ban(client: httpx.AsyncClient, people: People) -> None:
    ada, bob, cid = await people(3)
    room = await new_room(client, ada, bob, cid)
    rid = room["id"]
    # A member cannot kick; a moderator cannot kick the owner.
    assert (
        await client.delete(f"{ROOMS}/{rid}/members/{cid.username}", headers=bob.headers)
    ).status_code == 403
    await client.patch(
        f"{ROOMS}/{rid}/members/{bob.username}", json={"role": "moderator"}, headers=ada.headers
    )
    assert (
        await client.delete(f"{ROOMS}/{rid}/members/{ada.username}", headers=bob.headers)
    ).status_code == 403
    kicked = await client.delete(f"{ROOMS}/{rid}/members/{cid.username}", headers=bob.headers)
    assert kicked.status_code == 204
    assert (await say(client, cid, rid, "hi", "c1")).status_code == 403
    # Kicked from a public room: may come back. Banned: may not, nor be invited.
    assert (await client.post(f"{ROOMS}/{rid}/join", headers=cid.headers)).status_code == 200
    assert (
        await client.put(f"{ROOMS}/{rid}/bans/{cid.username}", headers=bob.headers)
    ).status_code == 204
    history = await client.get(f"{ROOMS}/{rid}/messages", headers=cid.headers)
    assert history.status_code == 403
    assert history.json()["code"] == "banned"
    rejoin = await client.post(f"{ROOMS}/{rid}/join", headers=cid.headers)
    assert rejoin.status_code == 403
    assert rejoin.json()["code"] == "banned"
    invite = await client.post(
        f"{ROOMS}/{rid}/members", json={"username": cid.username}, headers=ada.headers
    )
    assert invite.status_code == 403
    assert (
        await client.delete(f"{ROOMS}/{rid}/bans/{cid.username}", headers=bob.headers)
    ).status_code == 204
    assert (await client.post(f"{ROOMS}/{rid}/join", headers=cid.headers)).status_code == 200


async def test_one_direct_conversation_per_pair(client: httpx.AsyncClient, people: People) -> None:
    ada, bob, eve = await people(3)
    first = await client.post(
        f"{ROOMS}/direct", json={"username": bob.username}, headers=ada.headers
    )
    assert first.status_code == 201
    room = first.json()
    assert room["kind"] == "direct"
    assert room["member_count"] == 2
    again = await client.post(
        f"{ROOMS}/direct", json={"username": ada.username.upper()}, headers=bob.headers
    )
    assert again.status_code == 200
    assert again.json()["id"] == room["id"]
    assert (await client.get(f"{ROOMS}/{room['id']}", headers=eve.headers)).status_code == 404
    self_dm = await client.post(
        f"{ROOMS}/direct", json={"username": ada.username}, headers=ada.headers
    )
    assert self_dm.status_code == 409
    missing = await client.post(
        f"{ROOMS}/direct", json={"username": "nobody_here"}, headers=ada.headers
    )
    assert missing.status_code == 409  # the body names nobody; the URL is fine
    assert missing.json()["code"] == "unknown-user"
    invite = await client.post(
        f"{ROOMS}/{room['id']}/members", json={"username": eve.username}, headers=ada.headers
    )
    assert invite.status_code == 409
    assert invite.json()["code"] == "room-kind-forbids"
    assert (
        await client.post(f"{ROOMS}/{room['id']}/leave", headers=ada.headers)
    ).status_code == 409


async def test_groups(client: httpx.AsyncClient, people: People) -> None:
    ada, bob, cid, dan = await people(4)
    response = await client.post(
        f"{ROOMS}/groups", json={"usernames": [bob.username, cid.username]}, headers=ada.headers
    )
    assert response.status_code == 201
    group = response.json()
    assert group["kind"] == "group"
    assert group["member_count"] == 3
    assert ada.username in group["name"]
    assert bob.username in group["name"]
    # Any member of a group adds people.
    added = await client.post(
        f"{ROOMS}/{group['id']}/members", json={"username": dan.username}, headers=bob.headers
    )
    assert added.status_code == 201
    assert added.json()["role"] == "member"
    too_many = await client.post(
        f"{ROOMS}/groups", json={"usernames": [f"u{i}" for i in range(25)]}, headers=ada.headers
    )
    assert too_many.status_code == 422


async def test_read_marks_and_unread_counts(client: httpx.AsyncClient, people: People) -> None:
    ada, bob = await people(2)
    room = await new_room(client, ada, bob)
    for i in range(3):
        assert (await say(client, ada, room["id"], f"m{i}", f"c{i}")).status_code == 201
    mine = (await client.get(ROOMS, headers=bob.headers)).json()["items"][0]
    assert (mine["last_seq"], mine["unread"]) == (3, 3)
    assert (await client.get(ROOMS, headers=ada.headers)).json()["items"][0]["unread"] == 0
    read = await client.post(f"{ROOMS}/{room['id']}/read", json={"seq": 2}, headers=bob.headers)
    assert read.status_code == 204
    await client.post(
        f"{ROOMS}/{room['id']}/read", json={"seq": 1}, headers=bob.headers
    )  # never back
    await client.post(f"{ROOMS}/{room['id']}/read", json={"seq": 99}, headers=bob.headers)  # capped
    mine = (await client.get(f"{ROOMS}/{room['id']}", headers=bob.headers)).json()
    assert (mine["last_read_seq"], mine["unread"]) == (3, 0)
    bad = await client.post(f"{ROOMS}/{room['id']}/read", json={"seq": -1}, headers=bob.headers)
    assert bad.status_code == 422


async def test_a_room_and_the_room_list_answer_304_while_unchanged(
    client: httpx.AsyncClient, people: People
) -> None:
    ada, bob = await people(2)
    room = await new_room(client, ada, bob)
    url = f"{ROOMS}/{room['id']}"

    async def etags(user_headers: dict[str, str]) -> tuple[str, str]:
        one = await client.get(url, headers=user_headers)
        listed = await client.get(ROOMS, headers=user_headers)
        assert one.status_code == listed.status_code == 200
        assert one.headers["vary"] == "Authorization"
        return one.headers["etag"], listed.headers["etag"]

    async def fresh(user_headers: dict[str, str], tags: tuple[str, str]) -> list[int]:
        return [
            (await client.get(target, headers={**user_headers, "If-None-Match": tag})).status_code
            for target, tag in zip((url, ROOMS), tags, strict=True)
        ]

    ada_tags = await etags(ada.headers)
    assert await fresh(ada.headers, ada_tags) == [304, 304]
    assert (await etags(bob.headers)) != ada_tags  # each reader sees their own role and marks
    # A message from bob: ada's unread count changed, so both her copies are stale.
    await say(client, bob, room["id"], "hello", "b1")
    assert await fresh(ada.headers, ada_tags) == [200, 200]
    ada_tags = await etags(ada.headers)
    # Her read receipt changes them again.
    read = await client.post(f"{url}/read", json={"seq": 1}, headers=ada.headers)
    assert read.status_code == 204
    assert await fresh(ada.headers, ada_tags) == [200, 200]
    ada_tags = await etags(ada.headers)
    # Bob leaving changes the member count.
    assert (await client.post(f"{url}/leave", headers=bob.headers)).status_code == 204
    assert await fresh(ada.headers, ada_tags) == [200, 200]
