"""Shared cached answers replayed before routing: the kernel's in-process HTTP cache.

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

A signed-in reader of the same content (docs/architecture.md, "A signed-in read of shared
content") is replayed too, when the route said how (``Shared.personal``: the reader's own part,
their flags, read fresh by one statement). The layer keeps the headers of the route's answer to
a signed-in reader, never its body; on the next such request with a bearer token (and no
cookie, no condition), while the entry's tags hold, it authenticates the token exactly as the
route's dependency would (``core.auth.authenticate``: signature, claims, live session) and sends
the body and ``ETag`` that ``personal`` composes for that reader. Anything else (no kept
headers, a stale entry, a token that does not authenticate, a database that does not answer)
goes to the route, which answers, or refuses, as it always does: the layer only ever answers
what the route would have answered.

A reader's own answer (a feed: its very rows depend on the reader) is replayed the same way,
from that reader's own entry (``cached_answers.lookup_own``): ``personal`` reads it from the
kernel cache, and its ``ETag`` and ``Link`` are the reader's (``Shared.replaces``).
"""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from prometheus_client import Counter
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mainspring.core.auth import authenticate
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
    "Answers of the edge cache, by what happened: replayed (anonymous), personal (replayed to a "
    "signed-in reader), kept, or stale (dropped).",
    ["result"],
)
_REPLAYED, _PERSONAL, _KEPT, _STALE = (
    EDGE_ANSWERS.labels(result) for result in ("replayed", "personal", "kept", "stale")
)

_BYPASS = frozenset({b"cookie", b"if-none-match", b"if-modified-since", b"range"})
"""Request headers that make an answer the caller's own: such requests go to the route (a bearer
token alone is answered from the reader's part of a shared entry, when the route says how)."""
_AUTHORIZATION = b"authorization"
REPLACED = frozenset({b"content-length", b"etag"})
"""The headers of a signed-in reader's answer to shared content that are theirs: composed for
each reader (``Shared.replaces``)."""
TOKEN_SCHEMES = (b"bearer",)
"""The ``Authorization`` schemes that carry an access token, unless the route says others
(``token_schemes``, e.g. the RealWorld adapter's ``Token``)."""

Headers = list[tuple[bytes, bytes]]
PersonalAnswer = Callable[[uuid.UUID], Awaitable[tuple[bytes, Headers]]]
"""The body of the answer the reader with this id gets, and its headers that are theirs (an
``ETag``; a ``Link`` too for an answer of their own): a shared entry with their flags set on it
(``cached_answers.lookup``'s ``personal``), or their own entry (``lookup_own``). Raises when the
route must answer instead (their own entry is not in the cache)."""


@dataclass(frozen=True, slots=True)
class Shared:
    """What ``cached_answers.lookup`` answered from: the entry's key, tags, version and TTL,
    and whether it is a cached absence (the route answers 404)."""

    key: str
    tags: tuple[str, ...]
    version: str
    ttl: float
    missing: bool
    personal: PersonalAnswer | None = None
    """How a signed-in reader is answered from the same entry; None: only by the route."""
    replaces: frozenset[bytes] = REPLACED
    """The headers of the route's answer to a signed-in reader that ``personal`` gives for each
    reader (lower case): they are not kept."""


def mark(scope: Scope, shared: Shared) -> None:
    """Say that this request's answer is ``shared``'s, as anyone may receive it."""
    scope.setdefault("state", {})[MARK] = shared


@dataclass(slots=True)
class _Kept:
    shared: Shared
    expires: float
    status: int
    headers: Headers
    body: bytes
    """The answer's body; empty for a signed-in reader's headers (``personal`` composes it)."""
    size: int
    """The bytes it counts against ``MAX_TOTAL_BYTES``: the answer's length (for a signed-in
    reader's, that of the route's answer: about the shared entry that ``personal`` holds)."""
    route: Any


Where = tuple[str, bytes, bytes, bool]
"""What an answer is kept under: path, query, ``Accept``, and whether it is a signed-in
reader's (its headers, for ``Shared.personal``) or the anonymous answer."""


