"""Anonymous cached answers replayed before routing: the kernel's in-process HTTP cache.

An anonymous read served by ``core/cached_answers.py`` costs no SQL, yet it still went through
FastAPI's routing, dependency solving and exception handling: about three quarters of its
time (docs/performance.md, "FastAPI's own floor"). Those answers already say anyone may keep
them (``Cache-Control: public``, ``Vary: Authorization``): a shared HTTP cache in front of the
service (a CDN, Varnish) would replay them without asking. This layer does the same inside the
process, with one difference a proxy cannot make: before each replay it checks that the answer
is still current, by the versions of the cache tags it was computed under, so a write is seen
by the very next read, as with the route itself.

How an answer gets here: ``cached_answers.lookup`` marks the request (``mark``) with the cache
key, tags and version of the entry it answered from, or of the absence it raises (a cached
404). When the response goes out, this layer keeps it (status, headers, body) under the
request's path, query and ``Accept`` header, if it is one of those: 200 with ``Cache-Control:
public``, or the marked 404. The next request with the same path, query and ``Accept``, sent
without credentials (no ``Authorization``, no ``Cookie``) nor conditions (no ``If-None-Match``,
``If-Modified-Since``), gets the kept response, if the entry's version is still the current
version of its tags (one cache read per tag, in process or in Redis) and its TTL has not run
out; otherwise it goes to the route, which answers and is kept again.

What the layer never changes: it sits inside ``KernelMiddleware``, so a replayed answer has its
own request id, security headers, access line and metrics (under its route's label); a request
with credentials or conditions, any other method, and any answer the route did not mark go
through the route as before. At most ``ENTRIES`` answers of at most ``MAX_BODY_BYTES`` each are
kept, ``MAX_TOTAL_BYTES`` in all, least recently used first out.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from prometheus_client import Counter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mainspring.core.cache import Cache

ENTRIES = 1024
"""How many answers a process keeps at most..."""
MAX_TOTAL_BYTES = 16 * 1024 * 1024
"""...and how many bytes of bodies in all."""
MAX_BODY_BYTES = 256 * 1024
"""Larger answers are not kept (a page of a list is a few tens of KiB)."""
MARK = "mainspring.shared_answer"
"""The ``scope["state"]`` entry by which ``cached_answers.lookup`` marks a shareable answer."""

EDGE_ANSWERS = Counter(
    "mainspring_edge_cache_answers_total",
    "Anonymous answers of the edge cache, by what happened: replayed, kept, or stale (dropped).",
    ["result"],
)
_REPLAYED, _KEPT, _STALE = (EDGE_ANSWERS.labels(result) for result in ("replayed", "kept", "stale"))

_BYPASS = frozenset({b"authorization", b"cookie", b"if-none-match", b"if-modified-since", b"range"})
"""Request headers that make an answer the caller's own: such requests go to the route."""


@dataclass(frozen=True, slots=True)
class Shared:
    """What ``cached_answers.lookup`` answered from: the entry's key, tags, version and TTL,
    and whether it is a cached absence (the route answers 404)."""

    key: str
    tags: tuple[str, ...]
    version: str
    ttl: float
    missing: bool


def mark(scope: Scope, shared: Shared) -> None:
    """Say that this request's answer is ``shared``'s, as anyone may receive it."""
    scope.setdefault("state", {})[MARK] = shared


@dataclass(slots=True)
class _Kept:
    shared: Shared
    expires: float
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes
    route: Any


class EdgeCache:
    """The ASGI layer: replays kept answers, keeps the marked ones (see the module)."""

    def __init__(self, app: ASGIApp, *, cache: Cache) -> None:
        self.app = app
        self.cache = cache
        self.kept: OrderedDict[tuple[str, bytes, bytes], _Kept] = OrderedDict()
        self.kept_bytes = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        accept = b""
        for name, value in scope["headers"]:
            if name in _BYPASS:
                await self.app(scope, receive, send)
                return
            if name == b"accept":
                accept = value
        where = (scope["path"], scope["query_string"], accept)
        kept = self.kept.get(where)
        if kept is not None:
            if await self._current(kept):
                if where in self.kept:  # a concurrent request may have dropped it meanwhile
                    self.kept.move_to_end(where)
                scope["route"] = kept.route
                start = {"type": "http.response.start", "status": kept.status}
                await send({**start, "headers": list(kept.headers)})
                await send({"type": "http.response.body", "body": kept.body})
                _REPLAYED.inc()
                return
            self._drop(where)
            _STALE.inc()
        await self._answer_and_keep(scope, receive, send, where)

    async def _current(self, kept: _Kept) -> bool:
        if time.monotonic() >= kept.expires:
            return False
        shared = kept.shared
        return await self.cache.is_current(shared.key, shared.tags, shared.version)

    async def _answer_and_keep(
        self, scope: Scope, receive: Receive, send: Send, where: tuple[str, bytes, bytes]
    ) -> None:
        status = 0
        headers: list[tuple[bytes, bytes]] = []
        chunks: list[bytes] = []
        size = 0
        whole = False

        async def watch(message: Message) -> None:
            nonlocal status, headers, size, whole
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", ()))
            elif message["type"] == "http.response.body":
                body = message.get("body", b"")
                size += len(body)
                if size <= MAX_BODY_BYTES:
                    chunks.append(body)
                whole = not message.get("more_body", False)
            await send(message)

        await self.app(scope, receive, watch)
        shared: Shared | None = scope.get("state", {}).get(MARK)
        if shared is None or not whole or size > MAX_BODY_BYTES:
            return
        if not (status == 404 and shared.missing) and not (status == 200 and _public(headers)):
            return
        self._drop(where)  # a concurrent request may have kept it meanwhile
        self.kept[where] = _Kept(
            shared=shared,
            expires=time.monotonic() + shared.ttl,
            status=status,
            headers=headers,
            body=b"".join(chunks),
            route=scope.get("route"),
        )
        self.kept_bytes += size
        _KEPT.inc()
        while len(self.kept) > ENTRIES or self.kept_bytes > MAX_TOTAL_BYTES:
            self._drop(next(iter(self.kept)))  # the least recently used

    def _drop(self, where: tuple[str, bytes, bytes]) -> None:
        kept = self.kept.pop(where, None)
        if kept is not None:
            self.kept_bytes -= len(kept.body)


def _public(headers: list[tuple[bytes, bytes]]) -> bool:
    """Anyone may be given it: ``Cache-Control: public``, and no per-client rate-limit fields."""
    names = {name.lower(): value for name, value in headers}
    return names.get(b"cache-control", b"").startswith(b"public") and not any(
        name.startswith(b"ratelimit") for name in names
    )
