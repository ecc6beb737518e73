"""Favorites: once per user, counted on the article, flagged for the viewer."""

from __future__ import annotations

import asyncio

import httpx

from tests.blog.writers import ARTICLES, Writers, publish

FAVORITE = f"{ARTICLES}/dragons/favorite"


async def test_favorites_are_counted_once_per_user_and_flagged_per_viewer(
    client: httpx.AsyncClient, writer: Writers
) -> None:
    ada, bob, cat = await writer("ada"), await writer("bob"), await writer("cat")
    created = await publish(client, ada, "Dragons")

    first = await client.put(FAVORITE, headers=bob.headers)
    assert first.status_code == 200
    assert (first.json()["favorites_count"], first.json()["favorited"]) == (1, True)
    twice = await client.put(FAVORITE, headers=bob.headers)
    assert twice.json()["favorites_count"] == 1
    assert (await client.put(FAVORITE, headers=cat.headers)).json()["favorites_count"] == 2

    as_bob = (await client.get(f"{ARTICLES}/dragons", headers=bob.headers)).json()
    as_ada = (await client.get(f"{ARTICLES}/dragons", headers=ada.headers)).json()
    anonymous = (await client.get(f"{ARTICLES}/dragons")).json()
    assert (as_bob["favorited"], as_ada["favorited"], anonymous["favorited"]) == (
        True,
        False,
        False,
    )
    assert anonymous["favorites_count"] == 2
    assert anonymous["updated_at"] == created["updated_at"]  # a favorite is not an edit

    removed = await client.delete(FAVORITE, headers=bob.headers)
    assert (removed.json()["favorites_count"], removed.json()["favorited"]) == (1, False)
    again = await client.delete(FAVORITE, headers=bob.headers)
    assert again.json()["favorites_count"] == 1
    listed = (await client.get(ARTICLES, headers=cat.headers)).json()["items"][0]
    assert (listed["favorites_count"], listed["favorited"]) == (1, True)


async def test_concurrent_favorites_are_all_counted(
    client: httpx.AsyncClient, writer: Writers
) -> None:
    ada = await writer("ada")
    fans = [await writer(f"fan{number}") for number in range(6)]
    await publish(client, ada, "Dragons")
    responses = await asyncio.gather(*(client.put(FAVORITE, headers=f.headers) for f in fans))
    assert all(response.status_code == 200 for response in responses)
    assert (await client.get(f"{ARTICLES}/dragons")).json()["favorites_count"] == 6


async def test_only_published_articles_are_favorited(
    client: httpx.AsyncClient, writer: Writers
) -> None:
    ada, bob = await writer("ada"), await writer("bob")
    await client.post(ARTICLES, json={"title": "Dragons", "body": "b"}, headers=ada.headers)
    assert (await client.put(FAVORITE, headers=bob.headers)).status_code == 404
    assert (await client.put(FAVORITE, headers=ada.headers)).status_code == 409
    assert (await client.put(FAVORITE)).status_code == 401
