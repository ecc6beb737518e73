"""The Redis backend of ``core/pubsub.py``: one replica's messages reach every replica.

Its own file so that redis-py (about 12 MiB of code) is imported only by a deployment whose
``MAINSPRING_PUBSUB_URL`` (or ``MAINSPRING_REDIS_URL``) names Redis: ``create_pubsub`` imports
it then. See ``core/pubsub.py`` for the interface and the delivery guarantees.
"""

from __future__ import annotations

import asyncio
import uuid
from contextlib import suppress
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.asyncio.client import PubSub as RedisPubSubConnection
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from mainspring.core.backoff import Backoff
from mainspring.core.pubsub import (
    RECONNECT_INITIAL_SECONDS,
    RECONNECT_MAX_SECONDS,
    SUBSCRIBE_TIMEOUT_SECONDS,
    PubSub,
    encode,
    logger,
    unavailable,
)


class RedisPubSub(PubSub):
    """Redis pub/sub: publishes through a pooled client, listens on one shared connection.

    Redis pub/sub ignores database numbers, so channel names are prefixed with the database of
    the URL (``mainspring:<db>:<channel>``): deployments sharing a Redis server on different
    databases stay apart, as their keys do.
    """

    backend = "redis"

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url
        self.client_name = f"mainspring-pubsub-{uuid.uuid4().hex[:12]}"
        """The listening connection's ``CLIENT SETNAME``, to find it in ``CLIENT LIST``."""
        self._publisher: Redis = Redis.from_url(url)
        # The listener never retries inside redis-py: ``_listen_forever`` owns reconnection.
        self._listener: Redis = Redis.from_url(
            url, client_name=self.client_name, retry=Retry(NoBackoff(), 0)
        )
        db = self._publisher.connection_pool.connection_kwargs.get("db", 0)
        self._prefix = f"mainspring:{db}:"
        self._control = f"{self._prefix}_instance:{self.client_name}"
        self._connection: RedisPubSubConnection | None = None
        self._command_lock = asyncio.Lock()
        # A subscriber returns from ``subscribe`` only once Redis has confirmed the channel:
        # ``_confirmed`` holds an event per watched channel, set when no SUBSCRIBE sent for it
        # on the current connection (counted in ``_unconfirmed``) awaits its confirmation.
        self._confirmed: dict[str, asyncio.Event] = {}
        self._unconfirmed: dict[str, int] = {}
        self._connected = asyncio.Event()
        self._first_attempt = asyncio.Event()
        self._listener_task: asyncio.Task[None] | None = None

    async def publish(self, channel: str, message: dict[str, Any]) -> None:
        payload = encode(message)
        try:
            await self._publisher.publish(self._prefix + channel, payload)
        except (RedisError, OSError) as exc:
            raise unavailable() from exc

    async def _watch(self, channel: str) -> None:
        if channel not in self._confirmed:
            self._confirmed[channel] = asyncio.Event()
            await self._send_subscribe(channel)
        try:
            await asyncio.wait_for(self._confirmed[channel].wait(), SUBSCRIBE_TIMEOUT_SECONDS)
        except TimeoutError as exc:
            raise unavailable() from exc

    async def _unwatch(self, channel: str) -> None:
        del self._confirmed[channel]
        async with self._command_lock:
            if self._connected.is_set() and self._connection is not None:
                try:
                    await self._connection.unsubscribe(self._prefix + channel)
                except (RedisError, OSError):
                    logger.warning("pubsub_unsubscribe_failed", channel=channel)

    async def _send_subscribe(self, channel: str) -> None:
        """SUBSCRIBE on the listening connection. While it is down, do nothing: the listener
        subscribes every watched channel when it reconnects."""
        async with self._command_lock:
            if not self._connected.is_set() or self._connection is None:
                return
            self._unconfirmed[channel] = self._unconfirmed.get(channel, 0) + 1
            try:
                await self._connection.subscribe(self._prefix + channel)
            except (RedisError, OSError):
                logger.warning("pubsub_subscribe_failed", channel=channel)

    def _on_subscribed(self, channel: str) -> None:
        remaining = self._unconfirmed.get(channel, 0) - 1
        if remaining > 0:
            self._unconfirmed[channel] = remaining
            return
        self._unconfirmed.pop(channel, None)
        if channel in self._confirmed:
            self._confirmed[channel].set()

    async def start(self) -> None:
        """Start the listener and wait for its first connection attempt (bounded), so that an
        app started with Redis up is ready at once; with Redis down it starts anyway, unready,
        and the listener keeps trying."""
        self._listener_task = asyncio.get_running_loop().create_task(self._listen_forever())
        with suppress(TimeoutError):
            await asyncio.wait_for(self._first_attempt.wait(), SUBSCRIBE_TIMEOUT_SECONDS)

    async def stop(self) -> None:
        await super().stop()
        if self._listener_task is not None:
            self._listener_task.cancel()
            with suppress(asyncio.CancelledError):
                await self._listener_task
            self._listener_task = None
        await self._disconnect()
        await self._listener.aclose()
        await self._publisher.aclose()

    async def ping(self) -> None:
        if not self._connected.is_set():
            raise ConnectionError("the pub/sub listener is not connected")
        await self._publisher.ping()

    async def _listen_forever(self) -> None:
        """Connect, read, and on any connection error start again after a growing pause."""
        backoff = Backoff(RECONNECT_INITIAL_SECONDS, RECONNECT_MAX_SECONDS)
        while True:
            try:
                connection = await self._connect()
                self._first_attempt.set()
                backoff.reset()
                await self._read(connection)
            except (RedisError, OSError) as exc:
                logger.warning(
                    "pubsub_connection_lost",
                    error=type(exc).__name__,
                    retry_in=round(backoff.delay, 2),
                )
            except Exception:  # a bug must not silence every subscriber for good: log, go on
                logger.exception("pubsub_listener_failed", retry_in=round(backoff.delay, 2))
            self._first_attempt.set()
            await self._disconnect()
            await backoff.pause()

    async def _connect(self) -> RedisPubSubConnection:
        """A new listening connection, subscribed to every watched channel."""
        connection = self._listener.pubsub()
        async with self._command_lock:
            channels = list(self._confirmed)
            # Confirmations owed by the previous connection will never come.
            self._unconfirmed = dict.fromkeys(channels, 1)
            # The instance's own control channel keeps the connection subscribed (and visible
            # in CLIENT LIST, and checked by readiness) even while no local subscriber exists.
            await connection.subscribe(self._control, *(self._prefix + c for c in channels))
            self._connection = connection
            self._connected.set()
        if channels:
            logger.info("pubsub_resubscribed", channels=len(channels))
        return connection

    async def _disconnect(self) -> None:
        self._connected.clear()
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                await connection.aclose()  # type: ignore[no-untyped-call]
            except (RedisError, OSError):
                logger.debug("pubsub_close_failed")

    async def _read(self, connection: RedisPubSubConnection) -> None:
        while True:
            message = await connection.get_message(timeout=None)
            if message is None or message["type"] not in ("message", "subscribe"):
                continue
            channel = message["channel"].decode()
            if channel == self._control or not channel.startswith(self._prefix):
                continue
            name = channel[len(self._prefix) :]
            if message["type"] == "subscribe":
                self._on_subscribed(name)
            else:
                self._dispatch(name, message["data"])

    def _dispatch(self, channel: str, payload: bytes) -> None:
        try:
            data = orjson.loads(payload)
        except orjson.JSONDecodeError:
            logger.warning("pubsub_message_not_json", channel=channel)
            return
        if isinstance(data, dict):
            self._fan_out(channel, data)
