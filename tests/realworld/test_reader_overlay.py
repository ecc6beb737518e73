"""The RealWorld adapter's signed-in article and list: the blog's shared cached answer plus the
reader's own ``favorited`` and ``author.following``, read fresh by one statement; exactly what
the database gives the reader, changed at once by their favorites and follows."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

from mainspring.core.auth import Role
from tests.blog.test_reader_overlay import PRIVATE, one_statement
from tests.blog.writers import ARTICLES, Writer, Writers, publish

API = "/realworld/api"


def token(writer: Writer) -> dict[str, str]:
    return {"Authorization": f"Token {writer.token}"}


async def _get(client: httpx.AsyncClient, reader: Writer, path: str) -> httpx.Response:
    response = await client.get(f"{API}{path}", headers=token(reader))
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == PRIVATE
    return response


async def _flags(client: httpx.AsyncClient, reader: Writer, slug: str) -> tuple[bool, bool, int]:
    """(favorited, following, favoritesCount) of the article at ``slug`` as ``reader`` sees it,
    the same in the article and in the list (asserted)."""
    article = (await _get(client, reader, f"/articles/{slug}")).json()["article"]
    listed = next(
        item
        for item in (await _get(client, reader, "/articles")).json()["articles"]
        if item["slug"] == slug
    )
    seen = (article["favorited"], article["author"]["following"], article["favoritesCount"])
    assert (listed["favorited"], listed["author"]["following"], listed["favoritesCount"]) == seen
    return seen


async def test_a_signed_in_read_is_the_databases_answer_in_one_statement(
    app: FastAPI, client: httpx.AsyncClient, writer: Writers
) -> None:
    ada, bob = await writer("ada"), await writer("bob")
    await publish(client, ada, "Shared", tags=["one", "two"])
    await publish(client, ada, "Second")
    assert (await client.post(f"{API}/profiles/ada/follow", headers=token(bob))).is_success
    favorited = await client.post(f"{API}/articles/shared/favorite", headers=token(bob))
    assert favorited.status_code == 200  # the article as bob now sees it, from the database

    for _ in range(2):  # a miss (the shared load + 1), then a hit
        article = await _get(client, bob, "/articles/shared")
        listed = await _get(client, bob, "/articles?limit=10")
    assert article.headers["x-db-statements"] == one_statement(app)
    assert listed.headers["x-db-statements"] == one_statement(app)
    assert article.json() == favorited.json()
    in_list = {key: value for key, value in favorited.json()["article"].items() if key != "body"}
    assert listed.json()["articles"][1] == in_list
    assert listed.json()["articlesCount"] == 2
    second = listed.json()["articles"][0]
    assert (second["favorited"], second["author"]["following"]) == (False, True)

    revalidated = await client.get(
        f"{API}/articles/shared", headers={**token(bob), "If-None-Match": article.headers["etag"]}
    )
    assert revalidated.status_code == 304


async def test_each_reader_sees_their_own_flags_and_every_change_at_once(
    client: httpx.AsyncClient, writer: Writers
) -> None:
    ada, bob, cat = await writer("ada"), await writer("bob"), await writer("cat")
    moe = await writer("moe", role=Role.MODERATOR)
    await publish(client, ada, "Shared")
    for reader in (ada, bob, cat, moe):
        assert await _flags(client, reader, "shared") == (False, False, 0)

    assert (await client.post(f"{API}/articles/shared/favorite", headers=token(bob))).is_success
    assert await _flags(client, bob, "shared") == (True, False, 1)
    for reader in (ada, cat, moe):
        assert await _flags(client, reader, "shared") == (False, False, 1)

    assert (await client.post(f"{API}/profiles/ada/follow", headers=token(cat))).is_success
    assert await _flags(client, cat, "shared") == (False, True, 1)
    assert await _flags(client, bob, "shared") == (True, False, 1)
    assert (await client.delete(f"{API}/profiles/ada/follow", headers=token(cat))).is_success
    assert await _flags(client, cat, "shared") == (False, False, 1)

    assert (await client.delete(f"{API}/articles/shared/favorite", headers=token(bob))).is_success
    assert await _flags(client, bob, "shared") == (False, False, 0)


async def test_an_unpublished_article_is_read_for_its_author_only(
    client: httpx.AsyncClient, writer: Writers
) -> None:
    ada, bob = await writer("ada"), await writer("bob")
    moe = await writer("moe", role=Role.MODERATOR)
    draft = await client.post(ARTICLES, json={"title": "Draft", "body": "b"}, headers=ada.headers)
    assert draft.status_code == 201
    for reader in (ada, moe):  # read for them as before
        response = await client.get(f"{API}/articles/draft", headers=token(reader))
        assert response.status_code == 200, response.text
        assert response.headers["cache-control"].startswith("private")
        article: dict[str, Any] = response.json()
        assert (article["article"]["slug"], article["article"]["body"]) == ("draft", "b")
    assert (await client.get(f"{API}/articles/draft", headers=token(bob))).status_code == 404
    assert (await client.get(f"{API}/articles/draft")).status_code == 404
    assert (await _get(client, ada, "/articles")).json() == {"articles": [], "articlesCount": 0}
