"""A copy of chosen cache keys in each process, kept current by Redis itself.

Every read of a cached entry compares the versions its tags had when it was computed with their
current versions (core/cache.py, "Tags are versions"). With Redis, those current versions are a
round trip away: the one round trip of an anonymous replay (core/edge_cache.py), about a third
of its cost on one worker. Yet tags change only when something is written, and most are read
thousands of times between two writes. The same holds for a few small entries that every
request reads, such as the state of the session behind an access token. So each process keeps
what it has read of those keys (every tag version; the entries of the kinds a module names with
``Cache.keep_near``), and Redis tells it when any of them changes: **client-side caching** in
Redis's broadcasting mode.

How it stays correct:

- One connection per process asks Redis (``CLIENT TRACKING ON BCAST PREFIX mainspring:cache-tag:
  [PREFIX ...] REDIRECT <itself>``) to be told of every change to any key under those prefixes,
  by anyone: another replica's write, a script's, an expiry, a ``FLUSHDB``. It then listens on
  ``__redis__:invalidate``; each message names the keys that changed (none: everything), and
  the process forgets them. The absence of a key is kept too: its creation is a change.
- What a read finds is kept only if no message arrived while it was being read (``epoch``): a
  message about the key may overtake the read's answer on the other connection.
- The process that writes a key forgets it before and after the write, so its own next read
  never sees the old value, whatever the message's timing.
- While the listening connection is down (Redis restarted, the network cut), the copy is empty
  and unused: every read goes to Redis, as without it, until the connection is back and the
  tracking set up again. A connection that stops answering its ``PING`` within
  ``HEALTH_SECONDS`` is treated as down.

What another replica may see, as with Redis's own client-side caching: the old value for the
time the message takes to reach it (Redis sends it before it answers the write; well under a
millisecond on one network). A read on the writing replica after its write is never stale.
A kept entry outlives its TTL until Redis expires the key (and says so): keep near only what
carries its own end of life (a session's state carries its expiry) or only grows safer with age.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterable
from contextlib import suppress

import structlog
from redis.asyncio.connection import AbstractConnection, ConnectionPool
from redis.exceptions import RedisError

from mainspring.core.backoff import Backoff
from mainspring.core.cache_entries import UNKNOWN, Unknown

logger = structlog.get_logger("mainspring.cache")

CHANNEL = "__redis__:invalidate"
"""Where Redis sends a tracking client's invalidation messages (RESP2)."""
MAX_KEYS = 20_000
"""Keys kept at most; the oldest are forgotten first (read again on their next use)."""
HEALTH_SECONDS = 1.0
"""How long the connection may stay silent before a ``PING``, and how long that may wait."""
CONNECT_TIMEOUT_SECONDS = 0.5
RECONNECT_INITIAL_SECONDS = 0.05
RECONNECT_MAX_SECONDS = 5.0


