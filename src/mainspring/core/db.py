"""Database: engines, sessions, the declarative ``Base`` and the column types every module uses.

SQLite (aiosqlite) is the embedded default: WAL, foreign keys on, a busy timeout, and explicit
``BEGIN IMMEDIATE`` for read-write sessions so that concurrent writers queue on the busy timeout
instead of failing on a lock upgrade. PostgreSQL (asyncpg) is the production database, with an
optional read replica for read-only sessions.

Outages (docs/operations.md): every wait on the database is bounded (connect, pool and
statement timeouts); every failure to reach or use it becomes a ``DatabaseUnavailable`` or a
SQLAlchemy error that ``database_faults.database_fault`` classifies, so the API answers 503 with
``Retry-After``, never 500 or a hang. A disconnect invalidates the whole pool, and a
``Circuit`` stops the service from queueing on a database that refuses connections.
"""

from __future__ import annotations

import json
import os
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import JSON, DateTime, Dialect, MetaData, Uuid, event, text
from sqlalchemy.engine import Connection, ExceptionContext
from sqlalchemy.engine.default import DefaultExecutionContext
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.types import TypeDecorator

from mainspring.core.config import Settings
from mainspring.core.database_faults import Circuit, database_fault
from mainspring.core.errors import DatabaseUnavailable
from mainspring.core.pool import FairAsyncQueuePool, note_checkin, ping_once

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def uuid7() -> uuid.UUID:
    """A time-ordered UUID (RFC 9562 version 7): 48-bit Unix milliseconds, then random bits.

    Time-ordered keys keep B-tree inserts at the right edge of the index, like a sequence,
    while staying unguessable and safe to generate on any replica.
    """
    value = (time.time_ns() // 1_000_000) << 80 | secrets.randbits(80)
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 9562 variant
    return uuid.UUID(int=value)


def utcnow() -> datetime:
    return datetime.now(UTC)


def _json_loads(text: str | bytes) -> Any:
    """JSON columns: orjson, several times faster than ``json.loads``, which still reads what
    orjson refuses but ``json.dumps`` writes (an integer past 64 bits, ``NaN``)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every database.

    PostgreSQL stores ``timestamptz``; SQLite has no time zones, so values are stored as UTC and
    given back their ``UTC`` tzinfo on the way out. Naive datetimes are refused on the way in.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: Mainspring stores timezone-aware UTC times only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None or value.tzinfo is UTC:  # asyncpg's timestamptz: UTC already
            return value
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def result_processor(self, dialect: Dialect, coltype: object) -> Callable[[Any], Any] | None:
        """On SQLite, the stored text read straight as an aware datetime: ``fromisoformat`` of
        the text with ``+00:00`` costs a sixth of SQLAlchemy's parse followed by
        ``replace(tzinfo=UTC)`` (0.18 against 1.1 µs a value; a page of tasks has about 60).
        Any text it cannot read goes the general way."""
        general = super().result_processor(dialect, coltype)
        if dialect.name != "sqlite" or general is None:
            return general

        def process(value: Any) -> Any:
            if value is None:
                return None
            try:
                return datetime.fromisoformat(value + "+00:00")
            except (TypeError, ValueError):
                return general(value)

        return process


class _JSONDocument(TypeDecorator[Any]):
    """JSON on SQLite, JSONB on PostgreSQL, chosen when a dialect compiles or binds it.

    Not ``JSON().with_variant(JSONB(), "postgresql")``: the variant needs a ``JSONB`` at import,
    and importing ``sqlalchemy.dialects.postgresql`` (every PostgreSQL driver's dialect with it)
    costs a SQLite process about 4 MiB (docs/performance.md, "Start-up and memory").
    """

    impl = JSON
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import JSONB

            return dialect.type_descriptor(JSONB())
        return dialect.type_descriptor(JSON())


JSONDocument = _JSONDocument()
"""Document-shaped data: JSON on SQLite, JSONB on PostgreSQL (DESIGN.md section 2)."""


class Base(DeclarativeBase):
    """The declarative base of every model: one metadata, one naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {  # noqa: RUF012 - SQLAlchemy reads this class attribute
        datetime: UTCDateTime(),
        uuid.UUID: Uuid(),
        dict[str, Any]: JSONDocument,
    }


UNMANAGED_KEY = "mainspring.unmanaged_prefixes"


def register_unmanaged(*prefixes: str, metadata: MetaData | None = None) -> None:
    """Name the database objects a migration creates by hand, outside the models.

    Full-text search tables (SQLite FTS5 and its shadow tables), triggers and expression indexes
    cannot be declared as SQLAlchemy models; a module registers their name prefixes here
    (``register_unmanaged("articles_fts")``), next to its models, so that Alembic's
    autogenerate neither drops nor re-creates them. The prefixes live in the metadata's
    ``info``: whoever holds the metadata (the migrations) reads them from it.
    """
    target = metadata if metadata is not None else Base.metadata
    target.info.setdefault(UNMANAGED_KEY, set()).update(prefixes)


class IdMixin:
    """A UUIDv7 primary key."""

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7, sort_order=-10)


class TimestampMixin:
    """``created_at`` and ``updated_at``, set by the application in UTC."""

    created_at: Mapped[datetime] = mapped_column(default=utcnow, sort_order=90)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow, sort_order=91)


