"""Which database errors mean "the database cannot serve now: answer 503, retry later", and
what the API answers for a database error.

The one place that tells an outage from a bug. ``database_fault(exc)`` classifies an exception
raised by database work (driver, SQLAlchemy or pool): a ``DatabaseFault`` (cannot connect,
connection lost, server shutting down, pool exhausted, statement or lock timeout,
serialization failure, deadlock, SQLite locked or its file missing), or ``None``, a bug.
``core/db.py`` uses it to decide which errors drop the connection pool, the chat's live socket
to answer its frames. ``database_error(request, exc)`` turns a database error into the refusal
to answer (400 for text PostgreSQL cannot store, 503 ``DatabaseUnavailable`` with
``Retry-After``), or re-raises a bug (500); ``install_database_error_handlers`` renders those
for the kernel, and the RealWorld routes use it with their own rendering.

``Circuit`` is the engine's breaker: after a run of failed connection attempts it answers
``DatabaseUnavailable`` at once, then lets one probe through (``core/db.py`` opens every
connection through it).

``DatabaseUnavailable`` itself is one of the API's problems, in ``core/errors.py`` with the
rest of the hierarchy (``core/db.py`` raises it while its circuit is open): this module
depends on ``errors``, never the reverse. docs/operations.md tabulates the classification.
"""

from __future__ import annotations

import math
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from types import TracebackType

import structlog
from fastapi import FastAPI, Request
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.responses import Response

from mainspring.core.errors import (
    BadRequest,
    DatabaseUnavailable,
    MainspringError,
    render,
    scope_instance,
    scope_request_id,
)

logger = structlog.get_logger("mainspring.errors")


@dataclass(frozen=True)
class DatabaseFault:
    """Why the database cannot serve now, and whether the connection is to be thrown away."""

    reason: str
    disconnect: bool = False


_RETRYABLE_SQLSTATES = {
    "40001": "serialization failure",
    "40P01": "deadlock",
    "55P03": "lock timeout",
    "57014": "statement timeout",
}
_SQLSTATE_CLASSES = (
    ("08", DatabaseFault("connection lost", disconnect=True)),  # connection exception
    ("57P", DatabaseFault("shutting down", disconnect=True)),  # admin/crash shutdown, starting
    ("53", DatabaseFault("out of resources")),  # too many connections, disk full, memory
    ("58", DatabaseFault("system error")),  # I/O error
)
_SQLITE_MARKERS = (
    ("locked", "database locked"),
    ("busy", "database locked"),
    ("unable to open", "database file missing"),
    ("no such table", "database file missing"),
    ("disk i/o", "database file unreadable"),
    ("not a database", "database file unreadable"),
    ("malformed", "database file unreadable"),
    ("readonly database", "database file read-only"),
    ("disk is full", "out of resources"),
)
_LOST_CONNECTION_MARKERS = (
    "connection is closed",
    "connection was closed",
    "another operation is in progress",
    "cannot switch to state",
)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc``, the driver error it wraps, and what it was raised from or while handling."""
    seen: set[int] = set()
    pending = [exc]
    while pending and len(seen) < 12:
        error = pending.pop(0)
        if id(error) in seen:
            continue
        seen.add(id(error))
        yield error
        related = [getattr(error, "orig", None), error.__cause__, error.__context__]
        pending += [item for item in related if isinstance(item, BaseException)]


def _fault_of(error: BaseException) -> DatabaseFault | None:
    if isinstance(error, DatabaseUnavailable):
        return DatabaseFault(error.reason)
    if isinstance(error, PoolTimeoutError):
        return DatabaseFault("no free connection")
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return DatabaseFault("connection lost", disconnect=True)
    sqlstate = getattr(error, "sqlstate", None)
    if isinstance(sqlstate, str):
        if sqlstate in _RETRYABLE_SQLSTATES:
            return DatabaseFault(_RETRYABLE_SQLSTATES[sqlstate])
        for prefix, fault in _SQLSTATE_CLASSES:
            if sqlstate.startswith(prefix):
                return fault
        return None  # any other SQLSTATE: the statement, the data or the schema is wrong
    if isinstance(error, sqlite3.OperationalError):
        message = str(error).lower()
        for marker, reason in _SQLITE_MARKERS:
            if marker in message:
                return DatabaseFault(reason)
        return None  # SQLite reports syntax errors as OperationalError too: a bug
    kind = type(error)
    if kind.__module__.startswith("asyncpg") or kind.__name__ in (
        "InterfaceError",
        "InternalClientError",
    ):
        message = str(error).lower()
        if kind.__name__ == "InternalClientError" or any(
            marker in message for marker in _LOST_CONNECTION_MARKERS
        ):
            return DatabaseFault("connection lost", disconnect=True)
    if isinstance(error, OSError):  # refused, reset, TimeoutError (a silent server)
        return DatabaseFault("connection failed", disconnect=True)
    return None


def database_fault(exc: BaseException) -> DatabaseFault | None:
    """The fault when ``exc``, raised by database work, means "unavailable, retry": cannot
    connect, connection lost, server shutting down, pool exhausted, statement or lock timeout,
    serialization failure, deadlock, SQLite locked or its file missing. ``None``: a bug."""
    for error in _chain(exc):
        fault = _fault_of(error)
        if fault is not None:
            return fault
    return None


_DATABASE_PACKAGES = ("sqlalchemy", "asyncpg", "aiosqlite", "sqlite3")


def _raised_by_database(exc: BaseException) -> bool:
    """True when ``exc`` went through a database driver's or SQLAlchemy's code."""
    tb: TracebackType | None = exc.__traceback__
    while tb is not None:
        module = str(tb.tb_frame.f_globals.get("__name__", ""))
        if module.split(".", 1)[0] in _DATABASE_PACKAGES:
            return True
        tb = tb.tb_next
    return False


# SQLSTATEs by which PostgreSQL refuses a value the client sent, not the statement: a NUL
# character (U+0000) in text (22021) or in JSON (22P05). PostgreSQL text cannot hold it, and no
# schema forbids it, so a request can carry one anywhere (a username, a search term...).
_UNSTORABLE_TEXT_SQLSTATES = frozenset({"22021", "22P05"})


def _unstorable_text(exc: BaseException) -> bool:
    return any(
        getattr(error, "sqlstate", None) in _UNSTORABLE_TEXT_SQLSTATES for error in _chain(exc)
    )


def database_error(request: Request, exc: BaseException) -> MainspringError:
    """The refusal to answer for ``exc``, a database error met while serving ``request``: a 400
    when the database cannot store a value the client sent (a NUL character), a 503 when it
    cannot serve now (logged here, one line). Re-raises ``exc`` when it is a bug, so that the
    request-context middleware logs its traceback and answers 500. For error handlers: the
    kernel's below, and any route class that renders errors its own way (RealWorld)."""
    if _unstorable_text(exc):
        return BadRequest("Text cannot contain the NUL character (U+0000).")
    if isinstance(exc, DatabaseUnavailable):
        reason, retry_after = exc.reason, exc.retry_after
    else:
        fault = database_fault(exc)
        if fault is None or (
            isinstance(exc, OSError)
            and not isinstance(exc, SQLAlchemyError)
            and not _raised_by_database(exc)
        ):
            raise exc
        reason, retry_after = fault.reason, 1
    circuit = getattr(getattr(request.app.state, "db", None), "circuit", None)
    if circuit is not None:
        retry_after = max(retry_after, circuit.retry_after())
    path = scope_instance(request.scope)
    logger.warning("database_unavailable", reason=reason, error=type(exc).__name__, path=path)
    return DatabaseUnavailable(reason, retry_after=retry_after)