class EdgeCache:
    """The ASGI layer: replays kept answers, keeps the marked ones (see the module)."""

    def __init__(self, app: ASGIApp, *, cache: Cache) -> None:
        self.app = app
        self.cache = cache
        self.kept: OrderedDict[Where, _Kept] = OrderedDict()
        self.kept_bytes = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        accept = b""
        authorization: bytes | None = None
        for name, value in scope["headers"]:
            if name in _BYPASS:
                await self.app(scope, receive, send)
                return
            if name == b"accept":
                accept = value
            elif name == _AUTHORIZATION:
                authorization = value
        where = (scope["path"], scope["query_string"], accept, authorization is not None)
        kept = self.kept.get(where)
        if kept is not None:
            if not await self._current(kept):
                self._drop(where)
                _STALE.inc()
            elif authorization is None:
                self._touch(where)
                await self._replay(scope, send, kept, kept.headers, kept.body)
                _REPLAYED.inc()
                return
            elif await self._replay_personal(scope, send, kept, authorization):
                self._touch(where)
                _PERSONAL.inc()
                return
        await self._answer_and_keep(scope, receive, send, where)

    async def _current(self, kept: _Kept) -> bool:
        if time.monotonic() >= kept.expires:
            return False
        shared = kept.shared
        return await self.cache.is_current(shared.key, shared.tags, shared.version)

    def _touch(self, where: Where) -> None:
        if where in self.kept:  # a concurrent request may have dropped it meanwhile
            self.kept.move_to_end(where)

    @staticmethod
    async def _replay(scope: Scope, send: Send, kept: _Kept, headers: Headers, body: bytes) -> None:
        scope["route"] = kept.route
        await send({"type": "http.response.start", "status": kept.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _replay_personal(
        self, scope: Scope, send: Send, kept: _Kept, authorization: bytes
    ) -> bool:
        """Answer a signed-in reader from the kept headers and the entry's ``personal``; False
        (nothing sent) for anything the route should answer instead."""
        personal = kept.shared.personal
        scheme, _, token = authorization.partition(b" ")
        route = getattr(kept.route, "original_route", kept.route)  # FastAPI's RouteContext
        schemes = getattr(route, "token_schemes", TOKEN_SCHEMES)
        if personal is None or scheme.lower() not in schemes or not token:
            return False
        try:
            principal = await authenticate(HTTPConnection(scope), token.decode("latin-1"))
            body, theirs = await personal(principal.user_id)
        except Exception:  # any doubt: the route answers (or refuses) and reports it
            return False
        headers = [*kept.headers, (b"content-length", str(len(body)).encode()), *theirs]
        await self._replay(scope, send, kept, headers, body)
        return True

    async def _answer_and_keep(
        self, scope: Scope, receive: Receive, send: Send, where: Where
    ) -> None:
        status = 0
        headers: Headers = []
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
        signed_in = where[3]
        if signed_in:  # the headers only, for ``shared.personal``
            if status != 200 or shared.personal is None or not _reusable(headers, b"private"):
                return
            replaced = shared.replaces
            headers = [(name, value) for name, value in headers if name.lower() not in replaced]
            chunks = []
        elif not (status == 404 and shared.missing) and not (
            status == 200 and _reusable(headers, b"public")
        ):
            return
        self._drop(where)  # a concurrent request may have kept it meanwhile
        self.kept[where] = _Kept(
            shared=shared,
            expires=time.monotonic() + shared.ttl,
            status=status,
            headers=headers,
            body=b"".join(chunks),
            size=size,
            route=scope.get("route"),
        )
        self.kept_bytes += size
        _KEPT.inc()
        while len(self.kept) > ENTRIES or self.kept_bytes > MAX_TOTAL_BYTES:
            self._drop(next(iter(self.kept)))  # the least recently used

    def _drop(self, where: Where) -> None:
        kept = self.kept.pop(where, None)
        if kept is not None:
            self.kept_bytes -= kept.size


def _reusable(headers: Headers, cache_control: bytes) -> bool:
    """Its ``Cache-Control`` starts with ``cache_control`` (``public``: anyone may be given it;
    ``private``: a signed-in reader's), and it carries nothing that is one client's alone: no
    rate-limit fields (a replay would skip the limiter), no cookie."""
    names = {name.lower(): value for name, value in headers}
    return names.get(b"cache-control", b"").startswith(cache_control) and not any(
        name.startswith(b"ratelimit") or name == b"set-cookie" for name in names
    )
