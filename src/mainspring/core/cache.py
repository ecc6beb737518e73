"""Cache: JSON values with TTLs, tag invalidation and a stampede lock, in memory or on Redis.

Modules reach it as ``request.app.state.cache`` (``CacheDep``)::

    article = await cache.get_or_set(
        f"article:{slug}", lambda: load_article(session, slug), ttl=300, tags=[f"article:{id}"]
    )
    ...  # once the change is committed:
    await cache.invalidate_tags(f"article:{id}")

plus ``get``, ``set`` and ``delete``. The text before the first ``:`` of a key (``article``)
labels the hit and miss counts of ``/metrics``: start every key with a fixed kind.

Backends (``core/cache_backends.py``): ``mem://`` keeps entries in the process (an LRU of 1000
entries by default, ``mem://?size=10000`` for more), ``redis://`` shares them between every
replica, through cashews (imported only then). Each app builds its own backend instead of using
cashews' global ``cache`` object, so that two apps in one process (tests) never share entries.

Values are JSON documents (dicts, lists, strings, numbers, booleans, None), encoded with orjson.
Pickle is refused on purpose: unpickling what a shared Redis holds would let anyone able to write
to that Redis run code in the service. Whatever ``get_or_set`` returns, hit or miss, is the JSON
form (a tuple comes back as a list, a datetime as its ISO text), so callers never see a
difference between the two; anything JSON cannot represent raises ``TypeError`` at once.

Stampede: when a popular entry expires, a hundred requests would recompute it at once. Here one
caller per process computes it and the others of that process await its result; across replicas
a Redis lock (``SET NX`` with an expiry) lets one replica compute while the others poll for the
value it stores.

Tags are versions: each tag has a random version in the cache; an entry records the versions of
its tags when it is computed, and a read whose tags have moved on is a miss. Invalidating a tag
deletes its version, which makes every entry of the tag stale in one command, on every replica.
The versions are read *before* the loader runs, so an invalidation that lands while a value is
being computed makes that value stale instead of letting it live until its TTL.
Invalidate after the transaction commits: a reader that loads between the invalidation and the
commit would otherwise cache the old data under the new versions.

Cached responses: ``get_or_set_bytes`` keeps a body as the bytes it is sent as (a serialised
JSON answer, say) with a small JSON ``meta`` next to it (an ETag, a cursor), so that a hit costs
no decoding and no re-serialisation, and its ``version`` (a weak ETag of the versions of its tags
when it was computed) changes with every invalidation of any of them.

Invalidating after the commit: a service that changes what cached entries show calls
``invalidate_after_commit(session, *tags)`` (core/cache_commit.py) inside the transaction. The
tags are kept on the session and invalidated when it commits, *inside* the commit
(SQLAlchemy's ``after_commit`` event runs in the greenlet of ``await session.commit()``,
which can wait for the cache): the commit returns, and the response goes out, only once the
entries are stale. A rollback drops them. A session of a database without an installed cache
(a script's) invalidates nothing.

Near each process (Redis only, ``core/cache_mirror.py``): the tag versions, and the entries of
the kinds named by ``keep_near``, are kept in the process once read, and Redis tells every
process when one changes (client-side caching). Checking a kept answer's tags then costs no
round trip; every read goes through ``_fetch`` and every write through ``_change``.

A Redis outage is a miss, never an error: the loader runs, the client gets its answer, writes and
invalidations are skipped. A warning is logged (at most once a minute), the failures are counted
in ``mainspring_cache_backend_errors_total``, and Redis is left alone for a few seconds before
it is tried again. Invalidations lost in an outage leave entries to their TTL: keep TTLs short.
"""

from __future__ import annotations

import asyncio
import secrets
import time
import warnings
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import orjson
import structlog
from fastapi import Depends, FastAPI, Request
from prometheus_client import Counter

