"""The live hub of one server instance: which local sockets watch which rooms, and the fan-out.

Each instance subscribes to a room's pub/sub channel once, when the first local socket watches
the room, and fans every event out to its local sockets: the event is encoded to JSON text once
and put on each socket's bounded send queue (``Connection.offer``), so a 1,000-member room costs
one decode and one encode per instance, not per member. With Redis as the pub/sub backend the
same event reaches every instance; with ``memory://`` only this one (a single server).

It also keeps, per connected user, a subscription to their own channel (rooms added or removed,
mentions) and their presence (``live/presence.py``).

A ``member`` event with ``kicked``, ``banned`` or ``left`` cuts that person's sockets off the
room as it passes through the room's channel: nothing published after it in the room reaches
them, on any instance.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import structlog
from fastapi import FastAPI, WebSocket
from sqlalchemy.exc import SQLAlchemyError

from mainspring.chat.channels import room_channel, user_channel
from mainspring.chat.live.presence import REFRESH_SECONDS, presence_repository
from mainspring.chat.rooms.service import room_service
from mainspring.core.database_faults import database_fault
from mainspring.core.db import Database
from mainspring.core.pubsub import PubSub, SubscriptionOverflow

logger = structlog.get_logger("mainspring.chat")

SEND_QUEUE_SIZE = 256
"""Events a socket may have waiting to be written before it counts as a slow consumer."""
HUB_MAX_PENDING = 100_000
"""A hub subscription only moves events onto send queues; it falls behind only if the event
loop starves, and then every local socket of the room is resynchronised (closed with 1013)."""
CLOSE_TRY_AGAIN_LATER = 1013


class Connection:
    """One WebSocket: its user, the rooms it watches and its bounded send queue."""

    def __init__(self, websocket: WebSocket, user_id: uuid.UUID) -> None:
        self.websocket = websocket
        self.user_id = user_id
        self.username: str | None = None
        """Read on first use (typing events), not on every connect."""
        self.rooms: set[str] = set()
        self.subscribed = False
        self.close_code: int | None = None
        self.closing = asyncio.Event()
        """Set by ``close``: the socket's handler stops even if the writer is stuck in a send
        to a client that does not read."""
        self._queue: asyncio.Queue[str | None] = asyncio.Queue()

    def offer(self, text: str) -> None:
        """Queue ``text`` for the socket without waiting. A socket that has more than
        ``SEND_QUEUE_SIZE`` events waiting is disconnected (1013): it reconnects and catches
        up from the database instead of making the server buffer without bound."""
        if self.close_code is not None:
            return
        if self._queue.qsize() >= SEND_QUEUE_SIZE:
            logger.warning("chat_slow_consumer_disconnected", user_id=str(self.user_id))
            self.close(CLOSE_TRY_AGAIN_LATER)
            return
        self._queue.put_nowait(text)

    def send(self, data: dict[str, Any]) -> None:
        self.offer(orjson.dumps(data).decode())

    def close(self, code: int) -> None:
        """Ask the writer to stop and the socket to close with ``code``."""
        if self.close_code is None:
            self.close_code = code
            while not self._queue.empty():
                self._queue.get_nowait()
            self._queue.put_nowait(None)
            self.closing.set()

    async def write(self) -> None:
        """Write queued events until asked to close."""
        while (text := await self._queue.get()) is not None:
            await self.websocket.send_text(text)

    async def closed(self) -> int:
        """Wait until ``close`` is called; answer its code."""
        await self.closing.wait()
        assert self.close_code is not None
        return self.close_code


class _Channel:
    """One pub/sub subscription of the hub, shared by the local sockets that need it."""

    def __init__(self, task: asyncio.Task[None], ready: asyncio.Event) -> None:
        self.task = task
        self.ready = ready
        self.connections: set[Connection] = set()


class Hub:
    def __init__(self, pubsub: PubSub, database: Database) -> None:
        self.pubsub = pubsub
        self.database = database
        self.instance_id = uuid.uuid4().hex
        self._rooms: dict[str, _Channel] = {}
        self._users: dict[str, _Channel] = {}
        self._status: dict[uuid.UUID, str] = {}
        self._unclear: set[uuid.UUID] = set()
        """Users whose last local socket closed while the database could not clear their
        presence: ``refresh_presence`` clears them (else the refresh would keep them online)."""
        self._refresher: asyncio.Task[None] | None = None

    @property
    def connection_count(self) -> int:
        return sum(len(c.connections) for c in self._users.values())

    # --- sockets --------------------------------------------------------------------------

    async def connect(self, connection: Connection) -> None:
        """A new authenticated socket: watch its user's channel; presence online."""
        key = str(connection.user_id)
        first = key not in self._users
        await self._join(self._users, key, user_channel(key), self._on_user, connection)
        if first:
            await self.set_status(connection.user_id, "online")

    async def disconnect(self, connection: Connection) -> None:
        """A socket is gone: stop its deliveries; presence offline if it was the user's last
        here. Never fails because the database is unavailable (a socket's close must not wait
        on it): the presence is cleared later (``refresh_presence``)."""
        for room_id in list(connection.rooms):
            await self.unwatch(connection, room_id)
        key = str(connection.user_id)
        await self._leave(self._users, key, connection)
        if key not in self._users:
            try:
                await self.set_status(connection.user_id, None)
            except SQLAlchemyError as exc:
                fault = database_fault(exc)
                if fault is None:
                    raise
                logger.warning(
                    "chat_presence_not_cleared", user_id=key, reason=fault.reason, retry="refresh"
                )
                self._unclear.add(connection.user_id)

    async def watch(self, connection: Connection, room_id: str) -> None:
        """Deliver the room's events to ``connection`` from now on (returns once subscribed)."""
        if room_id in connection.rooms:
            return
        connection.rooms.add(room_id)
        await self._join(self._rooms, room_id, room_channel(room_id), self._on_room, connection)

    async def unwatch(self, connection: Connection, room_id: str) -> None:
        if room_id in connection.rooms:
            connection.rooms.discard(room_id)
            await self._leave(self._rooms, room_id, connection)

    # --- presence -------------------------------------------------------------------------

    async def set_status(self, user_id: uuid.UUID, status: str | None) -> None:
        """Record this instance's view of the user (``None``: no socket left here) and tell
        their rooms the user's presence across all instances."""
        if status is None:
            self._status.pop(user_id, None)
        elif self._status.get(user_id) == status:
            return
        else:
            self._status[user_id] = status
        async with self.database.session() as session:
            if status is None:
                await presence_repository.clear(session, user_id, self.instance_id)
            else:
                await presence_repository.set(session, user_id, self.instance_id, status)
        async with self.database.read_session() as session:
            overall = await presence_repository.status(session, user_id)
            room_ids = await room_service.room_ids_of(session, user_id)
        event = {"type": "presence", "user_id": str(user_id), "status": overall}
        for room_id in room_ids:
            await self.pubsub.publish(room_channel(room_id), event)

    async def refresh_presence(self) -> None:
        """Clear the presence a disconnect could not, then keep this instance's rows alive."""
        for user_id in list(self._unclear):
            if user_id not in self._status:  # not back online here meanwhile
                await self.set_status(user_id, None)
            self._unclear.discard(user_id)
        async with self.database.session() as session:
            await presence_repository.refresh(session, self.instance_id)

    async def _refresh_forever(self) -> None:
        while True:
            await asyncio.sleep(REFRESH_SECONDS)
            try:
                await self.refresh_presence()
            except Exception:  # a database outage: the next round tries again
                logger.warning("chat_presence_refresh_failed", exc_info=True)

    async def start(self) -> None:
        self._refresher = asyncio.create_task(self._refresh_forever())

    async def stop(self) -> None:
        if self._refresher is not None:
            self._refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refresher

    # --- channels -------------------------------------------------------------------------

    async def _join(
        self,
        channels: dict[str, _Channel],
        key: str,
        name: str,
        handler: Callable[[str, dict[str, Any]], Awaitable[None]],
        connection: Connection,
    ) -> None:
        channel = channels.get(key)
        if channel is None:
            ready = asyncio.Event()
            task = asyncio.create_task(self._listen(channels, key, name, handler, ready))
            channel = channels[key] = _Channel(task, ready)
        channel.connections.add(connection)
        ready_wait = asyncio.create_task(channel.ready.wait())
        await asyncio.wait({ready_wait, channel.task}, return_when=asyncio.FIRST_COMPLETED)
        ready_wait.cancel()
        if channel.task.done() and not channel.ready.is_set():
            channel.task.result()  # re-raise why subscribing failed (a 503)

    async def _leave(self, channels: dict[str, _Channel], key: str, connection: Connection) -> None:
        channel = channels.get(key)
        if channel is None:
            return
        channel.connections.discard(connection)
        if not channel.connections:
            del channels[key]
            channel.task.cancel()
            if channel.task is not asyncio.current_task():  # a listener may unwatch itself
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await channel.task

    async def _listen(
        self,
        channels: dict[str, _Channel],
        key: str,
        name: str,
        handler: Callable[[str, dict[str, Any]], Awaitable[None]],
        ready: asyncio.Event,
    ) -> None:
        try:
            async with self.pubsub.subscribe(name, max_pending=HUB_MAX_PENDING) as subscription:
                ready.set()
                async for message in subscription:
                    await handler(key, message.data)
        except SubscriptionOverflow:
            logger.warning("chat_hub_overflow", channel=name)
        finally:
            # Ended without being asked to (overflow, shutdown): the sockets resynchronise.
            channel = channels.get(key)
            if channel is not None and channel.task is asyncio.current_task():
                del channels[key]
                for connection in channel.connections:
                    connection.close(CLOSE_TRY_AGAIN_LATER)

    async def _on_room(self, room_id: str, data: dict[str, Any]) -> None:
        channel = self._rooms.get(room_id)
        if channel is None:
            return
        if data.get("type") == "member" and data.get("event") in ("kicked", "banned", "left"):
            removed = {"type": "room_removed", "room_id": room_id, "reason": data["event"]}
            for connection in [c for c in channel.connections if str(c.user_id) == data["user_id"]]:
                await self.unwatch(connection, room_id)
                connection.send(removed)
        text = orjson.dumps(data).decode()
        for connection in tuple(channel.connections):
            connection.offer(text)

    async def _on_user(self, user_id: str, data: dict[str, Any]) -> None:
        channel = self._users.get(user_id)
        if channel is None:
            return
        kind = data.get("type")
        for connection in tuple(channel.connections):
            if kind == "room_added" and connection.subscribed:
                await self.watch(connection, data["room_id"])
            elif kind == "room_removed":
                if data["room_id"] not in connection.rooms:
                    continue  # already cut off by the room's own event
                await self.unwatch(connection, data["room_id"])
            connection.send(data)


def install(app: FastAPI) -> None:
    """Put the instance's hub on ``app.state.chat_hub`` and start/stop it with the app."""
    hub = Hub(app.state.pubsub, app.state.db)
    app.state.chat_hub = hub
    app.state.startup_hooks.append(hub.start)
    app.state.shutdown_hooks.append(hub.stop)
