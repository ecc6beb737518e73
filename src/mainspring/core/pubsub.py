"""Publish/subscribe on named channels: chat rooms, live notifications, anything fanned out live.

One interface, two backends chosen by ``MAINSPRING_PUBSUB_URL`` (else ``MAINSPRING_REDIS_URL``,
else ``memory://``):

- ``memory://`` delivers inside this process: enough for one server on a laptop.
- ``redis://...`` goes through Redis pub/sub, so a message published on one replica reaches the
  subscribers of every replica. Each app instance keeps **one** listening connection, shared by
  all its local subscribers: it subscribes a channel in Redis when the first local subscriber
  arrives, unsubscribes when the last leaves, and fans each message out locally. When that
  connection drops, the listener reconnects (exponential backoff with jitter) and subscribes
  every channel again.

Use it as ``app.state.pubsub``::

    await pubsub.publish("chat.room.42", {"type": "message", "text": "hi"})

    async with pubsub.subscribe("chat.room.42", "user.7") as subscription:
        async for message in subscription:          # Message(channel=..., data={...})
            await websocket.send_json(message.data)

Delivery is *at most once* and *live only*, like Redis pub/sub itself: a subscriber receives the
messages published while it is subscribed, and messages published while the Redis connection
is down are lost. Pub/sub announces changes; the database stays the source of truth, and a
client that reconnects catches up from it.

A slow consumer cannot exhaust memory: each subscription holds at most ``max_pending`` messages.
When one more arrives, the subscription is **cut off** (not trimmed): its queue is dropped and
iterating raises ``SubscriptionOverflow``. Dropping the oldest messages instead would leave a
silent gap in a chat; cutting off makes the gap explicit, and the consumer (a WebSocket
handler) closes the socket so that its client reconnects and resynchronises from the database.

The Redis backend lives in ``core/pubsub_redis.py``, imported only when the URL names Redis.

Inside a request, publish only once the change is committed: ``publish_after_commit(session,
channel, message)`` queues the message on the session and sends it after the commit; a
transaction that rolls back sends nothing.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import orjson
import structlog
from fastapi import FastAPI
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from mainspring.core.config import Settings
from mainspring.core.db import Database
from mainspring.core.errors import ServiceUnavailable
from mainspring.core.health import register_readiness_check

DEFAULT_MAX_PENDING = 1000
"""Messages a subscription may hold unread before it is cut off."""
SUBSCRIBE_TIMEOUT_SECONDS = 5.0
"""How long ``subscribe`` waits for Redis to confirm before answering 503."""
RECONNECT_INITIAL_SECONDS = 0.05
RECONNECT_MAX_SECONDS = 5.0
DRAIN_TIMEOUT_SECONDS = 5.0
"""On shutdown, how long to wait for after-commit publishes still in flight."""

logger = structlog.get_logger("mainspring.pubsub")

_SESSION_PUBSUB = "mainspring.pubsub"
_SESSION_PENDING = "mainspring.pubsub.pending"


@dataclass(frozen=True, slots=True)
class Message:
    """One message received on ``channel``. ``data`` is shared by the local subscribers of the
    channel: treat it as read-only."""

    channel: str
    data: dict[str, Any]


class SubscriptionOverflow(Exception):
    """The subscriber fell ``max_pending`` messages behind and was cut off: resubscribe and
    resynchronise from the source of truth."""


def encode(message: dict[str, Any]) -> bytes:
    """A message as it travels: JSON. Both backends encode, so a message that only the Redis
    backend could not carry (a datetime, a set) fails on a laptop too."""
    if not isinstance(message, dict):
        raise TypeError(f"a pub/sub message is a dict, not {type(message).__name__}")
    return orjson.dumps(message)


class Subscription:
    """An async iterator over the messages of one or more channels, with a bounded queue.

    It ends (``StopAsyncIteration``) when the pub/sub service stops, and raises
    ``SubscriptionOverflow`` once it has been cut off for falling behind.
    """

    def __init__(self, channels: tuple[str, ...], max_pending: int) -> None:
        self.channels = channels
        # ``None`` in the queue wakes a waiting consumer up to see that it was closed or cut off.
        self._queue: asyncio.Queue[Message | None] = asyncio.Queue(maxsize=max_pending + 1)
        self._max_pending = max_pending
        self._overflowed = False
        self._closed = False

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Message:
        while True:
            if self._overflowed:
                raise SubscriptionOverflow(f"more than {self._max_pending} messages unread")
            if self._closed:
                raise StopAsyncIteration
            message = await self._queue.get()
            if message is not None:
                return message

    def deliver(self, message: Message) -> None:
        """Queue a message without ever waiting: a full queue cuts the subscriber off."""
        if self._overflowed or self._closed:
            return
        if self._queue.qsize() < self._max_pending:
            self._queue.put_nowait(message)
            return
        self._overflowed = True
        while not self._queue.empty():  # free the memory now, not when the consumer wakes up
            self._queue.get_nowait()
        self._queue.put_nowait(None)
        logger.warning("pubsub_subscriber_cut_off", channels=self.channels)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._queue.put_nowait(None)  # fits: the queue keeps one slot beyond max_pending


class PubSub(ABC):
    """The interface, and the local fan-out and after-commit publishing both backends share.

    A backend sends messages (``publish``), hears the channels that have local subscribers
    (``_watch`` / ``_unwatch``) and hands what it hears to ``_fan_out``.
    """

    backend = "memory"

    def __init__(self) -> None:
        self._subscribers: dict[str, set[Subscription]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    @abstractmethod
    async def publish(self, channel: str, message: dict[str, Any]) -> None:
        """Send ``message`` (a JSON-serialisable dict) to every subscriber of ``channel``."""

    @asynccontextmanager
    async def subscribe(
        self, *channels: str, max_pending: int = DEFAULT_MAX_PENDING
    ) -> AsyncIterator[Subscription]:
        """Receive the messages published on ``channels`` from now on, until the block ends."""
        if not channels:
            raise ValueError("subscribe to at least one channel")
        if max_pending < 1:
            raise ValueError("max_pending must be at least 1")
        subscription = Subscription(tuple(dict.fromkeys(channels)), max_pending)
        watched: list[str] = []
        try:
            for channel in subscription.channels:
                self._subscribers.setdefault(channel, set()).add(subscription)
                watched.append(channel)
                await self._watch(channel)
            yield subscription
        finally:
            subscription.close()
            for channel in watched:
                subscribers = self._subscribers.get(channel, set())
                subscribers.discard(subscription)
                if not subscribers:
                    self._subscribers.pop(channel, None)
                    await self._unwatch(channel)

    def _fan_out(self, channel: str, data: dict[str, Any]) -> None:
        message = Message(channel, data)
        for subscription in tuple(self._subscribers.get(channel, ())):
            subscription.deliver(message)

    @abstractmethod
    async def _watch(self, channel: str) -> None:
        """Start hearing ``channel`` (called for every new local subscription of it)."""

    @abstractmethod
    async def _unwatch(self, channel: str) -> None:
        """Stop hearing ``channel`` (its last local subscriber left)."""

    def publish_in_background(self, messages: list[tuple[str, dict[str, Any]]]) -> None:
        """Publish ``messages`` in order from a task of the running loop (after a commit)."""
        task = asyncio.get_running_loop().create_task(self._publish_all(messages))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _publish_all(self, messages: list[tuple[str, dict[str, Any]]]) -> None:
        for channel, message in messages:
            try:
                await self.publish(channel, message)
            except Exception:  # the transaction is committed: log, never raise into the loop
                logger.exception("pubsub_publish_after_commit_failed", channel=channel)

    @abstractmethod
    async def start(self) -> None:
        """Open connections, start listening."""

    async def stop(self) -> None:
        """Finish the after-commit publishes in flight, then end every subscription."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=DRAIN_TIMEOUT_SECONDS)
        for subscribers in self._subscribers.values():
            for subscription in subscribers:
                subscription.close()

    @abstractmethod
    async def ping(self) -> None:
        """Readiness: raise when the backend cannot deliver."""