from mainspring.core.cache_backends import Backend, MemoryBackend, backend_errors, redis_backend
from mainspring.core.cache_entries import (
    BYTES_ENTRY,
    JSON_ENTRY,
    KEY_PREFIX,
    Codec,
    Unknown,
    entry_version,
)
from mainspring.core.cache_entries import BytesLoader as BytesLoader
from mainspring.core.cache_entries import CachedBytes as CachedBytes
from mainspring.core.config import Settings
from mainspring.core.health import register_readiness_check
from mainspring.core.single_flight import SingleFlight

if TYPE_CHECKING:
    from mainspring.core.cache_mirror import KeyMirror

logger = structlog.get_logger("mainspring.cache")

TAG_PREFIX = "mainspring:cache-tag:"
LOCK_PREFIX = "mainspring:cache-lock:"
TAG_TTL_SECONDS = 7 * 86_400
"""A tag version unused this long expires; its entries then read as stale (one extra miss)."""
LOCK_SECONDS = 10.0
"""How long a replica may compute a value before another one stops waiting and computes it."""
LOCK_POLL_SECONDS = 0.05
RETRY_REDIS_AFTER_SECONDS = 5.0
WARN_EVERY_SECONDS = 60.0

LOOKUPS = Counter(
    "mainspring_cache_lookups_total",
    "Cache lookups by key kind (the text before the first ':') and result (hit or miss).",
    ["name", "result"],
)
BACKEND_ERRORS = Counter(
    "mainspring_cache_backend_errors_total",
    "Cache operations that failed on the backend and were answered as a miss or skipped.",
)

_T = TypeVar("_T")
Loader = Callable[[], Awaitable[Any]]


class _Missing:
    """The result of a lookup that found nothing usable (``None`` is a value one may cache)."""


_MISSING = _Missing()


