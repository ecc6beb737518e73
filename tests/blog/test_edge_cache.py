"""The kernel's edge cache (core/edge_cache.py), through the blog: anonymous cached answers are
replayed before routing only while their cache tags hold, and never to a caller with
credentials or conditions."""

from __future__ import annotations

import httpx
from prometheus_client import REGISTRY

from tests.blog.writers import ARTICLES, Writer, Writers, publish

REALWORLD = "/realworld/api"


def _edge(result: str) -> float:
    value = REGISTRY.get_sample_value("mainspring_edge_cache_answers_total", {"result": result})
    return value or 0.0


async def test_an_anonymous_answer_is_replayed_until_a_write_moves_its_tags(
    client: httpx.AsyncClient, writer: Writers
) -> None:
    ada, bob = await writer("ada"), await writer("bob")
    await publish(client, ada, "Edge")
    path = f"{ARTICLES}/edge"
    first = await client.get(path)  # the route answers, from its cache entry; kept
    replayed = _edge("replayed")
    again = await client.get(path)
    assert _edge("replayed") == replayed + 1
    assert (again.status_code, again.content) == (200, first.content)
    for name in ("etag", "cache-control", "vary", "content-type", "content-length"):
        assert again.headers[name] == first.headers[name]
    assert again.headers["x-request-id"] != first.headers["x-request-id"]  # its own request
    assert again.headers["x-content-type-options"] == "nosniff"  # the kernel's headers

    favorited = await client.put(f"{path}/favorite", headers=bob.headers)
    assert favorited.status_code == 200
    stale = _edge("stale")
    after = await client.get(path)  # the tag moved: the route answers the new count
    assert _edge("stale") == stale + 1
    assert after.json()["favorites_count"] == 1
    assert after.headers["etag"] != first.headers["etag"]
    assert (await client.get(path)).json()["favorites_count"] == 1  # replayed, current


async def test_a_cached_absence_is_replayed_until_the_slug_is_published(
    client: httpx.AsyncClient, writer: Writers
) -> None:
    ada = await writer("ada")
    for _ in range(2):
        missing = await client.get(f"{REALWORLD}/articles/later")
        assert missing.status_code == 404
        assert "errors" in missing.json()  # the RealWorld error body, as the route renders it
    replayed = _edge("replayed")
    assert (await client.get(f"{REALWORLD}/articles/later")).status_code == 404
    assert _edge("replayed") == replayed + 1
    await publish(client, ada, "Later")
    found = await client.get(f"{REALWORLD}/articles/later")
    assert found.status_code == 200
    assert found.json()["article"]["slug"] == "later"


async def test_callers_with_credentials_or_conditions_always_reach_the_route(
    client: httpx.AsyncClient, writer: Writers
) -> None:
    ada, bob = await writer("ada"), await writer("bob")
    await publish(client, ada, "Mine")
    await client.put(f"{ARTICLES}/mine/favorite", headers=bob.headers)
    path = f"{ARTICLES}/mine"
    anonymous = [await client.get(path) for _ in range(2)]
    assert anonymous[1].json()["favorited"] is False
    replayed = _edge("replayed")

    signed_in = await client.get(path, headers=bob.headers)
    assert signed_in.json()["favorited"] is True  # their own view, never the anonymous one
    assert signed_in.headers["cache-control"] == "private, no-cache"
    with_cookie = await client.get(path, headers={"Cookie": "session=x"})
    assert with_cookie.status_code == 200
    revalidated = await client.get(path, headers={"If-None-Match": anonymous[1].headers["etag"]})
    assert revalidated.status_code == 304
    assert _edge("replayed") == replayed  # none of the three was a replay


_THEIRS = ("etag", "cache-control", "vary", "content-type", "content-length", "link")
"""The headers a signed-in reader's answer is made of (besides the kernel's own)."""


def _same_answer(replayed: httpx.Response, routed: httpx.Response) -> None:
    assert (replayed.status_code, replayed.content) == (routed.status_code, routed.content)
    for name in _THEIRS:
        assert replayed.headers.get(name) == routed.headers.get(name), name


