"""Live notifications over a WebSocket: ``/api/v1/notifications/ws``.

The protocol (every message is a JSON object with a ``type``):

1. The client connects and sends, within 10 seconds, ``{"type": "auth", "token": "<access
   JWT>"}``. The token travels in a message, not in the URL: URLs end up in access logs and
   proxy logs, messages do not. (Browsers cannot set an ``Authorization`` header on a
   WebSocket, which is why the token is not a header either.)
2. The server answers ``{"type": "ready", "unread_count": n}``, then pushes
   ``{"type": "notification", "notification": {...}}`` (the same object as
   ``GET /api/v1/notifications`` lists) for each new notification, once it is committed.
3. The client may send ``{"type": "ping"}``; the server answers ``{"type": "pong"}``.
   Anything else is answered ``{"type": "error", "code": "unknown-type"}``.

The server closes the socket with:

- ``4401`` when the first message is not a valid ``auth`` in time, when the access token
  expires, and when its session ends (logout, revocation, a disabled account; noticed within
  ``SESSION_RECHECK_SECONDS``): the client reconnects with a fresh token;
- ``1013`` (try again later) when the client fell too far behind the messages (see
  ``core/pubsub.py``): it reconnects and lists what it missed with the HTTP endpoint;
- ``1012`` (service restart) when the server shuts down.

Messages reach the socket through the kernel pub/sub, on the channel ``notifications.<user id>``:
with Redis, a notification created by a request on one replica reaches the recipient's sockets
on every replica. Delivery is live only; the database stays the source of truth.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime
from typing import Any

from fastapi import WebSocket, WebSocketDisconnect

from mainspring.core.auth import authenticate
from mainspring.core.db import Database, utcnow
from mainspring.core.errors import Unauthorized
from mainspring.core.pubsub import PubSub, SubscriptionOverflow
from mainspring.social.notifications.service import channel_of, notification_service

AUTH_TIMEOUT_SECONDS = 10.0
CLOSE_UNAUTHORIZED = 4401
CLOSE_TRY_AGAIN_LATER = 1013
CLOSE_SERVICE_RESTART = 1012
SESSION_RECHECK_SECONDS = 30.0
"""How often an open socket asks the session-state check (a cache read) whether its session
still stands. A socket outlives the request that authenticated it, so without asking again a
signed-out or disabled user would keep receiving notifications until the token expires."""


class _Unauthorized(Exception):
    pass


async def _authenticate(websocket: WebSocket) -> tuple[str, uuid.UUID, datetime]:
    """The ``auth`` message's token, its user, and when it expires."""
    try:
        message = await asyncio.wait_for(websocket.receive_json(), AUTH_TIMEOUT_SECONDS)
    except (TimeoutError, ValueError, KeyError) as exc:
        raise _Unauthorized("send {'type': 'auth', 'token': ...} first") from exc
    token = message.get("token") if isinstance(message, dict) else None
    if not isinstance(message, dict) or message.get("type") != "auth" or not isinstance(token, str):
        raise _Unauthorized("send {'type': 'auth', 'token': ...} first")
    try:
        principal = await authenticate(websocket, token)
    except Unauthorized as exc:
        raise _Unauthorized(exc.detail or "the access token is invalid or expired") from exc
    assert principal.expires_at is not None
    return token, principal.user_id, principal.expires_at


async def _guard(websocket: WebSocket, token: str, expires_at: datetime) -> int:
    """Wait until the token expires or its session ends; answer the close code then."""
    while (remaining := (expires_at - utcnow()).total_seconds()) > 0:
        await asyncio.sleep(min(SESSION_RECHECK_SECONDS, remaining))
        try:
            await authenticate(websocket, token)
        except Unauthorized:
            break
    return CLOSE_UNAUTHORIZED


async def _unread(database: Database, user_id: uuid.UUID) -> int:
    async with database.read_session() as session:
        return await notification_service.unread_count(session, user_id)


async def _answer(websocket: WebSocket) -> None:
    """Answer the client's messages until it disconnects."""
    while True:
        try:
            message: Any = await websocket.receive_json()
        except (ValueError, KeyError):  # not JSON, or a binary frame
            message = None
        if isinstance(message, dict) and message.get("type") == "ping":
            await websocket.send_json({"type": "pong"})
        else:
            await websocket.send_json(
                {"type": "error", "code": "unknown-type", "detail": "Send {'type': 'ping'}."}
            )


async def notifications_socket(websocket: WebSocket) -> None:
    """The live notifications of the authenticated user (protocol in the module docstring)."""
    await websocket.accept()
    try:
        token, user_id, expires_at = await _authenticate(websocket)
    except _Unauthorized as exc:
        await websocket.send_json({"type": "error", "code": "unauthorized", "detail": str(exc)})
        await websocket.close(CLOSE_UNAUTHORIZED)
        return
    except WebSocketDisconnect:
        return
    pubsub: PubSub = websocket.app.state.pubsub
    # Subscribe first, count second: a notification committed in between is then both counted
    # and delivered, never lost.
    async with pubsub.subscribe(channel_of(user_id)) as subscription:
        unread = await _unread(websocket.app.state.db, user_id)
        await websocket.send_json({"type": "ready", "unread_count": unread})

        async def forward() -> int:
            try:
                async for message in subscription:
                    await websocket.send_json(message.data)
            except SubscriptionOverflow:
                return CLOSE_TRY_AGAIN_LATER
            return CLOSE_SERVICE_RESTART

        tasks = {
            asyncio.create_task(_answer(websocket)),
            asyncio.create_task(forward()),
            asyncio.create_task(_guard(websocket, token, expires_at)),
        }
        done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        finished = done.pop()
        if finished.cancelled() or finished.exception() is not None:
            return  # the client went away (WebSocketDisconnect) or the socket broke
        close_code = finished.result()
        if isinstance(close_code, int):
            await websocket.close(close_code)