class Cache:
    """One app's cache on one backend (``mem://`` or ``redis://``)."""

    def __init__(self, url: str) -> None:
        self._backend: Backend
        self._backend_errors: tuple[type[Exception], ...] = ()
        """What the backend raises when it fails (nothing, in memory)."""
        self._mirror: KeyMirror | None = None
        """With Redis, this process's copy of the tag versions and of the entries of the kinds
        named by ``keep_near`` (core/cache_mirror.py)."""
        if url.startswith("mem://"):
            self._backend = MemoryBackend.from_url(url)
        elif url.startswith(("redis://", "rediss://")):
            from mainspring.core.cache_mirror import KeyMirror  # imports redis-py: Redis only

            self._backend = redis_backend(url)
            self._backend_errors = backend_errors()
            self._mirror = KeyMirror(url, [TAG_PREFIX])
        else:
            scheme = url.partition("://")[0]
            raise ValueError(f"cache backend {scheme!r}: use mem:// or redis://")
        self.shared = not url.startswith("mem://")
        self._flights = SingleFlight()
        self._tasks: set[asyncio.Task[None]] = set()
        self._retry_redis_at = 0.0
        self._warn_at = 0.0
        self._degraded = False

    async def start(self) -> None:
        await self._backend.init()
        if self._mirror is not None:
            await self._mirror.start()

    async def close(self) -> None:
        if self._mirror is not None:
            await self._mirror.close()
        # cashews 7.6 closes its Redis client with redis-py's deprecated ``close()``: that one
        # warning is theirs to fix, and is silenced so that it does not bury ours.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Call to deprecated close", DeprecationWarning)
            await self._backend.close()

    async def ping(self) -> None:
        """The readiness check: the backend answers (raises otherwise)."""
        await self._backend.ping()

    def keep_near(self, kind: str) -> None:
        """Keep a copy of the entries of ``kind`` (every key starting with it) in each process,
        kept current by Redis (core/cache_mirror.py): reading one then costs no round trip.
        For small entries that every request reads and few write, whose value carries its own
        end of life (a session's state). Call it before the app starts; nothing to do without
        Redis (the entries are in the process already)."""
        if self._mirror is not None:
            self._mirror.track(KEY_PREFIX + kind)

    # --- the API ----------------------------------------------------------------------------

    async def get(self, key: str, default: Any = None) -> Any:
        """The cached value of ``key``, or ``default``."""
        value = await self._read(key, JSON_ENTRY)
        _count(key, value)
        return default if value is _MISSING else value

    async def get_many(self, *keys: str, default: Any = None) -> list[Any]:
        """The cached values of ``keys``, ``default`` for each missing: with Redis one round
        trip (an ``MGET``), where ``get`` makes one each. An entry kept under tags is checked
        as ``get`` checks it."""
        found = await self._fetch([KEY_PREFIX + key for key in keys])
        values: list[Any] = []
        for key, raw in zip(keys, found or (None,) * len(keys), strict=True):
            value: Any = _MISSING
            if raw is not None:
                stamps, value = JSON_ENTRY.decode(raw)
                if stamps:  # its tags' versions to compare: a read of its own
                    value = await self._read(key, JSON_ENTRY)
            _count(key, value)
            values.append(default if value is _MISSING else value)
        return values

    async def set(self, key: str, value: Any, *, ttl: float, tags: Iterable[str] = ()) -> None:
        """Cache ``value`` under ``key`` for ``ttl`` seconds, invalidated with any of ``tags``."""
        _positive(ttl)
        orjson.dumps(value)  # a value JSON cannot hold fails here, whatever the backend does
        stamps = await self._stamps(tags)
        if stamps is not None:
            await self._write(key, JSON_ENTRY.encode(value, stamps, key), ttl, JSON_ENTRY)

    async def delete(self, key: str) -> None:
        """Remove ``key`` (on every replica, with Redis)."""
        full = KEY_PREFIX + key
        await self._change([full], lambda backend: backend.delete(full), False)

    async def invalidate_tags(self, *tags: str) -> None:
        """Make every entry carrying any of ``tags`` stale, on every replica."""
        keys = [TAG_PREFIX + tag for tag in tags]
        if keys:
            await self._change(keys, lambda backend: backend.delete_many(*keys), None)

    def invalidate_in_background(self, tags: Iterable[str]) -> None:
        """``invalidate_tags`` from a task of the running loop (from synchronous code)."""
        tags = list(tags)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop, no cache client to reach: the TTLs bound what stays
        task = loop.create_task(self.invalidate_tags(*tags))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def get_or_set(
        self, key: str, loader: Loader, *, ttl: float, tags: Iterable[str] = ()
    ) -> Any:
        """The cached value of ``key``; on a miss, ``await loader()``, cached for ``ttl`` seconds.

        Concurrent misses of one key run ``loader`` once (see the module docstring); if it
        raises, every caller waiting on it gets the exception.
        """
        return await self._get_or_set(key, loader, ttl, tags, JSON_ENTRY)

    async def get_or_set_bytes(
        self, key: str, loader: BytesLoader, *, ttl: float, tags: Iterable[str] = ()
    ) -> CachedBytes:
        """``get_or_set`` for a body kept as bytes (see ``CachedBytes``): the same single
        flight, lock and tags; a hit is the stored bytes, never decoded or re-encoded."""
        cached: CachedBytes = await self._get_or_set(key, loader, ttl, tags, BYTES_ENTRY)
        return cached

    async def get_bytes(self, key: str, *, tags: Iterable[str] = ()) -> CachedBytes | None:
        """The body ``get_or_set_bytes`` kept under ``key`` with ``tags``, if it is still
        current; None otherwise (absent, expired, stale, or the backend unreachable). What
        the edge cache reads a reader's own answer with (``cached_answers.lookup_own``)."""
        value = await self._read(key, BYTES_ENTRY, tags)
        _count(key, value)
        return None if value is _MISSING else value

    async def _get_or_set(
        self, key: str, loader: Loader, ttl: float, tags: Iterable[str], codec: Codec
    ) -> Any:
        _positive(ttl)
        value = await self._read(key, codec, tags)
        _count(key, value)
        if value is not _MISSING:
            return value
        return await self._flights.run(
            codec.prefix + key, lambda: self._load(key, loader, ttl, tags, codec)
        )

    # --- entries and tag versions -----------------------------------------------------------

    async def _read(self, key: str, codec: Codec, tags: Iterable[str] = ()) -> Any:
        """The value of a fresh entry, or _MISSING (absent, expired, stale or unreachable).

        The versions of the entry's tags are read in the same round trip as the entry when
        the caller names the tags (``get_or_set``): with Redis, a hit is one ``MGET``, not two
        round trips (and reads only the entry when this process's copy knows the versions);
        another read is needed only if the entry was kept under other tags."""
        names = list(dict.fromkeys(tags))
        found = await self._fetch([codec.prefix + key, *(TAG_PREFIX + tag for tag in names)])
        if found is None or found[0] is None:
            return _MISSING
        stamps, value = codec.decode(found[0])
        if not stamps:
            return value
        current = dict(zip(names, found[1:], strict=True))
        if others := [tag for tag in stamps if tag not in current]:
            versions = await self._versions(others)
            if versions is None:
                return _MISSING
            current.update(versions)
        return value if _holds(stamps, current) else _MISSING

    async def is_current(self, key: str, tags: Iterable[str], version: str) -> bool:
        """Whether the entry of ``key`` computed as ``version`` (``CachedBytes.version``) under
        ``tags`` is still current: every tag still has the version it had then (one read, as a
        hit's own check, none when this process's copy knows them all). False when the backend
        is unreachable."""
        if not version:
            return False
        names = list(dict.fromkeys(tags))
        current = await self._fetch([TAG_PREFIX + tag for tag in names])
        if current is None:
            return False
        stamps: dict[str, str] = {}
        for tag, value in zip(names, current, strict=True):
            if value is None:  # invalidated since
                return False
            stamps[tag] = value.decode()
        return entry_version(key, stamps) == version

    async def _versions(self, tags: list[str]) -> dict[str, bytes | None] | None:
        """The current version of each tag (None: it has none), or None when unreachable."""
        found = await self._fetch([TAG_PREFIX + tag for tag in tags])
        return None if found is None else dict(zip(tags, found, strict=True))

    async def _fetch(self, keys: list[str]) -> list[bytes | None] | None:
        """What each of ``keys`` (whole store keys) holds, None for nothing; None when the
        store is unreachable. Those this process's copy knows cost nothing (core/cache_mirror.py);
        the others are one read (an ``MGET`` with Redis), kept by the copy if it covers them."""
        mirror = self._mirror
        if mirror is None:
            stored = await self._call(lambda backend: backend.get_many(*keys), None)
            return None if stored is None else list(stored)
        known = [mirror.known(key) for key in keys]
        ask = [key for key, value in zip(keys, known, strict=True) if isinstance(value, Unknown)]
        found: Sequence[bytes | None] = ()
        if ask:
            epoch = mirror.epoch
            read = await self._call(lambda backend: backend.get_many(*ask), None)
            if read is None:
                return None
            mirror.learn(epoch, ask, read)
            found = read
        answers = iter(found)
        return [next(answers) if isinstance(value, Unknown) else value for value in known]

    async def _change(
        self, keys: list[str], operation: Callable[[Backend], Awaitable[_T]], failed: _T
    ) -> _T:
        """``_call`` for a write of ``keys``: this process's copy forgets them before (no read
        in flight keeps what it finds) and after (nothing read meanwhile outlives the write)."""
        mirror = self._mirror
        if mirror is None or not any(mirror.covers(key) for key in keys):
            return await self._call(operation, failed)
        mirror.forget(keys)
        try:
            return await self._call(operation, failed)
        finally:
            mirror.forget(keys)

    async def _stamps(self, tags: Iterable[str]) -> dict[str, str] | None:
        """The current version of each tag, created when missing; None when unreachable."""
        stamps: dict[str, str] = {}
        for tag in dict.fromkeys(tags):
            version = await self._version(TAG_PREFIX + tag)
            if version is None:
                return None
            stamps[tag] = version
        return stamps

    async def _version(self, tag_key: str) -> str | None:
        """A tag's current version, created if it has none; None when the backend is down."""
        found = await self._fetch([tag_key])
        if found is None:
            return None
        version = found[0]
        if version is None:
            new = secrets.token_hex(8).encode()
            created = await self._change(
                [tag_key],
                lambda backend: backend.set(tag_key, new, expire=TAG_TTL_SECONDS, exist=False),
                None,
            )
            if created is None:
                return None
            if created:
                version = new
            else:  # another writer created it between our two calls: theirs is the version
                version = await self._call(lambda backend: backend.get(tag_key), None)
        return None if version is None else version.decode()

    async def _write(self, key: str, entry: bytes, ttl: float, codec: Codec) -> None:
        full = codec.prefix + key
        await self._change([full], lambda backend: backend.set(full, entry, expire=ttl), False)

    async def _load(
        self, key: str, loader: Loader, ttl: float, tags: Iterable[str], codec: Codec
    ) -> Any:
        """Compute a missing value, once across replicas, and store it."""
        stamps = await self._stamps(tags)  # before the loader: see "Tags" above
        lock, token = LOCK_PREFIX + codec.prefix + key, secrets.token_hex(8)
        while not await self._call(
            lambda backend: backend.set_lock(lock, token, expire=LOCK_SECONDS), True
        ):
            # Another replica computes it: wait for its value (or for its lock to expire).
            await asyncio.sleep(LOCK_POLL_SECONDS)
            if (value := await self._read(key, codec)) is not _MISSING:
                return value
        try:
            if (value := await self._read(key, codec)) is not _MISSING:
                return value  # stored by the replica that held the lock just before us
            value = await loader()
            entry = codec.encode(value, stamps or {}, key)
            if stamps is not None:
                await self._write(key, entry, ttl, codec)
            return codec.result(value, entry)
        finally:
            await self._call(lambda backend: backend.unlock(lock, token), False)

    # --- outages ----------------------------------------------------------------------------

    async def _call(self, operation: Callable[[Backend], Awaitable[_T]], failed: _T) -> _T:
        """Run one backend operation; ``failed`` is its result when the backend is down."""
        if time.monotonic() < self._retry_redis_at:
            return failed
        try:
            result = await operation(self._backend)
        except self._backend_errors as exc:
            self._backend_failed(exc)
            return failed
        if self._degraded:
            self._degraded = False
            logger.info("cache_backend_recovered")
        return result

    def _backend_failed(self, exc: Exception) -> None:
        BACKEND_ERRORS.inc()
        now = time.monotonic()
        self._retry_redis_at = now + RETRY_REDIS_AFTER_SECONDS
        self._degraded = True
        if now >= self._warn_at:
            self._warn_at = now + WARN_EVERY_SECONDS
            logger.warning(
                "cache_backend_unavailable",
                error=type(exc.__cause__ or exc).__name__,
                consequence="lookups miss, writes and invalidations are skipped",
            )


