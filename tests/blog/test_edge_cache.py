"""The kernel's edge cache (core/edge_cache.py), through the blog: anonymous cached answers are
replayed before routing only while their cache tags hold, and never to a caller with
credentials or conditions."""

from __future__ import annotations

import httpx
from prometheus_client import REGISTRY

from tests.blog.writers import ARTICLES, Writers, publish

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
