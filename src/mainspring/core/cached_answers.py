"""Anonymous answers kept whole in the kernel cache: the read side every module uses the same way.

What everybody sees alike (a published article, the shop's catalogue page) is computed once and
kept as the JSON bytes it is sent as (``Cache.get_or_set_bytes``, core/cache.py), under the tags
whose invalidation makes it stale. A module says *what* it caches and *which writes* invalidate
it (its own ``caching.py``: ``blog/caching.py``, ``shop/catalog/caching.py``); the mechanics are
here:

- ``digest_key(kind, *query)``: the key of a list, a digest of every parameter that shapes it;
- ``lookup(request, key, tags, load, ttl=...)``: the cached answer, or ``load(session)`` in a
  read session opened only on a miss (a hit opens no session and runs no SQL); with
  ``missing=SomeNotFound``, the loader's 404 is kept too, so a flood of requests for things
  that do not exist costs no SQL either;
- ``respond(cached, conditional)``: the answer, or 304 to a current ``If-None-Match``, with
  ``Cache-Control: public, max-age=MAX_AGE_SECONDS`` and ``Vary: Authorization``;
- ``respond_private(request, cached, conditional, overlay)``: a signed-in reader's answer made
  of the same shared entry and the reader's own part (``overlay``: their flags, read fresh by
  one small statement, never cached), with ``Cache-Control: private, no-cache``;
- ``read_session(request)``: the read session a signed-in reader's handler opens itself, when
  what it reads is not shared (their own drafts, a staff view);
- ``lookup_own(request, reader_id, key, tags, load, ttl=...)`` and ``respond_own(cached,
  conditional)``: a reader's *own* answer (a feed, whose very rows depend on whom the reader
  follows), kept per reader under tags that include the reader's own (``social:following:<id>``),
  answered ``private, no-cache`` with the entry's version as its ETag.

A route that answers signed-in readers with ``respond_private`` gives ``lookup`` the same reader's
part (``personal``: the overlay of any reader), so that the edge cache (core/edge_cache.py) can
answer the next signed-in reader of the same entry before routing, exactly as the route would.
``lookup_own`` does the same for a reader's own answer: the edge cache answers the next reader of
the same path and query from that reader's own entry, once the route has kept it.

An entry holds only what every reader sees alike. A signed-in reader who sees the same thing
plus a few flags of their own (``favorited``, ``following``, ``liked``) gets the shared entry
with those flags set on it (``respond_private``): the flags are read afresh on every request,
so they can never be stale, and the entry says in its ``meta`` which rows it shows (their ids),
so finding them needs no walk through the JSON. What a reader sees beyond flags (their own
drafts, a moderator's view) is read for them as before. Private answers say
``private, no-cache``; ``Vary: Authorization`` keeps a proxy from answering a signed-in request
with an anonymous copy.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson
from fastapi import Request, Response
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from mainspring.core import edge_cache
from mainspring.core.cache import Cache, CachedBytes
from mainspring.core.conditional import Conditional
from mainspring.core.db import Database
from mainspring.core.errors import NotFound

MAX_AGE_SECONDS = 5
PUBLIC = f"public, max-age={MAX_AGE_SECONDS}"
"""``Cache-Control`` of an anonymous answer: anyone may keep it a few seconds."""
PRIVATE = "private, no-cache"
"""``Cache-Control`` of a signed-in reader's answer: theirs only, revalidated before reuse."""
_T = TypeVar("_T")
JSON = "application/json"
MISSING = "missing"
"""The ``meta`` entry of a cached absence: the detail of its 404."""

Load = Callable[[AsyncSession], Awaitable[CachedBytes]]
ForReader = Callable[[uuid.UUID], _T]
"""What a reader's own entry is kept under, for any reader: their id -> its key, or its tags."""
Link = Callable[[CachedBytes], "str | None"]
"""The ``Link`` header of a reader's own answer, from their entry (its ``meta``'s next cursor)."""


@dataclass(frozen=True)
class Personal:
    """A reader's own part of a shared answer, read fresh for this request."""

    etag: str
    """The ETag of the composed answer: it must change whenever the reader's part does (e.g.
    ``make_etag(the shared entry's version, *the flags)``); empty for none."""
    apply: Callable[[Any], None]
    """Sets the reader's part on the decoded shared answer, in place."""


