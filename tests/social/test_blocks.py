"""Blocks: what a blocked user can no longer do or see, and what the blocker no longer sees."""

from __future__ import annotations

import httpx

from tests.accounts.helpers import SignedInUser
from tests.fixtures.users import People
from tests.social.conftest import post, walk


async def _block(client: httpx.AsyncClient, blocker: SignedInUser, blocked: SignedInUser) -> None:
    response = await client.put(
        f"/api/v1/profiles/{blocked.username}/block", headers=blocker.headers
    )
    assert response.status_code == 200
    assert response.json()["blocking"] is True


async def test_blocking_ends_follows_both_ways(client: httpx.AsyncClient, people: People) -> None:
    ada, troll = await people(2)
    await client.put(f"/api/v1/profiles/{ada.username}/follow", headers=troll.headers)
    await client.put(f"/api/v1/profiles/{troll.username}/follow", headers=ada.headers)
    await _block(client, ada, troll)
    profile = (await client.get(f"/api/v1/profiles/{ada.username}")).json()
    assert (profile["followers_count"], profile["following_count"]) == (0, 0)


async def test_a_blocked_user_cannot_follow_and_the_blocker_must_unblock_first(
    client: httpx.AsyncClient, people: People
) -> None:
    ada, troll = await people(2)
    await _block(client, ada, troll)
    refused = await client.put(f"/api/v1/profiles/{ada.username}/follow", headers=troll.headers)
    assert (refused.status_code, refused.json()["code"]) == (403, "blocked")
    own = await client.put(f"/api/v1/profiles/{troll.username}/follow", headers=ada.headers)
    assert (own.status_code, own.json()["code"]) == (409, "unblock-first")
    myself = await client.put(f"/api/v1/profiles/{ada.username}/block", headers=ada.headers)
    assert (myself.status_code, myself.json()["code"]) == (409, "self-interaction")

    unblocked = await client.delete(f"/api/v1/profiles/{troll.username}/block", headers=ada.headers)
    assert unblocked.json()["blocking"] is False
    again = await client.put(f"/api/v1/profiles/{ada.username}/follow", headers=troll.headers)
    assert again.status_code == 200


async def test_my_blocks_list_only_i_see(client: httpx.AsyncClient, people: People) -> None:
    ada, troll, spammer = await people(3)
    await _block(client, ada, troll)
    await _block(client, ada, spammer)
    blocked = await walk(client, "/api/v1/profiles/me/blocks", ada, limit=1)
    assert [p["username"] for p in blocked] == [spammer.username, troll.username]
    assert all(p["blocking"] for p in blocked)
    assert await walk(client, "/api/v1/profiles/me/blocks", troll) == []
    assert (await client.get("/api/v1/profiles/me/blocks")).status_code == 401

    await client.delete(f"/api/v1/profiles/{troll.username}/block", headers=ada.headers)
    remaining = await walk(client, "/api/v1/profiles/me/blocks", ada)
    assert [p["username"] for p in remaining] == [spammer.username]


async def test_a_blocked_user_cannot_reply_quote_repost_or_like(
    client: httpx.AsyncClient, people: People
) -> None:
    ada, troll = await people(2)
    target = await post(client, ada, "my thoughts")
    await _block(client, ada, troll)
    attempts = [
        client.post(
            "/api/v1/posts",
            json={"body": "reply", "reply_to_id": target["id"]},
            headers=troll.headers,
        ),
        client.post(
            "/api/v1/posts",
            json={"body": "quote", "quote_of_id": target["id"]},
            headers=troll.headers,
        ),
        client.put(f"/api/v1/posts/{target['id']}/repost", headers=troll.headers),
        client.put(f"/api/v1/posts/{target['id']}/like", headers=troll.headers),
    ]
    for attempt in attempts:
        response = await attempt
        assert (response.status_code, response.json()["code"]) == (403, "blocked")
    after = (await client.get(f"/api/v1/posts/{target['id']}")).json()
    assert (after["reply_count"], after["quote_count"], after["repost_count"]) == (0, 0, 0)
    assert after["like_count"] == 0


async def test_a_blocked_user_cannot_see_the_blockers_posts(
    client: httpx.AsyncClient, people: People
) -> None:
    ada, troll, friend = await people(3)
    secret = await post(client, ada, "for friends #news")
    await client.put(f"/api/v1/profiles/{friend.username}/follow", headers=troll.headers)
    await client.put(f"/api/v1/posts/{secret['id']}/repost", headers=friend.headers)
    await post(client, friend, "quoting ada", quote_of_id=secret["id"])
    assert len(await walk(client, "/api/v1/timeline", troll)) == 2
    await _block(client, ada, troll)

    timeline = await client.get(f"/api/v1/profiles/{ada.username}/posts", headers=troll.headers)
    assert (timeline.status_code, timeline.json()["code"]) == (403, "blocked")
    single = await client.get(f"/api/v1/posts/{secret['id']}", headers=troll.headers)
    assert single.status_code == 403
    assert await walk(client, "/api/v1/hashtags/news/posts", troll) == []
    assert await walk(client, "/api/v1/timeline", troll) == []  # no repost, no quote of ada

    # Everyone else still sees them; so does the blocker.
    assert len(await walk(client, "/api/v1/hashtags/news/posts")) == 1
    assert len(await walk(client, "/api/v1/timeline", friend)) == 2


async def test_the_blocker_no_longer_sees_the_blocked_users_posts(
    client: httpx.AsyncClient, people: People
) -> None:
    ada, troll = await people(2)
    await post(client, troll, "noise #news")
    await _block(client, ada, troll)
    assert await walk(client, "/api/v1/hashtags/news/posts", ada) == []
    hidden = await client.get(f"/api/v1/profiles/{troll.username}/posts", headers=ada.headers)
    assert hidden.status_code == 403