# --- statement counting -------------------------------------------------------------------------
# Each request gets a counter (set by the request-context middleware); the engine hooks add to
# it. Tests and the benchmark harness read it to prove list endpoints run a fixed number of
# statements (no N+1).


@dataclass
class StatementCounter:
    count: int = 0


statement_counter: ContextVar[StatementCounter | None] = ContextVar(
    "statement_counter", default=None
)


class WriteOnReadConnection(RuntimeError):
    """A write sent through a read session or connection: a bug, refused before it runs."""


def _before_statement(
    conn: Connection,
    _cursor: Any,
    statement: str,
    _parameters: Any,
    context: DefaultExecutionContext | None,
    _executemany: bool,
) -> None:
    """Count the statement (``X-DB-Statements``), and refuse a write on a read connection: on
    PostgreSQL those run without a transaction (``Database``), so nothing would roll it back."""
    if (
        context is not None
        and (context.isinsert or context.isupdate or context.isdelete)
        and conn._execution_options.get("mainspring_readonly")
    ):
        raise WriteOnReadConnection(f"a write on a read connection: {statement[:80]!r}")
    counter = statement_counter.get()
    if counter is not None:
        counter.count += 1


# --- engines ------------------------------------------------------------------------------------


def _sqlite_begin_mode(conn: Connection) -> str:
    return "DEFERRED" if conn.get_execution_options().get("mainspring_readonly") else "IMMEDIATE"


Reader = AsyncSession | AsyncConnection
"""What a Core read runs on: a read connection (``Database.read_connection``, the fast path of
a read that builds its answer from rows) or a session (a read that needs ORM entities, or
one made inside a write). Both execute the same statements with the same parameters."""


def dialect_of(reader: Reader) -> str:
    """The name of the database ``reader`` runs on ("sqlite", "postgresql")."""
    if isinstance(reader, AsyncSession):
        return reader.get_bind().dialect.name
    return reader.dialect.name


POSTGRESQL_POOL_SIZE, POSTGRESQL_MAX_OVERFLOW = 10, 10
"""A PostgreSQL process's pool, unless the settings say otherwise: the server runs each
connection's statements in its own backend, in parallel with the others."""
SQLITE_POOL_SIZE, SQLITE_MAX_OVERFLOW = 4, 0
"""A SQLite process's pool, unless the settings say otherwise. SQLite runs in the process: each
connection is a thread of the driver's, with its own page cache, and one writer at a time.
More connections than CPUs only add threads that contend for the GIL and memory that holds the
same pages again: with 64 requests in flight, 4 connections answer as many reads as 20, with a
p99 a third to a half lower and 23 MiB less (docs/performance.md, "The SQLite pool"). A request
that finds them all busy waits in the pool's fair queue (core/pool.py), not in SQLite's busy
handler. This is safe because no task holds two connections at once (the test suite's ``app``
fixture fails a test whose request does: tests/fixtures/connections.py)."""


def _or(value: int | None, default: int) -> int:
    return default if value is None else value


