"""Resolving a code for a redirect: the in-process LRU, the kernel cache, and invalidation.

Three layers, fastest first:

1. ``RedirectLRU``, in each process: the ready-made response headers of *plain* links (enabled,
   no password, no click limit), for at most ``lru_ttl_seconds`` and never past the link's
   expiry. The fast path (``redirects.py``) answers from it without any I/O.
2. The kernel cache (``core/cache.py``: memory, or Redis shared by every replica): a
   ``Snapshot`` of any link, unknown codes included (a short negative entry), for
   ``cache_ttl_seconds``, tagged ``shortlink:<key>``.
3. The database.

Invalidation, when a link is created, changed or deleted (``changed_after_commit``): once the
transaction commits, the process drops the key from its LRU at once (synchronously, in
SQLAlchemy's ``after_commit`` event) and remembers it as *just changed*, so that its own next
lookups of that key skip the kernel cache for ``CHANGED_GRACE_SECONDS``; then, in a task, it
invalidates the key's cache tag and publishes ``{"keys": [...]}`` on the pub/sub channel
``shortener.links``. Every other process drops those keys from its LRU on receipt (and
invalidates its own cache tag when the cache is in-process memory). A publish lost in an
outage leaves other processes serving the old link for at most ``lru_ttl_seconds``: the TTL is
the safety net. Expiry needs no message: entries carry the expiry time and are checked on every
hit. Click limits need none either: limited links never enter the LRU, and each of their
redirects advances the counter in the database with a conditional UPDATE.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from mainspring.core.cache import Cache
from mainspring.core.pubsub import PubSub, SubscriptionOverflow

logger = structlog.get_logger("mainspring.shortener")

CHANNEL = "shortener.links"
CHANGED_GRACE_SECONDS = 5.0
NEGATIVE_TTL_SECONDS = 30
_SESSION_KEYS = "mainspring.shortener.changed"


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What a redirect needs to know of a link (the kernel cache's JSON value)."""

    id: str
    code: str
    url: str
    status: int
    expires_at: float | None
    """Unix time, or None."""
    max_clicks: int | None
    protected: bool
    enabled: bool

    @property
    def plain(self) -> bool:
        """Whether the fast path may serve it from memory: nothing to check per click."""
        return self.enabled and not self.protected and self.max_clicks is None

    def expired(self, now: float) -> bool:
        return self.expires_at is not None and now >= self.expires_at

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "code": self.code,
            "url": self.url,
            "status": self.status,
            "expires_at": self.expires_at,
            "max_clicks": self.max_clicks,
            "protected": self.protected,
            "enabled": self.enabled,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Snapshot:
        return cls(**data)

    @classmethod
    def of(
        cls,
        *,
        id: Any,
        code: str,
        url: str,
        status: int,
        expires_at: datetime | None,
        max_clicks: int | None,
        protected: bool,
        enabled: bool,
    ) -> Snapshot:
        return cls(
            id=str(id),
            code=code,
            url=url,
            status=status,
            expires_at=expires_at.timestamp() if expires_at else None,
            max_clicks=max_clicks,
            protected=protected,
            enabled=enabled,
        )


def cache_key(key: str) -> str:
    return f"shortlink:{key}"


@dataclass(frozen=True, slots=True)
class Entry:
    """A plain link's redirect, ready to send."""

    link_id: str
    status: int
    headers: list[tuple[bytes, bytes]]
    fresh_until: float
    """``time.monotonic()`` after which the entry must be looked up again."""
    expires_at: float | None
    """The link's expiry (Unix time)."""