Overlay = Callable[[AsyncConnection, CachedBytes], Awaitable[Personal]]
"""Reads a reader's part of the shared entry (on a read connection, ``Database.read_connection``:
one Core statement over the ids the entry's ``meta`` names): what ``respond_private`` composes
with the entry."""
PersonalPart = Callable[[uuid.UUID], Overlay]
"""The reader's part of an entry, for any reader: their id -> the ``Overlay`` that reads it."""


def digest_key(kind: str, *query: object) -> str:
    """The key of a list's entry: its kind and a digest of every parameter that shapes it
    (``repr`` of each: pass dataclasses and plain values, never objects without a stable
    ``repr``)."""
    digest = hashlib.blake2b(repr(query).encode(), digest_size=16)
    return f"{kind}:{digest.hexdigest()}"


async def lookup(
    request: Request,
    key: str,
    tags: list[str],
    load: Load,
    *,
    ttl: float,
    missing: type[NotFound] | None = None,
    personal: PersonalPart | None = None,
) -> CachedBytes:
    """The anonymous answer kept under ``key``, stale once any of ``tags`` is invalidated, and
    after ``ttl`` seconds at most. On a miss, ``load`` computes it in a read session opened
    for it. When ``load`` raises ``missing``, that absence is kept like an answer and raised
    again on every hit until a write invalidates one of ``tags``. ``personal``: the reader's
    part the route sets on the entry for a signed-in reader (``respond_private``), for the edge
    cache to do the same. (The app's cache and database are read from ``request``: two more
    dependencies would each cost a worker thread hop, the price FastAPI puts on a plain
    function.)"""
    cache: Cache = request.app.state.cache

    async def miss() -> CachedBytes:
        async with read_session(request) as session:
            if missing is None:
                return await load(session)
            try:
                return await load(session)
            except missing as exc:
                return CachedBytes(b"", {MISSING: exc.detail})

    cached = await cache.get_or_set_bytes(key, miss, ttl=ttl, tags=tags)
    absent = missing is not None and MISSING in cached.meta
    if cached.version:  # anyone may be answered the same until a tag moves (core/edge_cache.py)
        answer = None if personal is None or absent else _personal_answer(request, cached, personal)
        shared = edge_cache.Shared(key, tuple(tags), cached.version, ttl, absent, answer)
        edge_cache.mark(request.scope, shared)
    if missing is not None and absent:
        raise missing(cached.meta[MISSING])
    return cached


async def lookup_own(
    request: Request,
    reader_id: uuid.UUID,
    key: ForReader[str],
    tags: ForReader[list[str]],
    load: Load,
    *,
    ttl: float,
    link: Link | None = None,
) -> CachedBytes:
    """The reader's own answer kept under ``key(reader_id)``, stale once any of
    ``tags(reader_id)`` is invalidated, and after ``ttl`` seconds at most; on a miss, ``load``
    computes it in a read session opened for it. Answer it with ``respond_own``.

    ``key`` and ``tags`` are functions of the reader (``key`` must hold their id and every
    parameter that shapes the answer, ``tags`` the reader's own tags) because the edge cache
    answers the next request for the same path and query, whoever sends it, from *that*
    reader's entry (``Cache.get_bytes``), with ``link(entry)`` as its ``Link``: a reader whose
    entry is not in the cache is answered by the route, which keeps it."""
    cache: Cache = request.app.state.cache

    async def miss() -> CachedBytes:
        async with read_session(request) as session:
            return await load(session)

    own_tags = tags(reader_id)
    cached = await cache.get_or_set_bytes(key(reader_id), miss, ttl=ttl, tags=own_tags)
    if cached.version:
        answer = _own_answer(cache, key, tags, link)
        shared = edge_cache.Shared(
            key(reader_id), tuple(own_tags), cached.version, ttl, False, answer, OWN_HEADERS
        )
        edge_cache.mark(request.scope, shared)
    return cached


OWN_HEADERS = edge_cache.REPLACED | {b"link"}
"""The headers of an answer of a reader's own that are theirs alone (``Shared.replaces``)."""


