"""Article lists: filters, full-text search, the follow feed, drafts, keyset pages, and a fixed
number of SQL statements whatever the page size."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

from mainspring.social.profiles.service import follow_service
from tests.blog.writers import ARTICLES, Writer, Writers, publish


async def _slugs(
    client: httpx.AsyncClient, writer: Writer | None = None, **params: Any
) -> list[str]:
    headers = writer.headers if writer else {}
    response = await client.get(ARTICLES, params=params, headers=headers)
    assert response.status_code == 200, response.text
    return [item["slug"] for item in response.json()["items"]]


async def _follow(app: FastAPI, follower: Writer, followee: Writer) -> None:
    async with app.state.db.session() as session:
        await follow_service.follow(session, follower.id, followee.username)


async def test_published_articles_newest_first_without_drafts(
    client: httpx.AsyncClient, writer: Writers
) -> None:
    ada = await writer("ada")
    for title in ("One", "Two", "Three"):
        await publish(client, ada, title)
    await client.post(ARTICLES, json={"title": "Draft", "body": "b"}, headers=ada.headers)
    response = await client.get(ARTICLES)
    body = response.json()
    assert [item["slug"] for item in body["items"]] == ["three", "two", "one"]
    assert body["next_cursor"] is None
    assert "body" not in body["items"][0]  # lists leave the body out
    assert body["items"][0]["author"]["username"] == "ada"


async def test_filters_by_tag_author_and_favorited_by(
    client: httpx.AsyncClient, writer: Writers
) -> None:
    ada, bob = await writer("ada"), await writer("bob")
    await publish(client, ada, "Dragons", tags=["dragons", "fire"])
    await publish(client, bob, "Fire", tags=["Fire"])
    await publish(client, bob, "Water", tags=["water"])
    await client.put(f"{ARTICLES}/dragons/favorite", headers=bob.headers)
    await client.put(f"{ARTICLES}/water/favorite", headers=bob.headers)

    assert await _slugs(client, tag="fire") == ["fire", "dragons"]
    assert await _slugs(client, tag="FIRE") == ["fire", "dragons"]
    assert await _slugs(client, author="bob") == ["water", "fire"]
    assert await _slugs(client, author="BOB") == ["water", "fire"]
    assert await _slugs(client, favorited="bob") == ["water", "dragons"]
    assert await _slugs(client, favorited="bob", tag="fire") == ["dragons"]
    assert await _slugs(client, author="nobody") == []
    assert await _slugs(client, tag="unknown") == []


async def test_full_text_search_in_title_description_and_body(
    client: httpx.AsyncClient, writer: Writers
) -> None:
    ada = await writer("ada")
    await publish(client, ada, "Training dragons", body="Patience first.")
    await publish(client, ada, "Cooking", description="A dragon's recipe book", body="Salt.")
    await publish(client, ada, "Gardening", body="Water the **roses** every morning.")
    await client.post(
        ARTICLES, json={"title": "Secret dragon", "body": "draft"}, headers=ada.headers
    )

    assert await _slugs(client, q="dragon") == ["cooking", "training-dragons"]  # stemmed
    assert await _slugs(client, q="roses morning") == ["gardening"]
    assert await _slugs(client, q="roses dragon") == []  # every word must match
    assert await _slugs(client, q="PATIENCE") == ["training-dragons"]
    assert await _slugs(client, q="dragon", tag="nothing") == []
    # Operators and quotes are searched for, never parsed: no error, no surprise.
    for hostile in ('"unbalanced', "dragon OR", "AND", "*", "-", "roses NEAR(x", "'; --"):
        response = await client.get(ARTICLES, params={"q": hostile})
        assert response.status_code == 200, (hostile, response.text)

    await client.patch(
        f"{ARTICLES}/gardening", json={"body": "Nothing about flowers."}, headers=ada.headers
    )
    assert await _slugs(client, q="roses") == []  # the index follows edits
    assert await _slugs(client, q="flowers") == ["gardening"]
    await client.delete(f"{ARTICLES}/gardening", headers=ada.headers)
    assert await _slugs(client, q="flowers") == []


async def test_feed_lists_the_authors_i_follow(
    app: FastAPI, client: httpx.AsyncClient, writer: Writers
) -> None:
    ada, bob, cat = await writer("ada"), await writer("bob"), await writer("cat")
    await publish(client, ada, "By ada")
    await publish(client, bob, "By bob")
    await publish(client, cat, "By cat")
    await publish(client, ada, "By ada again")
    await _follow(app, cat, ada)
    await _follow(app, cat, bob)

    response = await client.get(f"{ARTICLES}/feed", headers=cat.headers)
    assert response.status_code == 200
    items = response.json()["items"]
    assert [item["slug"] for item in items] == ["by-ada-again", "by-bob", "by-ada"]
    assert all(item["author"]["following"] for item in items)
    assert (await client.get(f"{ARTICLES}/feed", headers=ada.headers)).json()["items"] == []
    assert (await client.get(f"{ARTICLES}/feed")).status_code == 401

    listed = (await client.get(ARTICLES, headers=cat.headers)).json()["items"]
    following = {item["author"]["username"]: item["author"]["following"] for item in listed}
    assert following == {"ada": True, "bob": True, "cat": False}


async def test_the_feed_is_walked_by_cursor_without_drafts_and_with_my_favorites(
    app: FastAPI, client: httpx.AsyncClient, writer: Writers
) -> None:
    ada, bob, cat = await writer("ada"), await writer("bob"), await writer("cat")
    for title in ("One", "Two", "Three", "Four", "Five"):
        await publish(client, ada, title)
    await publish(client, bob, "Not followed")
    draft = await client.post(ARTICLES, json={"title": "Draft", "body": "."}, headers=ada.headers)
    assert draft.json()["status"] == "draft"
    await _follow(app, cat, ada)
    favorite = await client.put(f"{ARTICLES}/two/favorite", headers=cat.headers)
    assert favorite.status_code == 200, favorite.text

    seen: list[str] = []
    favorited: list[str] = []
    cursor = None
    for _ in range(5):  # three slices; more would mean the cursor is not followed
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        response = await client.get(f"{ARTICLES}/feed", params=params, headers=cat.headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert len(body["items"]) <= 2
        seen += [item["slug"] for item in body["items"]]
        favorited += [item["slug"] for item in body["items"] if item["favorited"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == ["five", "four", "three", "two", "one"]
    assert favorited == ["two"]

    foreign = await client.get(f"{ARTICLES}/feed", params={"cursor": "forged"}, headers=cat.headers)
    assert foreign.status_code == 400


async def test_my_drafts_and_scheduled_articles(client: httpx.AsyncClient, writer: Writers) -> None:
    ada, bob = await writer("ada"), await writer("bob")
    await client.post(ARTICLES, json={"title": "Draft 1", "body": "b"}, headers=ada.headers)
    await client.post(ARTICLES, json={"title": "Draft 2", "body": "b"}, headers=ada.headers)
    await client.post(ARTICLES, json={"title": "Bob's", "body": "b"}, headers=bob.headers)
    await client.post(
        ARTICLES,
        json={
            "title": "Later",
            "body": "b",
            "status": "scheduled",
            "publish_at": "2999-01-01T00:00:00Z",
        },
        headers=ada.headers,
    )
    await publish(client, ada, "Out")
    assert await _slugs(client, ada, status="draft") == ["draft-2", "draft-1"]
    assert await _slugs(client, ada, status="scheduled") == ["later"]
    assert await _slugs(client, bob, status="draft") == ["bobs"]
    assert await _slugs(client, status="draft") == []
    assert await _slugs(client, ada) == ["out"]


async def test_keyset_pages_walk_every_article_once_even_while_new_ones_arrive(
    client: httpx.AsyncClient, writer: Writers
) -> None:
    ada = await writer("ada")
    for number in range(7):
        await publish(client, ada, f"Article {number}")
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        response = await client.get(ARTICLES, params=params)
        body = response.json()
        seen += [item["slug"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            assert "link" not in response.headers
            break
        assert 'rel="next"' in response.headers["link"]
        await publish(client, ada, f"Newer {len(seen)}")  # lands before the walk's position
    assert seen == [f"article-{number}" for number in range(6, -1, -1)]
    assert (await client.get(ARTICLES, params={"cursor": "forged"})).status_code == 400


async def test_list_statements_do_not_grow_with_the_page(
    app: FastAPI, client: httpx.AsyncClient, writer: Writers
) -> None:
    authors = [await writer(name) for name in ("ada", "bob", "cat")]
    reader = await writer("rea")
    await _follow(app, reader, authors[0])
    for number in range(50):
        author = authors[number % 3]
        article = await publish(client, author, f"Post {number}", tags=[f"t{number % 4}", "common"])
        if number % 2:
            await client.put(f"{ARTICLES}/{article['slug']}/favorite", headers=reader.headers)
        await client.post(
            f"{ARTICLES}/{article['slug']}/comments", json={"body": "Hi"}, headers=reader.headers
        )

    async def statements(path: str, limit: int, writer: Writer | None) -> int:
        headers = writer.headers if writer else {}
        response = await client.get(path, params={"limit": limit}, headers=headers)
        assert response.status_code == 200
        assert len(response.json()["items"]) == limit
        return int(response.headers["x-db-statements"])

    for path in (ARTICLES, f"{ARTICLES}?tag=common"):
        for viewer in (None, reader):
            await statements(path, 1, viewer)  # warm whatever a first request caches
            assert await statements(path, 5, viewer) == await statements(path, 50, viewer)
    await statements(f"{ARTICLES}/post-49/comments", 1, reader)
    small = await client.get(f"{ARTICLES}/post-49/comments", headers=reader.headers)
    assert len(small.json()["items"]) == 1
