"""A signed-in reader's article and published list: the shared cached answer plus the reader's
own flags (``favorited``, ``author.following``), read fresh by one statement. The composed
answer must be exactly what the database gives that reader (the body a write answers them, the
ETag their ``If-Match`` is checked against), change at once with their favorites and follows,
never show another reader's flags, and leave the reader's drafts to the database path."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
from fastapi import FastAPI

from mainspring.core.auth import Role
from tests.blog.writers import ARTICLES, Writer, Writers, publish

PROFILES = "/api/v1/profiles"
PRIVATE = "private, no-cache"


def one_statement(app: FastAPI) -> str:
    """``X-DB-Statements`` of a request that runs one statement: SQLite's driver sends its
    ``BEGIN DEFERRED`` as a statement of its own, PostgreSQL's does not."""
    return "2" if app.state.db.engine.dialect.name == "sqlite" else "1"


async def _read(client: httpx.AsyncClient, reader: Writer, path: str) -> httpx.Response:
    response = await client.get(path, headers=reader.headers)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == PRIVATE
    assert "Authorization" in response.headers["vary"]
    return response


async def _flags(client: httpx.AsyncClient, reader: Writer, slug: str) -> tuple[bool, bool, int]:
    """What ``reader`` sees of the article at ``slug``: (favorited, following, count), the same
    in the article and in the list (asserted)."""
    article = (await _read(client, reader, f"{ARTICLES}/{slug}")).json()
    items = (await _read(client, reader, ARTICLES)).json()["items"]
    listed = next(item for item in items if item["slug"] == slug)
    seen = (article["favorited"], article["author"]["following"], article["favorites_count"])
    assert (listed["favorited"], listed["author"]["following"], listed["favorites_count"]) == seen
    return seen


async def test_a_signed_in_hit_is_one_statement_and_the_databases_answer(
    app: FastAPI, client: httpx.AsyncClient, writer: Writers
) -> None:
    ada, bob = await writer("ada"), await writer("bob")
    await publish(client, ada, "Shared", tags=["one", "two"])
    favorited = await client.put(f"{ARTICLES}/shared/favorite", headers=bob.headers)
    assert favorited.status_code == 200  # the write answers the article as bob now sees it

    for _ in range(2):  # a miss (the shared load + 1), then a hit
        article = await _read(client, bob, f"{ARTICLES}/shared")
        listed = await _read(client, bob, ARTICLES)
    assert article.headers["x-db-statements"] == one_statement(app)  # the reader's flags
    assert listed.headers["x-db-statements"] == one_statement(app)
    assert article.json() == favorited.json()
    assert article.json()["favorited"] is True
    assert article.headers["etag"] == favorited.headers["etag"]  # ArticleSummary.etag
    summary = {key: value for key, value in favorited.json().items() if "body" not in key}
    assert listed.json() == {"items": [summary], "next_cursor": None}

    revalidated = await client.get(
        f"{ARTICLES}/shared", headers={**bob.headers, "If-None-Match": article.headers["etag"]}
    )
    assert (revalidated.status_code, revalidated.content) == (304, b"")
    assert revalidated.headers["etag"] == article.headers["etag"]
    assert revalidated.headers["cache-control"] == PRIVATE
    list_etag = listed.headers["etag"]
    again = await client.get(ARTICLES, headers={**bob.headers, "If-None-Match": list_etag})
    assert again.status_code == 304

    # The author's ETag is the one an edit is checked against (If-Match).
    etag = (await _read(client, ada, f"{ARTICLES}/shared")).headers["etag"]
    edited = await client.patch(
        f"{ARTICLES}/shared", json={"body": "v2"}, headers={**ada.headers, "If-Match": etag}
    )
    assert edited.status_code == 200, edited.text
    assert (await _read(client, ada, f"{ARTICLES}/shared")).json() == edited.json()