class RedirectLRU:
    """A bounded, TTL-limited LRU of plain links' redirects, by code key."""

    def __init__(self, size: int, ttl: float) -> None:
        self.size = size
        self.ttl = ttl
        self._entries: OrderedDict[str, Entry] = OrderedDict()
        self._changed: dict[str, float] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> Entry | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if time.monotonic() >= entry.fresh_until or (
            entry.expires_at is not None and time.time() >= entry.expires_at
        ):
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry

    def put(self, key: str, entry: Entry, *, looked_up_at: float) -> None:
        """Keep ``entry`` unless the key changed after ``looked_up_at`` (a lookup that raced an
        invalidation must not bring the old link back)."""
        if self.size == 0 or self._changed.get(key, -1.0) >= looked_up_at:
            return
        self._entries[key] = entry
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def evict(self, key: str) -> None:
        self._entries.pop(key, None)
        now = time.monotonic()
        self._changed[key] = now
        if len(self._changed) > 1024:  # forget changes older than any lookup still running
            horizon = now - max(self.ttl, CHANGED_GRACE_SECONDS)
            self._changed = {k: t for k, t in self._changed.items() if t >= horizon}

    def changed_recently(self, key: str) -> bool:
        changed = self._changed.get(key)
        return changed is not None and time.monotonic() - changed < CHANGED_GRACE_SECONDS

    def clear(self) -> None:
        self._entries.clear()


class Invalidator:
    """Announces changed codes to this process (at once) and to the others (pub/sub)."""

    def __init__(self, lru: RedirectLRU, cache: Cache, pubsub: PubSub, instance: str) -> None:
        self.lru = lru
        self.cache = cache
        self.pubsub = pubsub
        self.instance = instance
        self._tasks: set[asyncio.Task[None]] = set()
        self._listener: asyncio.Task[None] | None = None

    def changed_after_commit(self, session: AsyncSession, *keys: str) -> None:
        """Invalidate ``keys`` once ``session`` commits (nothing if it rolls back)."""
        sync = session.sync_session
        pending: set[str] | None = sync.info.get(_SESSION_KEYS)
        if pending is None:
            pending = sync.info[_SESSION_KEYS] = set()
            event.listen(sync, "after_commit", self._committed)
            event.listen(sync, "after_rollback", _forget)
        pending.update(keys)

    def _committed(self, session: Session) -> None:
        keys = sorted(session.info.get(_SESSION_KEYS, ()))
        session.info[_SESSION_KEYS] = set()
        if not keys:
            return
        for key in keys:
            self.lru.evict(key)
        self._spawn(self._announce(keys))

    def _spawn(self, work: Any) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _announce(self, keys: list[str]) -> None:
        try:
            await self.cache.invalidate_tags(*(cache_key(key) for key in keys))
            await self.pubsub.publish(CHANNEL, {"keys": keys, "origin": self.instance})
        except Exception:  # committed already: other processes fall back on their TTL
            logger.warning("shortener_invalidation_not_published", keys=keys, exc_info=True)

    # --- other processes' changes -------------------------------------------------------

    async def start(self) -> None:
        ready = asyncio.Event()
        self._listener = asyncio.get_running_loop().create_task(self._listen(ready.set))
        try:
            async with asyncio.timeout(5):
                await ready.wait()
        except TimeoutError:
            logger.warning("shortener_invalidation_listener_not_ready")

    async def stop(self) -> None:
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=5)
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None

    async def _listen(self, ready: Callable[[], None]) -> None:
        while True:
            try:
                async with self.pubsub.subscribe(CHANNEL) as subscription:
                    ready()
                    async for message in subscription:
                        await self._heard(message.data)
                return  # the pub/sub service stopped
            except SubscriptionOverflow:
                self.lru.clear()  # we missed some: forget everything, keep listening
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning("shortener_invalidation_listener_failed", exc_info=True)
                await asyncio.sleep(1.0)

    async def _heard(self, data: dict[str, Any]) -> None:
        if data.get("origin") == self.instance:
            return
        keys = [str(key) for key in data.get("keys", [])]
        for key in keys:
            self.lru.evict(key)
        if not self.cache.shared:  # a shared cache was invalidated by the sender
            await self.cache.invalidate_tags(*(cache_key(key) for key in keys))


def _forget(session: Session) -> None:
    session.info[_SESSION_KEYS] = set()