def respond_own(cached: CachedBytes, conditional: Conditional) -> Response:
    """A reader's own answer ``cached`` (``lookup_own``), or 304 to a current
    ``If-None-Match``: its ETag is the entry's version, which moves with every invalidation of
    its tags. The headers already set on ``conditional.response`` (``Link``) are kept;
    ``Cache-Control: private, no-cache``."""
    if cached.version and conditional.fresh(cached.version):
        answer = conditional.not_modified()
    else:
        answer = Response(cached.body, media_type=JSON)
        _copy_headers(conditional, answer)
    answer.headers["Vary"] = "Authorization"
    answer.headers["Cache-Control"] = PRIVATE
    return answer


def read_session(request: Request) -> AbstractAsyncContextManager[AsyncSession]:
    """The request's read session, for a handler that opens it only when it needs it: a
    signed-in reader, or a miss (``lookup``); an anonymous hit needs none."""
    database: Database = request.app.state.db
    return database.read_session()


def _copy_headers(conditional: Conditional, answer: Response) -> None:
    for name in ("ETag", "Vary", "Link"):
        if name in conditional.response.headers:
            answer.headers[name] = conditional.response.headers[name]


def respond(cached: CachedBytes, conditional: Conditional) -> Response:
    """The anonymous answer ``cached`` (304 when the client's ``If-None-Match`` names it), with
    the headers already set on ``conditional.response`` (``Link``). Its ETag is the loader's
    ``meta["etag"]``, else the entry's version (which moves with every invalidation)."""
    etag = cached.meta.get("etag") or cached.version
    if etag and conditional.fresh(etag):
        answer = conditional.not_modified()
    else:
        answer = Response(cached.body, media_type=JSON)
        _copy_headers(conditional, answer)
    answer.headers["Vary"] = "Authorization"  # even without an ETag (the cache unreachable)
    answer.headers["Cache-Control"] = PUBLIC
    return answer


async def respond_private(
    request: Request, cached: CachedBytes, conditional: Conditional, overlay: Overlay
) -> Response:
    """A signed-in reader's answer: the shared entry ``cached`` (what ``lookup`` gave anonymous
    readers) with the reader's part that ``overlay`` reads on a read connection, or 304
    when the client's ``If-None-Match`` names the composed answer's ETag (then the entry is not
    even decoded). The headers already set on ``conditional.response`` (``Link``) are kept;
    ``Cache-Control: private, no-cache``, since no one else may be answered with it."""
    personal = await _read(request.app.state.db, cached, overlay)
    if personal.etag and conditional.fresh(personal.etag):
        answer = conditional.not_modified()
    else:
        answer = Response(_composed(cached, personal), media_type=JSON)
        _copy_headers(conditional, answer)
    answer.headers["Vary"] = "Authorization"
    answer.headers["Cache-Control"] = PRIVATE
    return answer


async def _read(database: Database, cached: CachedBytes, overlay: Overlay) -> Personal:
    async with database.read_connection() as connection:
        return await overlay(connection, cached)


def _composed(cached: CachedBytes, personal: Personal) -> bytes:
    document = orjson.loads(cached.body)
    personal.apply(document)
    return orjson.dumps(document)


def _personal_answer(
    request: Request, cached: CachedBytes, personal: PersonalPart
) -> edge_cache.PersonalAnswer:
    """What the edge cache sends a signed-in reader of ``cached``: ``respond_private``'s body
    and ``ETag``, for whichever reader it authenticated."""
    database: Database = request.app.state.db

    async def answer(reader_id: uuid.UUID) -> tuple[bytes, edge_cache.Headers]:
        part = await _read(database, cached, personal(reader_id))
        return _composed(cached, part), [(b"etag", part.etag.encode())] if part.etag else []

    return answer


def _own_answer(
    cache: Cache, key: ForReader[str], tags: ForReader[list[str]], link: Link | None
) -> edge_cache.PersonalAnswer:
    """What the edge cache sends a reader for the same path and query: their own entry, with
    ``respond_own``'s headers; ``LookupError`` (the route answers) when it is not current."""

    async def answer(reader_id: uuid.UUID) -> tuple[bytes, edge_cache.Headers]:
        cached = await cache.get_bytes(key(reader_id), tags=tags(reader_id))
        if cached is None or not cached.version:
            raise LookupError("no current entry: the route answers and keeps one")
        headers = [(b"etag", cached.version.encode())]
        if link is not None and (value := link(cached)):
            headers.append((b"link", value.encode()))
        return cached.body, headers

    return answer