async def test_each_reader_sees_their_own_flags_and_every_change_at_once(
    client: httpx.AsyncClient, writer: Writers
) -> None:
    ada, bob, cat = await writer("ada"), await writer("bob"), await writer("cat")
    moe = await writer("moe", role=Role.MODERATOR)
    await publish(client, ada, "Shared")
    await publish(client, cat, "Other")
    readers = {"author": ada, "stranger": cat, "moderator": moe, "bob": bob}
    for reader in readers.values():
        assert await _flags(client, reader, "shared") == (False, False, 0)
    etag = (await _read(client, bob, f"{ARTICLES}/shared")).headers["etag"]
    list_etag = (await _read(client, bob, ARTICLES)).headers["etag"]

    assert (await client.put(f"{ARTICLES}/shared/favorite", headers=bob.headers)).is_success
    assert await _flags(client, bob, "shared") == (True, False, 1)
    for name in ("author", "stranger", "moderator"):  # bob's favorite is not theirs
        assert await _flags(client, readers[name], "shared") == (False, False, 1)
    assert await _flags(client, bob, "other") == (False, False, 0)
    stale = await client.get(f"{ARTICLES}/shared", headers={**bob.headers, "If-None-Match": etag})
    assert stale.status_code == 200  # his flags and the count moved: a new ETag
    stale = await client.get(ARTICLES, headers={**bob.headers, "If-None-Match": list_etag})
    assert stale.status_code == 200

    assert (await client.put(f"{PROFILES}/ada/follow", headers=bob.headers)).is_success
    assert await _flags(client, bob, "shared") == (True, True, 1)  # a follow is no article write
    assert await _flags(client, bob, "other") == (False, False, 0)  # cat's: not followed
    assert await _flags(client, cat, "shared") == (False, False, 1)
    assert (await client.put(f"{PROFILES}/ada/follow", headers=moe.headers)).is_success
    assert await _flags(client, moe, "shared") == (False, True, 1)

    followed_etag = (await _read(client, bob, f"{ARTICLES}/shared")).headers["etag"]
    assert (await client.delete(f"{PROFILES}/ada/follow", headers=bob.headers)).is_success
    assert await _flags(client, bob, "shared") == (True, False, 1)
    revalidated = await client.get(
        f"{ARTICLES}/shared", headers={**bob.headers, "If-None-Match": followed_etag}
    )
    assert revalidated.status_code == 200  # the ETag moves with the flags alone
    assert await _flags(client, moe, "shared") == (False, True, 1)

    assert (await client.put(f"{ARTICLES}/shared/favorite", headers=cat.headers)).is_success
    assert (await client.delete(f"{ARTICLES}/shared/favorite", headers=bob.headers)).is_success
    assert await _flags(client, bob, "shared") == (False, False, 1)
    assert await _flags(client, cat, "shared") == (True, False, 1)


async def test_one_statement_for_a_page_whatever_its_size(
    app: FastAPI, client: httpx.AsyncClient, writer: Writers
) -> None:
    ada, bob, cat = await writer("ada"), await writer("bob"), await writer("cat")
    for number in range(3):
        await publish(client, ada, f"Ada {number}")
        await publish(client, bob, f"Bob {number}")
    assert (await client.put(f"{PROFILES}/ada/follow", headers=cat.headers)).is_success
    assert (await client.put(f"{ARTICLES}/bob-1/favorite", headers=cat.headers)).is_success
    for _ in range(2):
        page = await _read(client, cat, f"{ARTICLES}?limit=4")
    assert page.headers["x-db-statements"] == one_statement(app)
    assert 'rel="next"' in page.headers["link"]
    seen = {
        item["slug"]: (item["favorited"], item["author"]["following"])
        for item in page.json()["items"]
    }
    assert seen == {
        "bob-2": (False, False),
        "ada-2": (False, True),
        "bob-1": (True, False),
        "ada-1": (False, True),
    }
    cursor = quote(page.json()["next_cursor"])
    rest = await _read(client, cat, f"{ARTICLES}?limit=4&cursor={cursor}")
    flags = [(item["favorited"], item["author"]["following"]) for item in rest.json()["items"]]
    assert flags == [(False, False), (False, True)]  # bob-0, ada-0
    for _ in range(2):  # a miss, then a hit
        empty = await _read(client, cat, f"{ARTICLES}?tag=nothing")
    assert empty.json() == {"items": [], "next_cursor": None}
    assert empty.headers["x-db-statements"] == "0"  # no article, no flags to read


async def test_drafts_are_still_read_for_their_author_and_moderators(
    client: httpx.AsyncClient, writer: Writers
) -> None:
    ada, bob = await writer("ada"), await writer("bob")
    moe = await writer("moe", role=Role.MODERATOR)
    draft = await client.post(ARTICLES, json={"title": "Draft", "body": "b"}, headers=ada.headers)
    assert draft.status_code == 201
    assert (await client.get(f"{ARTICLES}/draft")).status_code == 404  # cached as missing
    for reader in (ada, moe):
        response = await _read(client, reader, f"{ARTICLES}/draft")
        assert response.json()["status"] == "draft"
        assert response.json() == {**draft.json(), "updated_at": response.json()["updated_at"]}
    assert (await client.get(f"{ARTICLES}/draft", headers=bob.headers)).status_code == 404

    drafts = await client.get(f"{ARTICLES}?status=draft", headers=ada.headers)  # as before
    assert [item["slug"] for item in drafts.json()["items"]] == ["draft"]
    assert drafts.headers["cache-control"] == PRIVATE
    assert (await client.get(f"{ARTICLES}?status=draft", headers=bob.headers)).json() == {
        "items": [],
        "next_cursor": None,
    }
    assert (await _read(client, ada, ARTICLES)).json()["items"] == []

    published = await client.patch(
        f"{ARTICLES}/draft", json={"status": "published"}, headers=ada.headers
    )
    assert published.status_code == 200
    article: dict[str, Any] = (await _read(client, bob, f"{ARTICLES}/draft")).json()
    assert (article["status"], article["favorited"]) == ("published", False)
