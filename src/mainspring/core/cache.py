"""Cache: JSON values with TTLs, tag invalidation and a stampede lock, on cashews.

Modules reach it as ``request.app.state.cache`` (``CacheDep``)::

    article = await cache.get_or_set(
        f"article:{slug}", lambda: load_article(session, slug), ttl=300, tags=[f"article:{id}"]
    )
    ...  # once the change is committed:
    await cache.invalidate_tags(f"article:{id}")

plus ``get``, ``set`` and ``delete``. The text before the first ``:`` of a key (``article``)
labels the hit and miss counts of ``/metrics``: start every key with a fixed kind.

Backends: ``mem://`` keeps entries in the process (an LRU of 1000 entries by default,
``mem://?size=10000`` for more), ``redis://`` shares them between every replica. Each app
builds its own ``cashews.Cache()`` instead of using cashews' global ``cache`` object, so that
two apps in one process (tests) never share entries.

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
from collections.abc import Awaitable, Callable, Iterable
from typing import Annotated, Any, TypeVar

import cashews
import orjson
import structlog
from cashews.exceptions import CacheBackendInteractionError
from fastapi import Depends, FastAPI, Request
from prometheus_client import Counter

from mainspring.core.config import Settings
from mainspring.core.health import register_readiness_check

logger = structlog.get_logger("mainspring.cache")

KEY_PREFIX = "mainspring:cache:"
TAG_PREFIX = "mainspring:cache-tag:"
LOCK_PREFIX = "mainspring:cache-lock:"
TAG_TTL_SECONDS = 7 * 86_400
"""A tag version unused this long expires; its entries then read as stale (one extra miss)."""
LOCK_SECONDS = 10.0
"""How long a replica may compute a value before another one stops waiting and computes it."""
LOCK_POLL_SECONDS = 0.05
REDIS_TIMEOUT_SECONDS = 0.5
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
        self._backend = cashews.Cache()
        if url.startswith("mem://"):
            self._backend.setup(url)
        elif url.startswith(("redis://", "rediss://")):
            self._backend.setup(
                url,
                pickle_type="null",  # we store orjson bytes; never unpickle what Redis holds
                suppress=False,  # errors reach us, to be answered as misses and logged once
                socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
                socket_timeout=REDIS_TIMEOUT_SECONDS,
            )
        else:
            scheme = url.partition("://")[0]
            raise ValueError(f"cache backend {scheme!r}: use mem:// or redis://")
        self.shared = not url.startswith("mem://")
        self._flights: dict[str, asyncio.Future[Any]] = {}
        self._retry_redis_at = 0.0
        self._warn_at = 0.0
        self._degraded = False

    async def start(self) -> None:
        await self._backend.init()

    async def close(self) -> None:
        # cashews 7.6 closes its Redis client with redis-py's deprecated ``close()``: that one
        # warning is theirs to fix, and is silenced so that it does not bury ours.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Call to deprecated close", DeprecationWarning)
            await self._backend.close()

    async def ping(self) -> None:
        """The readiness check: the backend answers (raises otherwise)."""
        await self._backend.ping()

    # --- the API ----------------------------------------------------------------------------

    async def get(self, key: str, default: Any = None) -> Any:
        """The cached value of ``key``, or ``default``."""
        value = await self._read(key)
        _count(key, value)
        return default if value is _MISSING else value

    async def set(self, key: str, value: Any, *, ttl: float, tags: Iterable[str] = ()) -> None:
        """Cache ``value`` under ``key`` for ``ttl`` seconds, invalidated with any of ``tags``."""
        _positive(ttl)
        payload = orjson.dumps(value)
        stamps = await self._stamps(tags)
        if stamps is not None:
            await self._write(key, payload, ttl, stamps)

    async def delete(self, key: str) -> None:
        """Remove ``key`` (on every replica, with Redis)."""
        await self._call(lambda backend: backend.delete(KEY_PREFIX + key), False)

    async def invalidate_tags(self, *tags: str) -> None:
        """Make every entry carrying any of ``tags`` stale, on every replica."""
        keys = [TAG_PREFIX + tag for tag in tags]
        if keys:
            await self._call(lambda backend: backend.delete_many(*keys), None)

    async def get_or_set(
        self, key: str, loader: Loader, *, ttl: float, tags: Iterable[str] = ()
    ) -> Any:
        """The cached value of ``key``; on a miss, ``await loader()``, cached for ``ttl`` seconds.

        Concurrent misses of one key run ``loader`` once (see the module docstring); if it
        raises, every caller waiting on it gets the exception.
        """
        _positive(ttl)
        value = await self._read(key)
        _count(key, value)
        if value is not _MISSING:
            return value
        while (flight := self._flights.get(key)) is not None:
            await asyncio.wait([flight])
            if not flight.cancelled():
                return flight.result()
            # The caller computing it was cancelled (its client went away): take over.
        flight = asyncio.get_running_loop().create_future()
        self._flights[key] = flight
        try:
            value = await self._load(key, loader, ttl, tags)
        except asyncio.CancelledError:
            flight.cancel()
            raise
        except Exception as exc:
            flight.set_exception(exc)
            flight.exception()  # marks it retrieved: asyncio warns of unretrieved exceptions
            raise
        else:
            flight.set_result(value)
            return value
        finally:
            del self._flights[key]

    # --- entries and tag versions -----------------------------------------------------------

    async def _read(self, key: str) -> Any:
        """The value of a fresh entry, or _MISSING (absent, expired, stale or unreachable)."""
        raw = await self._call(lambda backend: backend.get(KEY_PREFIX + key), None)
        if raw is None:
            return _MISSING
        entry = orjson.loads(raw)
        stamps: dict[str, str] = entry["t"]
        if stamps:
            keys = [TAG_PREFIX + tag for tag in stamps]
            current = await self._call(lambda backend: backend.get_many(*keys), None)
            if current is None or any(
                version is None or version.decode() != stamp
                for version, stamp in zip(current, stamps.values(), strict=True)
            ):
                return _MISSING
        return entry["v"]

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
        version = await self._call(lambda backend: backend.get(tag_key), None)
        if version is None:
            new = secrets.token_hex(8).encode()
            created = await self._call(
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

    async def _write(self, key: str, payload: bytes, ttl: float, stamps: dict[str, str]) -> None:
        # The value is encoded once (by the caller) and spliced into the entry.
        entry = b'{"t":' + orjson.dumps(stamps) + b',"v":' + payload + b"}"
        await self._call(lambda backend: backend.set(KEY_PREFIX + key, entry, expire=ttl), False)

    async def _load(self, key: str, loader: Loader, ttl: float, tags: Iterable[str]) -> Any:
        """Compute a missing value, once across replicas, and store it."""
        stamps = await self._stamps(tags)  # before the loader: see "Tags" above
        lock, token = LOCK_PREFIX + key, secrets.token_hex(8)
        while not await self._call(
            lambda backend: backend.set_lock(lock, token, expire=LOCK_SECONDS), True
        ):
            # Another replica computes it: wait for its value (or for its lock to expire).
            await asyncio.sleep(LOCK_POLL_SECONDS)
            if (value := await self._read(key)) is not _MISSING:
                return value
        try:
            if (value := await self._read(key)) is not _MISSING:
                return value  # stored by the replica that held the lock just before us
            payload = orjson.dumps(await loader())
            if stamps is not None:
                await self._write(key, payload, ttl, stamps)
            return orjson.loads(payload)
        finally:
            await self._call(lambda backend: backend.unlock(lock, token), False)

    # --- outages ----------------------------------------------------------------------------

    async def _call(self, operation: Callable[[cashews.Cache], Awaitable[_T]], failed: _T) -> _T:
        """Run one backend operation; ``failed`` is its result when the backend is down."""
        if time.monotonic() < self._retry_redis_at:
            return failed
        try:
            result = await operation(self._backend)
        except CacheBackendInteractionError as exc:
            self._backend_failed(exc)
            return failed
        if self._degraded:
            self._degraded = False
            logger.info("cache_backend_recovered")
        return result

    def _backend_failed(self, exc: CacheBackendInteractionError) -> None:
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


def _count(key: str, value: Any) -> None:
    LOOKUPS.labels(key.partition(":")[0], "miss" if value is _MISSING else "hit").inc()


def get_cache(request: Request) -> Cache:
    cache: Cache = request.app.state.cache
    return cache


CacheDep = Annotated[Cache, Depends(get_cache)]


def install(app: FastAPI, settings: Settings) -> None:
    """Put the cache on ``app.state.cache``, open it at start-up, close it at shutdown."""
    cache = Cache(settings.backend_url(settings.cache_url, "mem://"))
    app.state.cache = cache
    app.state.startup_hooks.append(cache.start)
    app.state.shutdown_hooks.append(cache.close)
    if cache.shared:
        register_readiness_check(app, "cache", cache.ping)