class MemoryPubSub(PubSub):
    """Delivers to this process's subscribers only: no connection, nothing to watch."""

    async def publish(self, channel: str, message: dict[str, Any]) -> None:
        self._fan_out(channel, orjson.loads(encode(message)))

    async def _watch(self, channel: str) -> None:
        """Every publish is heard already."""

    async def _unwatch(self, channel: str) -> None:
        """Nothing to release."""

    async def start(self) -> None:
        """Nothing to open."""

    async def ping(self) -> None:
        """Always ready."""


def unavailable() -> ServiceUnavailable:
    return ServiceUnavailable(
        "The pub/sub backend is unavailable; try again shortly.", headers={"Retry-After": "1"}
    )


def create_pubsub(url: str) -> PubSub:
    """The backend for ``url``: ``memory://`` or a Redis URL."""
    if url.startswith("memory://"):
        return MemoryPubSub()
    if url.startswith(("redis://", "rediss://", "unix://")):
        # Imported here: redis-py is about 12 MiB of code, for deployments that use Redis.
        from mainspring.core.pubsub_redis import RedisPubSub

        return RedisPubSub(url)
    raise ValueError(f"unsupported pub/sub URL scheme: {url.split(':', 1)[0]!r}")


# --- publishing after the commit ----------------------------------------------------------------