async def _database_error(request: Request, exc: Exception) -> Response:
    """A database error: 400 for text it cannot store, 503 when it cannot serve now, a bug
    (500) otherwise."""
    error = database_error(request, exc)
    return render(error, scope_instance(request.scope), scope_request_id(request.scope))


def install_database_error_handlers(app: FastAPI) -> None:
    """Answer database errors: 400 for text the database cannot store, 503 with
    ``Retry-After`` when it cannot serve now, a bug (500, by the request-context middleware)
    otherwise. Constraint violations (``IntegrityError``, 409) have their own handler, in
    ``core/errors.py``; the most specific handler wins, whatever the order."""
    app.add_exception_handler(DatabaseUnavailable, _database_error)
    # Any other database error, and raw driver errors (asyncpg's ConnectionRefusedError,
    # TimeoutError): 503 when ``database_fault`` says unavailable, a 500 otherwise.
    app.add_exception_handler(SQLAlchemyError, _database_error)
    app.add_exception_handler(OSError, _database_error)


class Circuit:
    """Fails fast while the database refuses connections, instead of queueing on it.

    Closed, every connection attempt goes ahead. After ``failures`` failed attempts in a row it
    opens: attempts fail at once with ``DatabaseUnavailable`` for ``open_seconds``. Then it lets
    one attempt through as a probe (others still fail fast): the probe's success closes the
    circuit, its failure opens it again. One circuit per engine, used from its event loop only.
    """

    def __init__(self, failures: int, open_seconds: float) -> None:
        self.failures = failures
        self.open_seconds = open_seconds
        self._failed = 0
        self._open_until: float | None = None
        self._probing = False

    @property
    def state(self) -> str:
        """``closed``, ``open`` or ``half-open`` (open, its wait over: the next attempt probes)."""
        if self._open_until is None:
            return "closed"
        return "open" if self._probing or time.monotonic() < self._open_until else "half-open"

    def retry_after(self) -> int:
        """Seconds a client should wait before trying again (at least 1)."""
        if self._open_until is None:
            return 1
        return max(1, math.ceil(self._open_until - time.monotonic()))

    def before_connect(self) -> None:
        """Raise ``DatabaseUnavailable`` unless a connection attempt may go ahead now."""
        if self._open_until is None:
            return
        if self._probing or time.monotonic() < self._open_until:
            raise DatabaseUnavailable("circuit open", retry_after=self.retry_after())
        self._probing = True  # this attempt is the probe

    def succeeded(self) -> None:
        self._failed = 0
        self._open_until = None
        self._probing = False

    def failed(self) -> None:
        self._failed += 1
        self._probing = False
        if self._failed >= self.failures:
            self._open_until = time.monotonic() + self.open_seconds