def create_engine(
    url: str,
    settings: Settings,
    *,
    circuit: Circuit | None = None,
    statement_timeout_ms: int | None = None,
) -> AsyncEngine:
    """An async engine for ``url`` with Mainspring's per-dialect set-up and outage handling.

    Connections are opened through ``circuit`` (a new one from the settings by default).
    ``statement_timeout_ms`` overrides ``MAINSPRING_DATABASE_STATEMENT_TIMEOUT_MS`` (the
    migrations pass 0: a schema change may rightly take longer than a request).
    """
    if url.startswith("sqlite"):
        from mainspring.core import sqlite_driver  # registers the dialect; not for PostgreSQL

        url = sqlite_driver.one_hop_url(url)
        path = url.split(":///", 1)[-1]
        if path and path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        engine = create_async_engine(
            url,
            echo=settings.database_echo,
            pool_size=_or(settings.database_pool_size, SQLITE_POOL_SIZE),
            max_overflow=_or(settings.database_max_overflow, SQLITE_MAX_OVERFLOW),
            pool_timeout=settings.database_pool_timeout_seconds,
            poolclass=FairAsyncQueuePool,  # first come, first served (core/pool.py)
            json_deserializer=_json_loads,
            connect_args={"timeout": settings.sqlite_busy_timeout_ms / 1000},
        )
        busy_timeout = settings.sqlite_busy_timeout_ms

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
            # Let SQLAlchemy, not the driver, decide when transactions begin (see "begin").
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout)}")
            cursor.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _sqlite_begin(conn: Connection) -> None:
            if conn.get_execution_options().get("mainspring_autocommit"):
                return  # a read (``_for_reads``): each statement its own snapshot, no BEGIN
            begin = f"BEGIN {_sqlite_begin_mode(conn)}"
            dbapi_connection = conn.connection.dbapi_connection
            if isinstance(dbapi_connection, sqlite_driver.OneHopConnection):
                dbapi_connection.defer_begin(begin)  # sent with the first statement
            else:  # a URL naming another SQLite driver
                conn.exec_driver_sql(begin)

    else:
        timeout_ms = (
            settings.database_statement_timeout_ms
            if statement_timeout_ms is None
            else statement_timeout_ms
        )
        connect_args: dict[str, Any] = {"timeout": settings.database_connect_timeout_seconds}
        if timeout_ms:
            # The server cancels a statement past the timeout (57014, answered 503); the client
            # gives up a second later if the server says nothing at all (a frozen host).
            connect_args["server_settings"] = {"statement_timeout": str(timeout_ms)}
            connect_args["command_timeout"] = timeout_ms / 1000 + 1
        engine = create_async_engine(
            url,
            echo=settings.database_echo,
            pool_size=_or(settings.database_pool_size, POSTGRESQL_POOL_SIZE),
            max_overflow=_or(settings.database_max_overflow, POSTGRESQL_MAX_OVERFLOW),
            pool_timeout=settings.database_pool_timeout_seconds,
            poolclass=FairAsyncQueuePool,  # first come, first served (core/pool.py)
            pool_pre_ping=True,
            json_deserializer=_json_loads,
            connect_args=connect_args,
        )
        engine.sync_engine.dialect.do_ping = ping_once  # type: ignore[method-assign]
        event.listen(engine.sync_engine, "checkin", note_checkin)
    if circuit is None:
        circuit = Circuit(
            settings.database_circuit_failures, settings.database_circuit_open_seconds
        )
    _install_fault_handling(engine, circuit)
    event.listen(engine.sync_engine, "before_cursor_execute", _before_statement)
    return engine


def _install_fault_handling(engine: AsyncEngine, circuit: Circuit) -> None:
    """Connect through ``circuit``; classify errors, and drop the whole pool on a disconnect."""

    @event.listens_for(engine.sync_engine, "do_connect")
    def _connect(
        dialect: Dialect, _record: Any, cargs: tuple[Any, ...], cparams: dict[str, Any]
    ) -> Any:
        circuit.before_connect()
        try:
            connection = dialect.connect(*cargs, **cparams)
        except Exception as exc:
            # asyncpg raises OSError (refused), TimeoutError, or a PostgreSQL error ("the
            # database system is shutting down"), not always wrapped by SQLAlchemy: one type.
            circuit.failed()
            raise DatabaseUnavailable("cannot connect", retry_after=circuit.retry_after()) from exc
        circuit.succeeded()
        return connection

    @event.listens_for(engine.sync_engine, "handle_error")
    def _classify(context: ExceptionContext) -> BaseException | None:
        fault = database_fault(context.original_exception)
        if fault is None:
            return None
        if fault.disconnect:
            # The connection is unusable, and so, most likely, is every other one in the pool
            # (the server restarted): SQLAlchemy invalidates the pool, so each connection is
            # replaced on its next checkout instead of failing one request after another.
            context.is_disconnect = True
            context.invalidate_pool_on_disconnect = True
        if context.sqlalchemy_exception is None and not context.is_pre_ping:
            # A raw driver error (OSError, TimeoutError) that SQLAlchemy leaves unwrapped.
            return DatabaseUnavailable(fault.reason)
        return None


