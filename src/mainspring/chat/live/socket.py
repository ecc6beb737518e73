"""The chat WebSocket, ``/api/v1/chat/ws``: the protocol in code (docs/chat.md documents it).

Handshake: the ``Origin`` header, when a browser sends one, must be this server's own origin or
in ``MAINSPRING_CORS_ORIGINS``: otherwise the upgrade is refused (HTTP 403), so another site's
page cannot open a socket with a visitor's credentials. The access token comes in the handshake:
``Authorization: Bearer <token>`` (programs), or the subprotocol ``bearer.<token>`` next to
``mainspring.chat`` (browsers cannot set headers on a WebSocket; a subprotocol, unlike a query
string, stays out of access logs). A missing or bad token: the socket is accepted and closed at
once with 4401 after an ``error`` message, so a client knows to sign in again.

Then JSON messages with a ``type`` (see ``handle``). The server closes with:
4401 (token expired or session ended), 4408 (nothing received for ``IDLE_SECONDS``),
1009 (a frame over ``MAX_FRAME_BYTES``), 1013 (a slow consumer, or the server fell behind:
reconnect and catch up with ``since``; or the database could not serve the connect), 1008
(rate limit ignored), 1012 (server shutting down), 1011 (a bug: logged with its traceback).

The database being unavailable for a moment (its pool exhausted by a reconnect storm, SQLite's
write lock busy, a failover) never drops a socket: a frame that needed it is answered ``error``
``database-unavailable`` with ``retry_after`` (the client resends: ``subscribe`` is repeatable
and ``send`` is deduplicated by ``client_id``), a session recheck is tried again at the next
round, and a connect it fails is closed with 1013. Every close the server decides sends a close
frame with its code: none ends in an abrupt 1006.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from typing import Any
from urllib.parse import urlsplit

import orjson
import structlog
from fastapi import WebSocket, WebSocketDisconnect
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError
from starlette.websockets import WebSocketState

from mainspring.chat.channels import room_channel
from mainspring.chat.live.hub import CLOSE_TRY_AGAIN_LATER, Connection, Hub
from mainspring.chat.messages import schemas as message_schemas
from mainspring.chat.messages.service import message_service
from mainspring.chat.rooms.repository import room_repository
from mainspring.chat.rooms.service import room_service
from mainspring.core.auth import Principal, authenticate
from mainspring.core.database_faults import database_fault
from mainspring.core.db import Database, utcnow
from mainspring.core.errors import (
    DatabaseUnavailable,
    MainspringError,
    ServiceUnavailable,
    Unauthorized,
)

logger = structlog.get_logger("mainspring.chat")

SUBPROTOCOL = "mainspring.chat"
TOKEN_PREFIX = "bearer."  # noqa: S105 - the subprotocol prefix, not a secret
MAX_FRAME_BYTES = 16_384
"""A client frame larger than this closes the socket (1009)."""
IDLE_SECONDS = 60.0
"""A client that sends nothing (not even ``ping``) for this long is disconnected (4408)."""
RATE_PER_SECOND = 5.0
RATE_BURST = 20
"""Per connection: a bucket of 20 frames refilled at 5 per second. A frame over it is answered
``rate-limited`` and dropped; ``RATE_STRIKES`` of those in a row close the socket (1008)."""
RATE_STRIKES = 20
CATCH_UP_LIMIT = 500
"""At most this many missed messages per room are replayed on ``subscribe`` with ``since``;
beyond, ``subscribed`` says ``truncated`` and the client pages the rest over HTTP."""
TYPING_INTERVAL_SECONDS = 2.0
SESSION_RECHECK_SECONDS = 30.0
CLOSE_DRAIN_SECONDS = 5.0

CLOSE_UNAUTHORIZED = 4401
CLOSE_IDLE = 4408
CLOSE_TOO_BIG = 1009
CLOSE_POLICY = 1008
CLOSE_SERVICE_RESTART = 1012
CLOSE_INTERNAL_ERROR = 1011


class _Closing(Exception):
    def __init__(self, code: int) -> None:
        self.code = code


def _origin_allowed(websocket: WebSocket) -> bool:
    origin = websocket.headers.get("origin")
    if origin is None:
        return True  # not a browser: nothing to forge on its behalf
    allowed: list[str] = websocket.app.state.settings.cors_origins
    if origin in allowed:
        return True
    host = websocket.headers.get("host", "")
    return urlsplit(origin).netloc.lower() == host.lower()


def _token(websocket: WebSocket) -> str | None:
    authorization = websocket.headers.get("authorization", "")
    if authorization[:7].lower() == "bearer ":
        return authorization[7:].strip()
    for protocol in websocket.scope.get("subprotocols", []):
        if protocol.startswith(TOKEN_PREFIX):
            return str(protocol[len(TOKEN_PREFIX) :])
    return None


class _Bucket:
    def __init__(self) -> None:
        self.tokens = float(RATE_BURST)
        self.at = time.monotonic()
        self.strikes = 0

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(RATE_BURST, self.tokens + (now - self.at) * RATE_PER_SECOND)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            self.strikes = 0
            return True
        self.strikes += 1
        if self.strikes >= RATE_STRIKES:
            raise _Closing(CLOSE_POLICY)
        return False


class Session:
    """One authenticated socket: reads frames, answers them, and owns its ``Connection``."""

    def __init__(self, websocket: WebSocket, hub: Hub, connection: Connection) -> None:
        self.websocket = websocket
        self.hub = hub
        self.connection = connection
        self.database: Database = websocket.app.state.db
        self.bucket = _Bucket()
        self.typing_at: dict[str, float] = {}
        self.last_frame = time.monotonic()

    @property
    def user_id(self) -> uuid.UUID:
        return self.connection.user_id

    def error(self, code: str, detail: str, **extra: Any) -> None:
        self.connection.send({"type": "error", "code": code, "detail": detail, **extra})

    async def read(self) -> None:
        """Read frames until the client leaves or a rule closes the socket."""
        while True:
            frame = await self.websocket.receive()
            self.last_frame = time.monotonic()
            if frame["type"] == "websocket.disconnect":
                raise WebSocketDisconnect(frame.get("code", 1000))
            raw = frame.get("text") or frame.get("bytes") or b""
            if len(raw) > MAX_FRAME_BYTES:
                raise _Closing(CLOSE_TOO_BIG)
            if not self.bucket.take():
                self.error("rate-limited", f"At most {RATE_PER_SECOND:g} messages a second.")
                continue
            try:
                message = orjson.loads(raw)
            except orjson.JSONDecodeError:
                message = None
            if not isinstance(message, dict) or not isinstance(message.get("type"), str):
                self.error("bad-message", "Send a JSON object with a `type`.")
                continue
            try:
                await self.handle(message)
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first["loc"])
                self.error(
                    "validation-error",
                    f"{where}: {first['msg']}",
                    **_ref(message),
                )
            except (MainspringError, SQLAlchemyError) as exc:
                problem = _problem(exc)  # re-raises a database error that is a bug
                detail = problem.detail or problem.title
                self.error(problem.code, detail, **_extra(problem, message))

    async def handle(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "ping":
            self.connection.send({"type": "pong"})
        elif kind == "subscribe":
            await self.subscribe(message)
        elif kind == "send":
            await self.send(message)
        elif kind == "typing":
            await self.typing(message)
        elif kind == "read":
            room_id = _uuid(message.get("room_id"))
            seq = message.get("seq")
            if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
                raise _Invalid("seq: a sequence number (an integer, 0 or more) is required.")
            async with self.database.session() as session:
                await room_service.mark_read(session, self.user_id, room_id, seq)
        elif kind == "presence":
            status = message.get("status")
            if status not in ("online", "away"):
                self.error("validation-error", "status: `online` or `away`")
                return
            await self.hub.set_status(self.user_id, status)
        else:
            self.error("unknown-type", f"Unknown message type {kind[:40]!r}.")

    async def subscribe(self, message: dict[str, Any]) -> None:
        """Watch my rooms (all, or those listed), then replay what was missed since a point."""
        since = message.get("since") or {}
        wanted = message.get("rooms")
        if not isinstance(since, dict) or (wanted is not None and not isinstance(wanted, list)):
            self.error("validation-error", "`rooms` is a list of ids, `since` an object.")
            return
        async with self.database.read_session() as session:
            mine = {str(r) for r in await room_service.room_ids_of(session, self.user_id)}
        rooms = mine if wanted is None else {str(r) for r in wanted}
        refused = sorted(rooms - mine)
        if refused:
            self.error("room-not-found", "Not a member of these rooms.", rooms=refused)
        rooms &= mine
        self.connection.subscribed = True
        for room_id in sorted(rooms):
            await self.hub.watch(self.connection, room_id)  # subscribed before reading: no gap
        summary = []
        async with self.database.read_session() as session:
            for room_id in sorted(rooms):
                rid = uuid.UUID(room_id)
                truncated = False
                point = since.get(room_id)
                if isinstance(point, int) and not isinstance(point, bool) and point >= 0:
                    truncated = await self._catch_up(session, rid, point)
                room = await room_repository.read(session, rid, self.user_id)
                if room is None or room.role is None:
                    continue
                summary.append(
                    {
                        "room_id": room_id,
                        "last_seq": room.last_seq,
                        "last_read_seq": room.last_read_seq,
                        "unread": room.unread,
                        "truncated": truncated,
                    }
                )
        self.connection.send({"type": "subscribed", "rooms": summary})

    async def _catch_up(self, session: Any, room_id: uuid.UUID, after: int) -> bool:
        sent = 0
        while sent < CATCH_UP_LIMIT:
            history = await message_service.history(
                session, self.user_id, room_id, before=None, after=after, limit=100
            )
            for item in history.items:
                self.connection.send({"type": "message", "message": item.model_dump(mode="json")})
            sent += len(history.items)
            if not history.has_more or not history.items:
                return False
            after = history.items[-1].seq
        return True

    async def send(self, message: dict[str, Any]) -> None:
        room_id = _uuid(message.get("room_id"))
        data = message_schemas.MessageCreate.model_validate(
            {k: v for k, v in message.items() if k not in ("type", "room_id")}
        )
        async with self.database.session() as session:
            stored, created = await message_service.send(session, self.user_id, room_id, data)
        # Committed: now acknowledge (the broadcast leaves after the commit too).
        self.connection.send(
            {
                "type": "ack",
                "client_id": data.client_id,
                "duplicate": not created,
                "message": stored.model_dump(mode="json"),
            }
        )

    async def typing(self, message: dict[str, Any]) -> None:
        room_id = str(_uuid(message.get("room_id")))
        if room_id not in self.connection.rooms:
            self.error("not-subscribed", "Subscribe to the room first.")
            return
        now = time.monotonic()
        if now - self.typing_at.get(room_id, 0.0) < TYPING_INTERVAL_SECONDS:
            return  # one typing event per room every 2 s is plenty
        self.typing_at[room_id] = now
        if self.connection.username is None:  # read once, on first use: not on every connect
            async with self.database.read_session() as session:
                self.connection.username = await room_repository.username(session, self.user_id)
        await self.hub.pubsub.publish(
            room_channel(room_id),
            {
                "type": "typing",
                "room_id": room_id,
                "user_id": str(self.user_id),
                "username": self.connection.username,
            },
        )


def _uuid(value: Any) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise _Invalid("room_id: a room id (UUID) is required.") from None


class _Invalid(MainspringError):
    status, code, title = 422, "validation-error", "Unprocessable Content"


def _problem(exc: MainspringError | SQLAlchemyError) -> MainspringError:
    """The error to answer for ``exc``: a domain error as it is, a database error that means
    "unavailable, retry" (``database_faults.database_fault``: the pool exhausted, SQLite locked, the
    server gone) as ``DatabaseUnavailable``. Any other database error is a bug: re-raised."""
    if isinstance(exc, MainspringError):
        return exc
    fault = database_fault(exc)
    if fault is None:
        raise exc
    logger.warning(
        "database_unavailable", reason=fault.reason, error=type(exc).__name__, path="chat-socket"
    )
    return DatabaseUnavailable(fault.reason)


def _ref(message: dict[str, Any]) -> dict[str, Any]:
    """What lets a client match an error to its request."""
    client_id = message.get("client_id")
    return {"client_id": client_id} if isinstance(client_id, str) else {}


def _extra(problem: MainspringError, message: dict[str, Any] | None = None) -> dict[str, Any]:
    """An error frame's fields past ``code`` and ``detail``: ``retry_after`` (seconds) when the
    database is unavailable, the request's ``client_id``."""
    extra = _ref(message) if message is not None else {}
    if isinstance(problem, DatabaseUnavailable):
        extra["retry_after"] = problem.retry_after
    return extra


