"""The edge cache's own bookkeeping (core/edge_cache.py), under requests that interleave.

Its behaviour through the routes is tested with the blog (tests/blog/test_edge_cache.py).
Here the layer wraps a small ASGI app that answers from the kernel cache and marks its answer
as the blog's routes do, so that two requests can be interleaved at the one point where a
replay waits: the check of its tags (a Redis round trip in production)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from mainspring.core import edge_cache
from mainspring.core.cache import Cache, CachedBytes
from mainspring.core.edge_cache import EdgeCache, Shared, mark

KEY, TAGS, TTL = "answer", ("things",), 60.0


class GatedCache(Cache):
    """An in-memory cache whose next tag check, once ``hold`` is called, reads the tags and
    then waits for ``release``: a Redis answer still on its way while other requests run."""

    def __init__(self) -> None:
        super().__init__("mem://")
        self.gate = asyncio.Event()
        self.held = False
        self.waiting = asyncio.Event()

    def hold(self) -> None:
        self.held = True

    def release(self) -> None:
        self.gate.set()

    async def is_current(self, key: str, tags: Iterable[str], version: str) -> bool:
        current = await super().is_current(key, tags, version)
        if self.held:
            self.held = False
            self.waiting.set()
            await self.gate.wait()
        return current


def answering_from(cache: Cache) -> EdgeCache:
    """The edge cache around an app that answers one shareable body, as ``cached_answers``
    does: from the cache, under ``TAGS``, marked for replay."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        async def load() -> CachedBytes:
            return CachedBytes(b'{"things": []}', {})

        cached = await cache.get_or_set_bytes(KEY, load, ttl=TTL, tags=TAGS)
        mark(scope, Shared(KEY, TAGS, cached.version, TTL, missing=False))
        headers = [(b"content-type", b"application/json"), (b"cache-control", b"public")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": cached.body})

    return EdgeCache(app, cache=cache)


async def test_a_replay_survives_its_answer_being_evicted_while_it_checked_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(edge_cache, "ENTRIES", 1)  # one answer kept: the next one evicts it
    cache = GatedCache()
    edge = answering_from(cache)
    transport = httpx.ASGITransport(app=edge)
    async with httpx.AsyncClient(transport=transport, base_url="http://edge") as client:
        assert (await client.get("/things")).status_code == 200  # answered and kept
        assert list(edge.kept) == [("/things", b"", b"*/*", False)]

        cache.hold()  # the next replay's check reads the tags (current), then waits
        first = asyncio.ensure_future(client.get("/things"))
        await asyncio.wait_for(cache.waiting.wait(), 5)
        other = await client.get("/things", params={"page": "2"})  # kept: evicts /things
        assert other.status_code == 200
        assert list(edge.kept) == [("/things", b"page=2", b"*/*", False)]
        cache.release()

        replayed = await asyncio.wait_for(first, 5)
        assert replayed.status_code == 200  # what it checked was current: it is replayed
        assert replayed.content == b'{"things": []}'
        assert list(edge.kept) == [("/things", b"page=2", b"*/*", False)]
        assert edge.kept_bytes == len(other.content)