def _for_reads(engine: AsyncEngine) -> AsyncEngine:
    """``engine`` for read sessions and connections: no transaction, each statement its own
    snapshot, as PostgreSQL's READ COMMITTED gives inside a transaction anyway. So the
    ``BEGIN`` and ``ROLLBACK`` around a read, which changed nothing of what it sees, are not
    sent: two round trips on PostgreSQL (``AUTOCOMMIT``), and on SQLite the ``ROLLBACK``'s
    hand-off to the driver's thread (no ``BEGIN DEFERRED``: ``mainspring_autocommit``, which
    the ``begin`` listener honours; SQLite runs a lone statement in a transaction of its own,
    which never takes the write lock). Writes are refused on both (``WriteOnReadConnection``)."""
    if engine.dialect.name == "postgresql":
        return engine.execution_options(mainspring_readonly=True, isolation_level="AUTOCOMMIT")
    return engine.execution_options(mainspring_readonly=True, mainspring_autocommit=True)


class Database:
    """The engines and session factories of one application instance.

    ``session()`` is read-write on the primary. ``read_session()`` is for requests that only
    read: it uses the replica when one is configured, without a transaction (``_for_reads``),
    so it never takes SQLite's write lock. ``read_session(fresh=True)`` reads the primary the
    same way, for a read that must see the last commit (a password check) without holding the
    write lock.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.circuit = Circuit(
            settings.database_circuit_failures, settings.database_circuit_open_seconds
        )
        self.engine = create_engine(settings.database_url, settings, circuit=self.circuit)
        if settings.database_replica_url:
            replica = create_engine(settings.database_replica_url, settings)
            self.read_engine = _for_reads(replica)
        else:
            self.read_engine = _for_reads(self.engine)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        self.read_sessionmaker = async_sessionmaker(self.read_engine, expire_on_commit=False)
        self.fresh_read_sessionmaker = async_sessionmaker(
            _for_reads(self.engine), expire_on_commit=False
        )

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A unit of work: commits when the block ends normally, rolls back on any exception."""
        async with self.sessionmaker() as session, session.begin():
            yield session

    @asynccontextmanager
    async def read_session(self, *, fresh: bool = False) -> AsyncIterator[AsyncSession]:
        """A read-only session: on the replica if there is one, on the primary if ``fresh``;
        without a transaction (``_for_reads``), so it never takes SQLite's write lock."""
        maker = self.fresh_read_sessionmaker if fresh else self.read_sessionmaker
        async with maker() as session, session.begin():
            yield session

    @asynccontextmanager
    async def read_connection(self) -> AsyncIterator[AsyncConnection]:
        """``read_session``'s Core counterpart, for a read that selects columns and builds its
        answer from the rows: the same connection (the replica if there is one, no
        transaction), without an ORM session around it (no
        identity map, no unit of work, no ORM execution path): about 120 µs of CPU less a read
        (docs/performance.md, "Core connections for reads")."""
        async with self.read_engine.connect() as connection:
            yield connection

    async def ping(self) -> None:
        """One round trip to the primary, in a read-only transaction: on SQLite a deferred one,
        so that readiness probes never queue for the write lock."""
        async with self.engine.connect() as conn:
            await conn.execution_options(mainspring_readonly=True)
            await conn.execute(text("SELECT 1"))

    async def refresh_statistics(self) -> None:
        """Have PostgreSQL's planner measure the tables again (``ANALYZE``), as after a bulk
        load: until autovacuum gets to it (a minute or more later), a freshly filled table
        looks empty, and a join over it gets a plan that is hundreds of times slower. SQLite
        keeps no statistics unless asked (``ANALYZE`` there would change every plan), so it is
        left alone."""
        if self.dialect != "postgresql":
            return
        async with self.engine.connect() as conn:
            await conn.execute(text("ANALYZE"))
            await conn.commit()

    def pool_status(self) -> dict[str, int]:
        pool: Any = self.engine.pool
        try:
            return {
                "size": int(pool.size()),
                "checked_out": int(pool.checkedout()),
                "overflow": max(int(pool.overflow()), 0),
            }
        except AttributeError:  # pools without sizes (NullPool, StaticPool)
            return {"size": 0, "checked_out": 0, "overflow": 0}

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self.read_engine is not self.engine and self.settings.database_replica_url:
            await self.read_engine.dispose()