class KeyMirror:
    """This process's copy of the keys under ``prefixes`` (see the module docstring)."""

    def __init__(self, url: str, prefixes: Iterable[str]) -> None:
        self.prefixes = tuple(prefixes)
        self.client_name = f"mainspring-cache-tags-{uuid.uuid4().hex[:12]}"
        """The connection's ``CLIENT SETNAME``, to find it in ``CLIENT LIST``."""
        self._pool = ConnectionPool.from_url(
            url,
            client_name=self.client_name,
            protocol=2,  # the messages come on the subscription (RESP2), as this reads them
            socket_connect_timeout=CONNECT_TIMEOUT_SECONDS,
            socket_timeout=HEALTH_SECONDS,
        )
        self.values: dict[str, bytes | None] = {}
        """What each known key holds (None: nothing)."""
        self.live = False
        """Whether ``values`` may be used: the connection is up and tracking."""
        self.epoch = 0
        """Moves on every message and every change of ``live``: see ``learn``."""
        self._task: asyncio.Task[None] | None = None
        self._first_attempt = asyncio.Event()

    def track(self, prefix: str) -> None:
        """Also keep the keys under ``prefix``; before ``start`` (Redis is told of the prefixes
        when the connection is set up). Prefixes must not overlap (Redis refuses them)."""
        if self._task is not None:
            raise RuntimeError("KeyMirror.track() comes before start()")
        if prefix not in self.prefixes:
            self.prefixes += (prefix,)

    # --- what the cache asks ----------------------------------------------------------------

    def covers(self, key: str) -> bool:
        return key.startswith(self.prefixes)

    def known(self, key: str) -> bytes | Unknown | None:
        """What ``key`` holds (None: nothing), known to be current; or ``UNKNOWN``."""
        if not self.live:
            return UNKNOWN
        return self.values.get(key, UNKNOWN)

    def learn(self, epoch: int, keys: list[str], values: Iterable[bytes | None]) -> None:
        """Keep what a read that began at ``epoch`` found, unless anything changed since."""
        if not self.live or epoch != self.epoch:
            return
        for key, value in zip(keys, values, strict=True):
            if self.covers(key):
                self.values[key] = value
        while len(self.values) > MAX_KEYS:
            del self.values[next(iter(self.values))]

    def forget(self, keys: Iterable[str]) -> None:
        """Drop ``keys`` (this process is changing them), and let no read in flight keep what
        it found."""
        self.epoch += 1
        for key in keys:
            self.values.pop(key, None)

    # --- the listening connection -----------------------------------------------------------

    async def start(self) -> None:
        """Start listening; wait (briefly) for the first attempt, so that a process started with
        Redis up uses its copy from its first request."""
        self._task = asyncio.get_running_loop().create_task(self._listen_forever())
        with suppress(TimeoutError):
            await asyncio.wait_for(self._first_attempt.wait(), CONNECT_TIMEOUT_SECONDS * 2)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._down()
        await self._pool.disconnect()

    def _down(self) -> None:
        self.live = False
        self.epoch += 1
        self.values.clear()

    async def _listen_forever(self) -> None:
        backoff = Backoff(RECONNECT_INITIAL_SECONDS, RECONNECT_MAX_SECONDS)
        while True:
            connection = self._pool.make_connection()  # type: ignore[no-untyped-call]
            try:
                await self._track(connection)
                self._first_attempt.set()
                backoff.reset()
                await self._listen(connection)
            except (RedisError, OSError) as exc:
                logger.info(
                    "cache_tag_mirror_down",
                    error=type(exc).__name__,
                    retry_in=round(backoff.delay, 2),
                )
            except Exception:  # a bug must not stop the copy for good: log it, start again
                logger.exception("cache_tag_mirror_failed", retry_in=round(backoff.delay, 2))
            finally:
                self._down()
                with suppress(RedisError, OSError):
                    await connection.disconnect()
            self._first_attempt.set()
            await backoff.pause()

    async def _track(self, connection: AbstractConnection) -> None:
        """Connect, ask to be told of every change under the prefix, and listen for it."""
        await connection.connect()  # type: ignore[no-untyped-call]
        await connection.send_command("CLIENT", "ID")
        client_id = await connection.read_response()
        prefixes = [part for prefix in self.prefixes for part in ("PREFIX", prefix)]
        await connection.send_command(
            "CLIENT", "TRACKING", "ON", "REDIRECT", client_id, "BCAST", *prefixes
        )
        await connection.read_response()
        await connection.send_command("SUBSCRIBE", CHANNEL)
        await connection.read_response()  # [subscribe, channel, 1]
        self._down()  # whatever was kept before this connection may have changed since
        self.live = True

    async def _listen(self, connection: AbstractConnection) -> None:
        waiting_for_pong = False
        while True:
            message = await connection.read_response(timeout=HEALTH_SECONDS)
            if message is None:  # silent for HEALTH_SECONDS: is it still there?
                if waiting_for_pong:
                    raise ConnectionError("the cache tag mirror's PING went unanswered")
                await connection.send_command("PING")
                waiting_for_pong = True
                continue
            kind = message[0]
            if kind == b"pong":
                waiting_for_pong = False
            elif kind == b"message":
                self._changed(message[2])

    def _changed(self, keys: list[bytes] | None) -> None:
        self.epoch += 1
        if keys is None:  # FLUSHDB, FLUSHALL, or Redis dropping the tracking table
            self.values.clear()
            return
        for key in keys:
            self.values.pop(key.decode(), None)
