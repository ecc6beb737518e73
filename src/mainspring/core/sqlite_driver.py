"""SQLite's async driver, one trip to its thread per statement.

SQLite is a library, not a server: aiosqlite runs each connection in a thread of its own and
every call on it is a hand-off to that thread and back (a queue put, the thread's work, a
callback scheduled on the event loop). SQLAlchemy's aiosqlite dialect makes four of them for one
statement (make a cursor, execute, fetch the rows, close the cursor), one for the ``BEGIN`` it
sends as a statement of its own, and one each for the ``COMMIT`` and for the pool's
reset-on-return ``ROLLBACK``, even when the commit already ended the transaction: a read of one
statement in its own transaction was nine hand-offs. Each costs more CPU than SQLite spends
answering an indexed read (about 50 to 80 us of event-loop and thread work on the development
machine), and they, not the queries, were what bounded the signed-in reads on SQLite
(docs/performance.md).

This dialect is SQLAlchemy's aiosqlite dialect with a cursor that does all of a statement's work
in ONE hand-off (the sqlite3 cursor made, executed, its rows fetched and the cursor closed in
the connection's thread), and a connection that:

- sends the ``BEGIN`` of a transaction with its first statement, in the same hand-off
  (``defer_begin``, called by ``core/db.py``'s ``begin`` listener, which chooses ``DEFERRED`` or
  ``IMMEDIATE``): a transaction that runs no statement never reaches SQLite at all;
- knows whether SQLite has a transaction open (``sqlite3.Connection.in_transaction``, read in
  the thread after each statement), so that a ``COMMIT`` or ``ROLLBACK`` with none open, which
  sqlite3 makes a no-op, is not sent: the pool's reset after a commit costs nothing.

A read of one statement is two hand-offs (``BEGIN`` + the statement, then ``COMMIT``) instead of
nine; each further statement is one instead of four. Nothing else changes: the same sqlite3
calls run in the same order on the same thread, errors are raised where they were (a ``BEGIN
IMMEDIATE`` that waits past the busy timeout fails with the statement it precedes, which
SQLAlchemy's error handling classifies as before), and server-side cursors (``stream()``) keep
aiosqlite's cursor. ``create_engine`` in core/db.py uses it for every ``sqlite+aiosqlite`` URL.
"""

from __future__ import annotations

import collections
import functools
import sqlite3
import uuid
from threading import Thread
from typing import Any

from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
    AsyncAdapt_aiosqlite_ss_cursor,
    SQLiteDialect_aiosqlite,
)
from sqlalchemy.sql import sqltypes
from sqlalchemy.util import EMPTY_DICT
from sqlalchemy.util.concurrency import await_

DRIVER = "mainspring_aiosqlite"
"""The driver name the dialect is registered under (``sqlite+mainspring_aiosqlite://``)."""

_Result = tuple[Any, list[Any], int, int | None]
"""What one statement gives back from the thread: description, rows, rowcount, lastrowid."""


def _run(
    connection: OneHopConnection,
    raw: sqlite3.Connection,
    begin: str | None,
    operation: str,
    parameters: Any,
    many: bool,
) -> _Result:
    """In the connection's thread: the pending ``BEGIN``, then the statement with all its rows.
    Whether a transaction is open afterwards is recorded, whatever happened."""
    try:
        if begin is not None:
            raw.execute(begin)
        cursor = raw.cursor()
        try:
            if many:
                cursor.executemany(operation, parameters)
            else:
                cursor.execute(operation, parameters)
            description = cursor.description
            rows = cursor.fetchall() if description else []
            return description, rows, cursor.rowcount, cursor.lastrowid
        finally:
            cursor.close()
    finally:
        connection.in_transaction = raw.in_transaction


def _begin(raw: sqlite3.Connection, begin: str) -> None:
    raw.execute(begin).close()


class OneHopCursor(AsyncAdapt_aiosqlite_cursor):
    """A cursor whose statement, rows included, takes one hand-off to the connection's thread.

    No sqlite3 cursor outlives a call: the rows are kept here, as the base class's client-side
    cursor keeps them, and ``description``, ``rowcount`` and ``lastrowid`` are the statement's.
    """

    __slots__ = ("_arraysize", "_description", "_lastrowid", "_rowcount")

    _adapt_connection: OneHopConnection

    def __init__(self, adapt_connection: OneHopConnection) -> None:
        # Not the base initialiser: it makes an aiosqlite cursor, a hand-off of its own.
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None
        self._arraysize = 1

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> Any:
        return self._lastrowid

    @property
    def arraysize(self) -> int:
        return self._arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._arraysize = value

    async def _async_soft_close(self) -> None:
        """Nothing to close: the sqlite3 cursor was closed in the thread."""

    def close(self) -> None:
        self._rows.clear()

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        try:
            return await_(self._run(operation, () if parameters is None else parameters, False))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    def executemany(self, operation: Any, seq_of_parameters: Any) -> Any:
        try:
            return await_(self._run(operation, seq_of_parameters, True))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    async def _run(self, operation: str, parameters: Any, many: bool) -> None:
        adapt = self._adapt_connection
        async with adapt._execute_mutex:
            begin, adapt.pending_begin = adapt.pending_begin, None
            raw = self._connection._conn
            result: _Result = await self._connection._execute(
                _run, adapt, raw, begin, operation, parameters, many
            )
        self._description, rows, self._rowcount, self._lastrowid = result
        self._rows = collections.deque(rows)


