"""The two stores under ``core/cache.py``: an LRU in the process, or Redis through cashews.

``Cache`` needs eight operations of its store (``Backend``): read one or several keys, write one
(optionally only if it is absent, which is also how a lock is taken), delete, release a lock,
and ping. Both stores provide them:

- ``MemoryBackend`` (``mem://``, the default): an ordered dict of ``key -> (deadline, bytes)``,
  bounded to ``size`` entries (``mem://?size=10000``; 1000 by default), the least recently used
  entry evicted first, an expired entry dropped when it is next read or evicted. It is written
  here, not taken from cashews, because importing cashews imports redis-py whenever it is
  installed (about 12 MiB of code): a process that caches in memory does not pay for it.
- ``redis_backend(url)``: cashews' Redis backend, imported when a Redis URL is configured.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Protocol
from urllib.parse import parse_qs, urlsplit

if TYPE_CHECKING:
    import cashews

DEFAULT_SIZE = 1000
REDIS_TIMEOUT_SECONDS = 0.5
REDIS_MAX_CONNECTIONS = 100
"""The cache's connections to Redis in one process. cashews' default is 10 in a
``BlockingConnectionPool``, whose waiters are woken in no fixed order: with 64 requests in
flight in one worker, a signed-in read waited up to 1.9 s for a connection (p99 1.07 s against
60 ms without Redis). A connection costs Redis about 20 KiB; it opens only when needed."""


class Backend(Protocol):
    """What ``Cache`` asks of its store. Values are bytes; ``expire`` is in seconds."""

    async def init(self) -> None: ...

    async def close(self) -> None: ...

    async def ping(self) -> object: ...

    async def get(self, key: str) -> bytes | None: ...

    async def get_many(self, *keys: str) -> tuple[bytes | None, ...]: ...

    async def set(
        self, key: str, value: bytes, expire: float | None = None, exist: bool | None = None
    ) -> bool:
        """Store ``value``; with ``exist=False`` only if ``key`` holds nothing (whether it did)."""
        ...

    async def delete(self, key: str) -> bool: ...

    async def delete_many(self, *keys: str) -> None: ...

    async def set_lock(self, key: str, value: bytes | str, expire: float) -> bool: ...

    async def unlock(self, key: str, value: bytes | str) -> bool: ...


class MemoryBackend:
    """An LRU of at most ``size`` entries with per-entry TTLs, for one process."""

    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        if size < 1:
            raise ValueError(f"mem:// size must be a positive number of entries, got {size}")
        self.size = size
        self._entries: OrderedDict[str, tuple[float | None, bytes | str]] = OrderedDict()

    @classmethod
    def from_url(cls, url: str) -> MemoryBackend:
        """``mem://`` or ``mem://?size=10000``."""
        query = parse_qs(urlsplit(url).query)
        try:
            size = int(query.get("size", [DEFAULT_SIZE])[-1])
        except ValueError as exc:
            raise ValueError(f"mem:// size must be a whole number: {url!r}") from exc
        return cls(size)

    async def init(self) -> None:
        return None

    async def close(self) -> None:
        self._entries.clear()

    async def ping(self) -> bytes:
        return b"PONG"

    def _live(self, key: str) -> bytes | str | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        deadline, value = entry
        if deadline is not None and deadline <= time.monotonic():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return value

    async def get(self, key: str) -> bytes | None:
        value = self._live(key)
        return value if isinstance(value, bytes) else None

    async def get_many(self, *keys: str) -> tuple[bytes | None, ...]:
        values = [self._live(key) for key in keys]  # one coroutine, not one per key
        return tuple([value if isinstance(value, bytes) else None for value in values])

    async def set(
        self, key: str, value: bytes | str, expire: float | None = None, exist: bool | None = None
    ) -> bool:
        if exist is not None and (self._live(key) is not None) is not exist:
            return False
        deadline = time.monotonic() + expire if expire else None
        self._entries[key] = (deadline, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)
        return True

    async def delete(self, key: str) -> bool:
        return self._entries.pop(key, None) is not None

    async def delete_many(self, *keys: str) -> None:
        for key in keys:
            self._entries.pop(key, None)

    async def set_lock(self, key: str, value: bytes | str, expire: float) -> bool:
        return await self.set(key, value, expire=expire, exist=False)

    async def unlock(self, key: str, value: bytes | str) -> bool:
        """Release the lock if ``value`` still holds it (an expired lock may be another's)."""
        if self._live(key) != value:
            return False
        del self._entries[key]
        return True


def redis_backend(url: str) -> cashews.Cache:
    """cashews on Redis: orjson bytes only (never pickle), errors raised to ``Cache``."""
    # Imported here: cashews imports redis-py (about 12 MiB), needed only with Redis.
    import cashews

    backend = cashews.Cache()
    backend.setup(
        url,
        pickle_type="null",  # we store orjson bytes; never unpickle what Redis holds
        suppress=False,  # errors reach us, to be answered as misses and logged once
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        socket_timeout=REDIS_TIMEOUT_SECONDS,
        max_connections=REDIS_MAX_CONNECTIONS,
    )
    return backend


def backend_errors() -> tuple[type[Exception], ...]:
    """The exceptions a Redis backend raises when Redis fails (imports cashews: Redis only)."""
    from cashews.exceptions import CacheBackendInteractionError

    return (CacheBackendInteractionError,)