async def _guard(session: Session, token: str, principal: Principal) -> int:
    """Wait until the client falls silent (4408), its token expires or its session ends
    (4401); answer the close code then. One sleeping task per socket does all three, rather
    than a timer per frame received."""
    assert principal.expires_at is not None
    recheck_at = time.monotonic() + SESSION_RECHECK_SECONDS
    while True:
        now = time.monotonic()
        idle_at = session.last_frame + IDLE_SECONDS
        if now >= idle_at:
            return CLOSE_IDLE
        if (principal.expires_at - utcnow()).total_seconds() <= 0:
            return CLOSE_UNAUTHORIZED
        if now >= recheck_at:
            recheck_at = now + SESSION_RECHECK_SECONDS
            try:
                await authenticate(session.websocket, token)
            except Unauthorized:
                return CLOSE_UNAUTHORIZED
            except SQLAlchemyError as exc:
                _problem(exc)  # the database is busy: the token is still valid, check next round
        expires_in = (principal.expires_at - utcnow()).total_seconds()
        await asyncio.sleep(max(0.01, min(idle_at - now, recheck_at - now, expires_in)))


async def chat_socket(websocket: WebSocket) -> None:
    """The chat WebSocket (protocol in this module's docstring and docs/chat.md)."""
    if not _origin_allowed(websocket):
        await websocket.close(CLOSE_POLICY)  # before accepting: the upgrade answers 403
        return
    offered = websocket.scope.get("subprotocols", [])
    await websocket.accept(subprotocol=SUBPROTOCOL if SUBPROTOCOL in offered else None)
    token = _token(websocket)
    hub: Hub = websocket.app.state.chat_hub
    connection: Connection | None = None
    try:
        if not token:
            raise Unauthorized("Send the access token in the handshake.")
        principal = await authenticate(websocket, token)
        connection = Connection(websocket, principal.user_id)
        # ``ready`` is queued before the hub delivers anything to the socket: an event that
        # reaches the user's channel during ``connect`` (an invitation) comes after it.
        connection.send(
            {
                "type": "ready",
                "user_id": str(principal.user_id),
                "idle_seconds": IDLE_SECONDS,
                "max_frame_bytes": MAX_FRAME_BYTES,
            }
        )
        await hub.connect(connection)
    except Unauthorized as exc:
        await _refuse(websocket, exc, CLOSE_UNAUTHORIZED)
        return
    except (ServiceUnavailable, SQLAlchemyError) as exc:  # the database or Redis is down
        if connection is not None:
            await hub.disconnect(connection)
        await _refuse(websocket, _problem(exc), CLOSE_TRY_AGAIN_LATER)  # come back later
        return
    assert token is not None
    try:
        code = await _serve(Session(websocket, hub, connection), token, principal)
    finally:
        await hub.disconnect(connection)  # never fails for the database (hub.py)
    if code is not None and websocket.client_state == WebSocketState.CONNECTED:
        with contextlib.suppress(RuntimeError):  # the client left meanwhile
            await websocket.close(code)