class OneHopServerSideCursor(AsyncAdapt_aiosqlite_ss_cursor):
    """aiosqlite's streaming cursor, which first sends a pending ``BEGIN`` on its own."""

    __slots__ = ()

    _adapt_connection: OneHopConnection

    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        adapt = self._adapt_connection
        if adapt.pending_begin is not None:
            begin, adapt.pending_begin = adapt.pending_begin, None
            await self._connection._execute(_begin, self._connection._conn, begin)
        adapt.in_transaction = True  # unknown from here: COMMIT and ROLLBACK are sent
        return await super()._execute_async(operation, parameters)


class OneHopConnection(AsyncAdapt_aiosqlite_connection):
    """aiosqlite's connection, with the ``BEGIN`` deferred to the first statement and
    ``COMMIT``/``ROLLBACK`` sent only when SQLite has a transaction open."""

    __slots__ = ("in_transaction", "pending_begin")

    _cursor_cls = OneHopCursor  # type: ignore[assignment]  # a subclass of the declared one
    _ss_cursor_cls = OneHopServerSideCursor

    def __init__(self, dbapi: Any, connection: Any) -> None:
        super().__init__(dbapi, connection)
        self.pending_begin: str | None = None
        self.in_transaction = False

    def defer_begin(self, statement: str) -> None:
        """Send ``statement`` (``BEGIN DEFERRED`` or ``BEGIN IMMEDIATE``) with the next one."""
        self.pending_begin = statement

    def commit(self) -> None:
        self._end(super().commit)

    def rollback(self) -> None:
        self._end(super().rollback)

    def _end(self, send: Any) -> None:
        if self.pending_begin is not None:  # no statement ran: SQLite never began
            self.pending_begin = None
            return
        if not self.in_transaction:  # sqlite3 would make it a no-op
            return
        send()
        self.in_transaction = False


class OneHopDBAPI(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> OneHopConnection:
        # As the base class, with this module's connection.
        connection = self.aiosqlite.connect(*arg, **kw)
        thread = connection if isinstance(connection, Thread) else connection._thread
        thread.daemon = True  # as SQLAlchemy's dialect: never keep the process alive
        return OneHopConnection(self, await_(connection))


@functools.lru_cache(maxsize=4096)
def _uuid(text: str) -> uuid.UUID:
    return uuid.UUID(text)


class InternedUuid(sqltypes.Uuid[Any]):
    """A ``Uuid`` column read on SQLite, where it is stored as 32 hex digits: the same text
    gives the same ``uuid.UUID`` object, kept in an LRU (``uuid.UUID`` is immutable). The hot
    reads give back the same rows' ids on every request (a page of tasks has about 70), and a
    lookup costs a tenth of building one (0.1 against 1.0 µs)."""

    def result_processor(self, dialect: Any, coltype: object) -> Any:
        if not self.as_uuid:
            return super().result_processor(dialect, coltype)  # type: ignore[no-untyped-call]

        def process(value: str | None) -> uuid.UUID | None:
            return None if value is None else _uuid(value)

        return process


class OneHopSQLiteDialect(SQLiteDialect_aiosqlite):
    """``sqlite+aiosqlite`` with one hand-off to SQLite's thread per statement, and its ids read
    through ``InternedUuid``."""

    driver = DRIVER
    supports_statement_cache = True
    colspecs = {  # noqa: RUF012 (SQLAlchemy's own declaration: a dict on the class)
        **SQLiteDialect_aiosqlite.colspecs,
        sqltypes.Uuid: InternedUuid,
    }

    @classmethod
    def import_dbapi(cls) -> OneHopDBAPI:
        return OneHopDBAPI(__import__("aiosqlite"), __import__("sqlite3"))


registry.register(f"sqlite.{DRIVER}", __name__, "OneHopSQLiteDialect")


def one_hop_url(url: str) -> str:
    """``url`` (``sqlite+aiosqlite://...``) with this module's driver; any other URL as is."""
    prefix = "sqlite+aiosqlite:"
    return f"sqlite+{DRIVER}:{url[len(prefix) :]}" if url.startswith(prefix) else url
