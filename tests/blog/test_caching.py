"""The cached anonymous reads: every write is seen by the next anonymous read, signed-in readers
see their own flags and never another's view, and answers say how HTTP caches may keep them."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

from mainspring.core.cached_answers import MAX_AGE_SECONDS
from tests.blog.writers import ARTICLES, Writer, Writers, publish

REALWORLD = "/realworld/api"
PUBLIC = f"public, max-age={MAX_AGE_SECONDS}"


async def _anonymous_list(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    response = await client.get(ARTICLES)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == PUBLIC
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def _anonymous(client: httpx.AsyncClient, slug: str) -> httpx.Response:
    return await client.get(f"{ARTICLES}/{slug}")


async def test_an_anonymous_hit_runs_no_sql_and_answers_304_to_its_etag(
    client: httpx.AsyncClient, writer: Writers
) -> None:
    ada = await writer("ada")
    await publish(client, ada, "Cached")
    for path in (ARTICLES, f"{ARTICLES}/cached"):
        first = await client.get(path)
        again = await client.get(path)
        assert again.content == first.content
        assert again.headers["x-db-statements"] == "0"  # the cache answered
        assert again.headers["cache-control"] == PUBLIC
        assert "Authorization" in again.headers["vary"]
        etag = again.headers["etag"]
        assert etag.startswith('W/"')
        revalidated = await client.get(path, headers={"If-None-Match": etag})
        assert revalidated.status_code == 304
        assert revalidated.headers["etag"] == etag
        assert revalidated.content == b""


async def test_every_write_is_seen_by_the_next_anonymous_read(
    app: FastAPI, client: httpx.AsyncClient, writer: Writers
) -> None:
    ada, bob = await writer("ada"), await writer("bob")
    await publish(client, ada, "First", tags=["one"])
    assert [item["title"] for item in await _anonymous_list(client)] == ["First"]
    etag = (await _anonymous(client, "first")).headers["etag"]

    await publish(client, ada, "Second")  # create
    assert [item["slug"] for item in await _anonymous_list(client)] == ["second", "first"]

    edited = await client.patch(
        f"{ARTICLES}/first", json={"title": "First, edited", "tags": ["two"]}, headers=ada.headers
    )
    assert edited.status_code == 200
    article = await _anonymous(client, "first")
    assert (article.json()["title"], article.json()["tags"]) == ("First, edited", ["two"])
    assert article.headers["etag"] != etag
    assert (await client.get(f"{ARTICLES}/first", headers={"If-None-Match": etag})).status_code == (
        200
    )
    assert (await _anonymous_list(client))[1]["title"] == "First, edited"

    await client.put(f"{ARTICLES}/first/favorite", headers=bob.headers)  # a counter
    assert (await _anonymous(client, "first")).json()["favorites_count"] == 1
    assert (await _anonymous_list(client))[1]["favorites_count"] == 1
    await client.delete(f"{ARTICLES}/first/favorite", headers=bob.headers)
    assert (await _anonymous(client, "first")).json()["favorites_count"] == 0

    renamed = await client.patch(
        f"{ARTICLES}/first", json={"title": "Renamed", "refresh_slug": True}, headers=ada.headers
    )
    assert renamed.json()["slug"] == "renamed"
    assert (await _anonymous(client, "first")).status_code == 404
    assert (await _anonymous(client, "renamed")).status_code == 200

    unpublished = await client.patch(
        f"{ARTICLES}/second", json={"status": "draft"}, headers=ada.headers
    )
    assert unpublished.status_code == 200
    assert [item["slug"] for item in await _anonymous_list(client)] == ["renamed"]
    assert (await _anonymous(client, "second")).status_code == 404

    assert (await client.delete(f"{ARTICLES}/renamed", headers=ada.headers)).status_code == 204
    assert await _anonymous_list(client) == []
    assert (await _anonymous(client, "renamed")).status_code == 404


async def test_a_change_of_the_authors_profile_is_seen_at_once(
    client: httpx.AsyncClient, writer: Writers
) -> None:
    ada = await writer("ada")
    await publish(client, ada, "Profiled")
    assert (await _anonymous(client, "profiled")).json()["author"]["bio"] is None
    assert (await _anonymous_list(client))[0]["author"]["display_name"] == "ada"

    bio = await client.patch(
        "/api/v1/profiles/me", json={"bio": "Engines."}, headers=ada.headers
    )  # the social module's table
    assert bio.status_code == 200, bio.text
    assert (await _anonymous(client, "profiled")).json()["author"]["bio"] == "Engines."
    assert (await _anonymous_list(client))[0]["author"]["bio"] == "Engines."

    name = await client.patch(
        "/api/v1/users/me", json={"display_name": "Ada L."}, headers=ada.headers
    )  # the accounts module's table
    assert name.status_code == 200, name.text
    assert (await _anonymous(client, "profiled")).json()["author"]["display_name"] == "Ada L."
    assert (await _anonymous_list(client))[0]["author"]["display_name"] == "Ada L."


async def test_signed_in_readers_see_their_own_flags_never_anothers(
    app: FastAPI, client: httpx.AsyncClient, writer: Writers
) -> None:
    from mainspring.social.profiles.service import follow_service

    ada, bob, cat = await writer("ada"), await writer("bob"), await writer("cat")
    await publish(client, ada, "Shared")
    await _anonymous_list(client)
    await _anonymous(client, "shared")  # both cached now
    await client.put(f"{ARTICLES}/shared/favorite", headers=bob.headers)
    async with app.state.db.session() as session:
        await follow_service.follow(session, bob.id, "ada")

    async def view(reader: Writer | None) -> tuple[dict[str, Any], dict[str, Any]]:
        headers = reader.headers if reader else {}
        article = await client.get(f"{ARTICLES}/shared", headers=headers)
        listed = await client.get(ARTICLES, headers=headers)
        if reader is not None:
            for response in (article, listed):
                assert response.headers["cache-control"] == "private, no-cache"
                assert response.headers["x-db-statements"] != "0"  # read for this reader
        return article.json(), listed.json()["items"][0]

    for _ in range(2):  # the second time, after each view was answered once
        for reader, flags in ((bob, (True, True)), (cat, (False, False)), (None, (False, False))):
            for shown in await view(reader):
                assert (shown["favorited"], shown["author"]["following"]) == flags
                assert shown["favorites_count"] == 1
    bob_etag = (await client.get(f"{ARTICLES}/shared", headers=bob.headers)).headers["etag"]
    anonymous_etag = (await _anonymous(client, "shared")).headers["etag"]
    assert bob_etag != anonymous_etag  # another view, another tag
    cat_view = await client.get(
        f"{ARTICLES}/shared", headers={**cat.headers, "If-None-Match": bob_etag}
    )
    assert cat_view.status_code == 200


async def test_writes_through_the_realworld_api_are_seen_by_both_apis(
    client: httpx.AsyncClient, writer: Writers
) -> None:
    ada = await writer("ada")
    token = {"Authorization": f"Token {ada.token}"}
    await publish(client, ada, "Both")
    for path in (f"{REALWORLD}/articles", f"{REALWORLD}/articles/both", ARTICLES):
        assert (await client.get(path)).status_code == 200  # cached, anonymously

    updated = await client.put(
        f"{REALWORLD}/articles/both", json={"article": {"title": "Both, again"}}, headers=token
    )
    assert updated.status_code == 200, updated.text
    assert (await client.get(f"{REALWORLD}/articles/both")).json()["article"]["title"] == (
        "Both, again"
    )
    listed = (await client.get(f"{REALWORLD}/articles")).json()
    assert listed["articles"][0]["title"] == "Both, again"
    assert (await _anonymous_list(client))[0]["title"] == "Both, again"

    favorited = await client.post(f"{REALWORLD}/articles/both/favorite", headers=token)
    assert favorited.status_code == 200
    assert (await client.get(f"{REALWORLD}/articles")).json()["articles"][0]["favoritesCount"] == 1
    bio = await client.put(f"{REALWORLD}/user", json={"user": {"bio": "Hi."}}, headers=token)
    assert bio.status_code == 200, bio.text
    article = (await client.get(f"{REALWORLD}/articles/both")).json()["article"]
    assert article["author"]["bio"] == "Hi."
    assert article["favorited"] is False  # the anonymous view

    created = await client.post(
        f"{REALWORLD}/articles",
        json={"article": {"title": "New", "description": "d", "body": "b"}},
        headers=token,
    )
    assert created.status_code == 201
    assert (await client.get(f"{REALWORLD}/articles")).json()["articlesCount"] == 2
    assert (await client.delete(f"{REALWORLD}/articles/new", headers=token)).status_code == 204
    assert (await client.get(f"{REALWORLD}/articles")).json()["articlesCount"] == 1
    assert (await client.get(f"{REALWORLD}/articles/new")).status_code == 404


async def test_a_missing_article_is_cached_until_a_write_makes_it_exist(
    client: httpx.AsyncClient, writer: Writers
) -> None:
    ada = await writer("ada")
    for path in (f"{ARTICLES}/soon", f"{REALWORLD}/articles/soon"):
        assert (await client.get(path)).status_code == 404
        again = await client.get(path)
        assert (again.status_code, again.headers["x-db-statements"]) == (404, "0")
    assert (await client.get(f"{REALWORLD}/articles/soon")).json()["errors"]["body"]

    draft = await client.post(ARTICLES, json={"title": "Soon", "body": "b"}, headers=ada.headers)
    assert draft.status_code == 201
    assert (await _anonymous(client, "soon")).status_code == 404  # a draft: still hidden
    published = await client.patch(
        f"{ARTICLES}/soon", json={"status": "published"}, headers=ada.headers
    )
    assert published.status_code == 200
    assert (await _anonymous(client, "soon")).status_code == 200
    assert (await client.get(f"{REALWORLD}/articles/soon")).status_code == 200