async def test_a_signed_in_reader_is_answered_before_routing_exactly_as_by_the_route(
    client: httpx.AsyncClient, writer: Writers
) -> None:
    ada, bob, cy = await writer("ada"), await writer("bob"), await writer("cy")
    await publish(client, ada, "Shared")
    path = f"{ARTICLES}/shared"
    assert (await client.put(f"{path}/favorite", headers=bob.headers)).status_code == 200
    for where in (path, f"{ARTICLES}?limit=5"):
        routed = await client.get(where, headers=bob.headers)  # the route; its headers kept
        personal = _edge("personal")
        replayed = await client.get(where, headers=bob.headers)
        assert _edge("personal") == personal + 1
        _same_answer(replayed, routed)
        assert replayed.headers["cache-control"] == "private, no-cache"

        # Another reader gets their own flags from the same kept answer, never bob's.
        theirs = await client.get(where, headers=cy.headers)
        assert _edge("personal") == personal + 2
        article = theirs.json() if where == path else theirs.json()["items"][0]
        assert (article["slug"], article["favorited"]) == ("shared", False)
        assert theirs.headers["etag"] != replayed.headers["etag"]

    # Their flags are read afresh: a follow moves no cache tag, yet the next replay shows it.
    follow = await client.put(f"/api/v1/profiles/{ada.username}/follow", headers=cy.headers)
    assert follow.status_code == 200
    personal = _edge("personal")
    followed = await client.get(path, headers=cy.headers)
    assert _edge("personal") == personal + 1
    assert followed.json()["author"]["following"] is True
    assert (await client.get(path, headers=bob.headers)).json()["author"]["following"] is False


async def test_the_edge_leaves_every_refusal_and_every_other_scheme_to_the_route(
    client: httpx.AsyncClient, writer: Writers
) -> None:
    ada, bob = await writer("ada"), await writer("bob")
    await publish(client, ada, "Guarded")
    path = f"{ARTICLES}/guarded"
    for _ in range(2):
        assert (await client.get(path, headers=bob.headers)).status_code == 200  # kept
    personal = _edge("personal")

    forged = await client.get(path, headers={"Authorization": "Bearer not.a.token"})
    assert forged.status_code == 401
    assert forged.headers["content-type"] == "application/problem+json"
    # The blog knows no `Token` scheme: the route answers such a caller as anonymous.
    token = await client.get(path, headers={"Authorization": f"Token {bob.access_token}"})
    assert (token.status_code, token.headers["cache-control"]) == (200, "public, max-age=5")

    assert (await client.post("/api/v1/auth/logout", headers=bob.headers)).status_code == 204
    ended = await client.get(path, headers=bob.headers)  # a valid signature, an ended session
    assert ended.status_code == 401
    assert "sign in again" in ended.json()["detail"]
    assert _edge("personal") == personal  # none of them was answered at the edge


async def test_a_realworld_reader_with_a_token_is_answered_before_routing(
    client: httpx.AsyncClient, writer: Writers
) -> None:
    ada, bob = await writer("ada"), await writer("bob")
    await publish(client, ada, "Worldly")
    assert (
        await client.put(f"{ARTICLES}/worldly/favorite", headers=bob.headers)
    ).status_code == 200
    token = {"Authorization": f"Token {bob.access_token}"}
    for where in (f"{REALWORLD}/articles/worldly", f"{REALWORLD}/articles?limit=5"):
        routed = await client.get(where, headers=token)
        personal = _edge("personal")
        replayed = await client.get(where, headers=token)
        assert _edge("personal") == personal + 1
        _same_answer(replayed, routed)
        body = replayed.json()
        article = body["article"] if "article" in body else body["articles"][0]
        assert (article["slug"], article["favorited"]) == ("worldly", True)

    bad = await client.get(f"{REALWORLD}/articles/worldly", headers={"Authorization": "Token x"})
    assert bad.status_code == 401
    assert "errors" in bad.json()  # the RealWorld error body: the route answered


PROFILES = "/api/v1/profiles"
FEED = f"{ARTICLES}/feed?limit=2"


