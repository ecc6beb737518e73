"""Home, user and hashtag timelines, and trending hashtags, over HTTP."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from mainspring.social.timelines.service import trending_cache_key
from tests.fixtures.users import People
from tests.social.conftest import post, walk, write_posts


async def test_home_has_my_posts_and_those_of_whom_i_follow(
    client: httpx.AsyncClient, people: People
) -> None:
    me, friend, stranger = await people(3)
    await client.put(f"/api/v1/profiles/{friend.username}/follow", headers=me.headers)
    mine = await post(client, me, "mine")
    theirs = await post(client, friend, "theirs")
    await post(client, stranger, "a stranger's")
    reposted = (
        await client.put(
            f"/api/v1/posts/{(await post(client, stranger, 'viral'))['id']}/repost",
            headers=friend.headers,
        )
    ).json()

    home = await walk(client, "/api/v1/timeline", me)
    assert [item["id"] for item in home] == [reposted["id"], theirs["id"], mine["id"]]
    assert home[0]["kind"] == "repost"
    assert home[0]["original"]["body"] == "viral"

    await client.delete(f"/api/v1/profiles/{friend.username}/follow", headers=me.headers)
    assert [item["id"] for item in await walk(client, "/api/v1/timeline", me)] == [mine["id"]]
    assert (await client.get("/api/v1/timeline")).status_code == 401


async def test_home_pages_are_stable_while_new_posts_arrive(
    app: FastAPI, client: httpx.AsyncClient, people: People
) -> None:
    me, friend = await people(2)
    await client.put(f"/api/v1/profiles/{friend.username}/follow", headers=me.headers)
    await write_posts(app, friend, 7, "old")

    first = (await client.get("/api/v1/timeline", params={"limit": 3}, headers=me.headers)).json()
    assert [p["body"] for p in first["items"]] == ["old 6", "old 5", "old 4"]
    await write_posts(app, friend, 2, "new")  # published while the reader pages down

    rest = await walk(client, "/api/v1/timeline", me, limit=3)
    assert [p["body"] for p in rest][:2] == ["new 1", "new 0"]  # a fresh read sees them first
    second = await client.get(
        "/api/v1/timeline",
        params={"limit": 3, "cursor": first["next_cursor"]},
        headers=me.headers,
    )
    assert [p["body"] for p in second.json()["items"]] == ["old 3", "old 2", "old 1"]
    assert 'rel="next"' in second.headers["link"]


async def test_timelines_cost_the_same_statements_whatever_their_size(
    app: FastAPI, client: httpx.AsyncClient, people: People
) -> None:
    me, friend, other = await people(3)
    await client.put(f"/api/v1/profiles/{friend.username}/follow", headers=me.headers)
    await write_posts(app, friend, 6, "#same text")
    await write_posts(app, other, 3, "#same other")
    liked = await post(client, other, "quoted and liked")
    await post(client, friend, "a quote #same", quote_of_id=liked["id"])
    await client.put(f"/api/v1/posts/{liked['id']}/repost", headers=friend.headers)
    await client.put(f"/api/v1/posts/{liked['id']}/like", headers=me.headers)

    for reply in range(4):
        await post(client, other, f"reply {reply}", reply_to_id=liked["id"])
    for path in (
        f"/api/v1/posts/{liked['id']}/replies",
        "/api/v1/timeline",
        f"/api/v1/profiles/{friend.username}/posts",
        "/api/v1/hashtags/same/posts",
    ):
        await client.get(path, headers=me.headers)  # warm: the session check is cached
        small = await client.get(path, params={"limit": 1}, headers=me.headers)
        large = await client.get(path, params={"limit": 4}, headers=me.headers)
        assert (len(small.json()["items"]), len(large.json()["items"])) == (1, 4), path
        assert small.headers["x-db-statements"] == large.headers["x-db-statements"], path


async def test_a_users_timeline(client: httpx.AsyncClient, people: People) -> None:
    ada, bob = await people(2)
    first = await post(client, ada, "first")
    reply = await post(client, ada, "a reply", reply_to_id=first["id"])
    repost = (
        await client.put(
            f"/api/v1/posts/{(await post(client, bob, 'bob'))['id']}/repost", headers=ada.headers
        )
    ).json()
    items = await walk(client, f"/api/v1/profiles/{ada.username}/posts", limit=2)
    assert [item["id"] for item in items] == [repost["id"], reply["id"], first["id"]]
    missing = await client.get("/api/v1/profiles/nobody_here/posts")
    assert missing.status_code == 404


async def test_a_hashtag_timeline_ignores_case(client: httpx.AsyncClient, people: People) -> None:
    ada, bob = await people(2)
    one = await post(client, ada, "I like #Python")
    two = await post(client, bob, "#python and #sql")
    await post(client, bob, "no tag here, python")
    items = await walk(client, "/api/v1/hashtags/PYTHON/posts", limit=1)
    assert [item["id"] for item in items] == [two["id"], one["id"]]
    assert await walk(client, "/api/v1/hashtags/nothing/posts") == []


async def test_trending_counts_the_last_day(
    app: FastAPI, client: httpx.AsyncClient, people: People
) -> None:
    ada, bob = await people(2)
    await write_posts(app, ada, 3, "#rust")
    await write_posts(app, bob, 2, "#go #rust")
    await write_posts(app, bob, 1, "#zig")
    for limit in (2, 10):
        await app.state.cache.delete(trending_cache_key(limit))  # a previous test may have asked

    response = await client.get("/api/v1/hashtags/trending", params={"limit": 2})
    assert response.status_code == 200
    assert response.json()["items"] == [{"tag": "rust", "posts": 5}, {"tag": "go", "posts": 2}]
    everything = (await client.get("/api/v1/hashtags/trending")).json()["items"]
    assert [item["tag"] for item in everything] == ["rust", "go", "zig"]

    await write_posts(app, ada, 3, "#zig")  # counted again only when the minute is over
    cached = (await client.get("/api/v1/hashtags/trending")).json()["items"]
    assert cached == everything