async def _refuse(websocket: WebSocket, problem: MainspringError, code: int) -> None:
    """Answer ``problem`` as an ``error`` frame, then close with ``code``; a client that left
    meanwhile (a connect timeout of its own) is not an error."""
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        await websocket.send_json(
            {
                "type": "error",
                "code": "unauthorized" if isinstance(problem, Unauthorized) else problem.code,
                "detail": problem.detail,
                **_extra(problem),
            }
        )
        await websocket.close(code)


async def _serve(session: Session, token: str, principal: Principal) -> int | None:
    """Run the socket until the client leaves (``None``) or the server closes it: the close
    code to send."""
    connection = session.connection
    writer = asyncio.create_task(connection.write())
    tasks = {
        asyncio.create_task(session.read()),
        writer,
        asyncio.create_task(connection.closed()),
        asyncio.create_task(_guard(session, token, principal)),
    }
    done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    if connection.closing.is_set() and writer in pending:
        # The writer ends at the close marker once its send in progress is done: a send
        # cancelled half-way would leave no clean close frame. A client that reads nothing
        # at all is dropped after the wait.
        await asyncio.wait({writer}, timeout=CLOSE_DRAIN_SECONDS)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    code: int | None = None
    for finished in done:  # several may end together: read every outcome
        if finished.cancelled():
            continue
        error = finished.exception()
        if isinstance(error, _Closing):
            code = error.code
        elif error is None and isinstance(finished.result(), int):
            code = finished.result()
        elif error is not None and not isinstance(error, WebSocketDisconnect):
            # A bug: logged, and the client told so (1011) rather than dropped without a
            # close frame (1006). WebSocketDisconnect is the client gone.
            logger.error("chat_socket_failed", exc_info=error)
            code = CLOSE_INTERNAL_ERROR
    return code