async def test_a_readers_own_feed_is_replayed_before_routing_from_their_own_entry(
    client: httpx.AsyncClient, writer: Writers
) -> None:
    ada, bob, cat, dan = [await writer(name) for name in ("ada", "bob", "cat", "dan")]
    for author in (ada, ada, ada, bob, bob, bob):
        await publish(client, author, f"By {author.username}")
    for reader, author in ((cat, ada), (dan, bob)):
        follow = await client.put(f"{PROFILES}/{author.username}/follow", headers=reader.headers)
        assert follow.status_code == 200

    routed = await client.get(FEED, headers=cat.headers)  # the route; cat's entry kept
    assert routed.headers["cache-control"] == "private, no-cache"
    assert 'rel="next"' in routed.headers["link"]
    personal = _edge("personal")
    replayed = await client.get(FEED, headers=cat.headers)
    assert _edge("personal") == personal + 1
    _same_answer(replayed, routed)

    # Another reader of the same path gets their own feed, never cat's: from the route while
    # they have no entry, then from their own entry.
    dans = [await client.get(FEED, headers=dan.headers) for _ in range(2)]
    assert _edge("personal") == personal + 2
    _same_answer(dans[1], dans[0])
    assert {item["author"]["username"] for item in dans[1].json()["items"]} == {"bob"}
    assert dans[1].headers["link"] != routed.headers["link"]  # dan's own next cursor
    assert dans[1].headers["etag"] != routed.headers["etag"]

    # If-None-Match with the current ETag: 304 from the route.
    etag = replayed.headers["etag"]
    revalidated = await client.get(FEED, headers={**cat.headers, "If-None-Match": etag})
    assert revalidated.status_code == 304


async def _authors(client: httpx.AsyncClient, reader: Writer) -> list[tuple[str, bool]]:
    """Who wrote what ``reader``'s feed shows (a replay once the route has kept it), and
    whether the reader favorited it."""
    response = await client.get(f"{ARTICLES}/feed", headers=reader.headers)
    assert response.status_code == 200, response.text
    return [(item["author"]["username"], item["favorited"]) for item in response.json()["items"]]


async def test_a_kept_feed_moves_with_every_write_its_reader_can_see(
    client: httpx.AsyncClient, writer: Writers
) -> None:
    ada, bob, cat = await writer("ada"), await writer("bob"), await writer("cat")
    first = await publish(client, ada, "First")
    await client.put(f"{PROFILES}/ada/follow", headers=cat.headers)
    assert await _authors(client, cat) == [("ada", False)]
    assert await _authors(client, cat) == [("ada", False)]  # kept, replayed

    await client.put(f"{PROFILES}/bob/follow", headers=cat.headers)  # whom cat follows
    await publish(client, bob, "Second")  # a new article
    assert await _authors(client, cat) == [("bob", False), ("ada", False)]
    await client.put(f"{ARTICLES}/{first['slug']}/favorite", headers=cat.headers)
    assert await _authors(client, cat) == [("bob", False), ("ada", True)]

    await client.patch(f"{PROFILES}/me", json={"bio": "Now with a bio."}, headers=ada.headers)
    response = await client.get(f"{ARTICLES}/feed", headers=cat.headers)
    assert response.json()["items"][1]["author"]["bio"] == "Now with a bio."

    await client.delete(f"{PROFILES}/ada/follow", headers=cat.headers)
    assert await _authors(client, cat) == [("bob", False)]
    blocked = await client.put(f"{PROFILES}/cat/block", headers=bob.headers)  # ends the follow
    assert blocked.status_code == 200
    assert await _authors(client, cat) == []

    assert (await client.post("/api/v1/auth/logout", headers=cat.headers)).status_code == 204
    ended = await client.get(f"{ARTICLES}/feed", headers=cat.headers)
    assert ended.status_code == 401


async def test_a_realworld_feed_is_replayed_to_its_reader_with_a_token(
    client: httpx.AsyncClient, writer: Writers
) -> None:
    ada, bob = await writer("ada"), await writer("bob")
    await publish(client, ada, "Followed")
    await client.put(f"{PROFILES}/ada/follow", headers=bob.headers)
    token = {"Authorization": f"Token {bob.access_token}"}
    where = f"{REALWORLD}/articles/feed?limit=5"
    routed = await client.get(where, headers=token)
    personal = _edge("personal")
    replayed = await client.get(where, headers=token)
    assert _edge("personal") == personal + 1
    _same_answer(replayed, routed)
    assert replayed.json()["articlesCount"] == 1
    assert replayed.json()["articles"][0]["author"]["following"] is True
    others = await client.get(where, headers={"Authorization": f"Token {ada.access_token}"})
    assert others.json() == {"articles": [], "articlesCount": 0}