def _positive(ttl: float) -> float:
    if ttl <= 0:
        raise ValueError(f"a cache TTL is a positive number of seconds, got {ttl!r}")
    return ttl


def _holds(stamps: dict[str, str], current: dict[str, bytes | None]) -> bool:
    """Whether every tag still has the version ``stamps`` recorded."""
    for tag, stamp in stamps.items():
        version = current.get(tag)
        if version is None or version.decode() != stamp:
            return False
    return True


def _count(key: str, value: Any) -> None:
    LOOKUPS.labels(key.partition(":")[0], "miss" if value is _MISSING else "hit").inc()


async def get_cache(request: Request) -> Cache:
    """The app's cache (a coroutine: FastAPI runs a plain function in a worker thread)."""
    cache: Cache = request.app.state.cache
    return cache


CacheDep = Annotated[Cache, Depends(get_cache)]


def install(app: FastAPI, settings: Settings) -> None:
    """Put the cache on ``app.state.cache``, open it at start-up, close it at shutdown."""
    cache = Cache(settings.backend_url(settings.cache_url, "mem://"))
    app.state.cache = cache
    from mainspring.core.cache_commit import attach_to_sessions  # it imports this module

    attach_to_sessions(app.state.db, cache)
    app.state.startup_hooks.append(cache.start)
    app.state.shutdown_hooks.append(cache.close)
    if cache.shared:
        register_readiness_check(app, "cache", cache.ping)