def publish_after_commit(session: AsyncSession, channel: str, message: dict[str, Any]) -> None:
    """Publish ``message`` on ``channel`` once the session's transaction commits.

    The message is encoded now (a bad message fails the request, not the commit) and kept on
    the session; SQLAlchemy's synchronous ``after_commit`` event then schedules the publishes,
    in order, on the running event loop. ``after_rollback`` discards them: a transaction that
    rolled back announces nothing.
    """
    pubsub = session.info.get(_SESSION_PUBSUB)
    if not isinstance(pubsub, PubSub):
        raise RuntimeError("this session's database has no pub/sub installed (core.pubsub)")
    encode(message)
    _pending(session.sync_session).append((channel, message))


def _pending(session: Session) -> list[tuple[str, dict[str, Any]]]:
    pending: list[tuple[str, dict[str, Any]]] | None = session.info.get(_SESSION_PENDING)
    if pending is None:
        pending = session.info[_SESSION_PENDING] = []
        event.listen(session, "after_commit", _publish_pending)
        event.listen(session, "after_rollback", _discard_pending)
    return pending


def _publish_pending(session: Session) -> None:
    pending: list[tuple[str, dict[str, Any]]] = session.info[_SESSION_PENDING]
    if pending:
        messages = list(pending)
        pending.clear()
        session.info[_SESSION_PUBSUB].publish_in_background(messages)


def _discard_pending(session: Session) -> None:
    session.info[_SESSION_PENDING].clear()


def _attach_to_sessions(database: Database, pubsub: PubSub) -> None:
    """Every read-write session of ``database`` carries ``pubsub`` in ``session.info``."""
    info = dict(database.sessionmaker.kw.get("info") or {})
    info[_SESSION_PUBSUB] = pubsub
    database.sessionmaker.configure(info=info)


def install(app: FastAPI, settings: Settings) -> None:
    """``app.state.pubsub``; its start/stop hooks; a ``pubsub`` readiness check on Redis."""
    pubsub = create_pubsub(settings.backend_url(settings.pubsub_url, "memory://"))
    app.state.pubsub = pubsub
    _attach_to_sessions(app.state.db, pubsub)
    app.state.startup_hooks.append(pubsub.start)
    app.state.shutdown_hooks.append(pubsub.stop)
    if pubsub.backend == "redis":
        register_readiness_check(app, "pubsub", pubsub.ping)
