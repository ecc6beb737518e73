"""Database: engines, sessions, the declarative ``Base`` and the column types every module uses.

SQLite (aiosqlite) is the embedded default: WAL, foreign keys on, a busy timeout, and explicit
``BEGIN IMMEDIATE`` for read-write sessions so that concurrent writers queue on the busy timeout
instead of failing on a lock upgrade. PostgreSQL (asyncpg) is the production database, with an
optional read replica for read-only sessions.
"""

from __future__ import annotations

import os
import secrets
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Dialect, MetaData, Uuid, event, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.types import TypeDecorator

from mainspring.core.config import Settings

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
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JSONDocument = JSON().with_variant(JSONB(), "postgresql")
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


def _count_statement(*_args: Any, **_kwargs: Any) -> None:
    counter = statement_counter.get()
    if counter is not None:
        counter.count += 1


# --- engines ------------------------------------------------------------------------------------


def _sqlite_begin_mode(conn: Connection) -> str:
    return "DEFERRED" if conn.get_execution_options().get("mainspring_readonly") else "IMMEDIATE"


def create_engine(url: str, settings: Settings) -> AsyncEngine:
    """An async engine for ``url`` with Mainspring's per-dialect set-up."""
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[-1]
        if path and path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        engine = create_async_engine(
            url,
            echo=settings.database_echo,
            pool_size=settings.database_pool_size,
            max_overflow=settings.database_max_overflow,
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
            conn.exec_driver_sql(f"BEGIN {_sqlite_begin_mode(conn)}")

    else:
        engine = create_async_engine(
            url,
            echo=settings.database_echo,
            pool_size=settings.database_pool_size,
            max_overflow=settings.database_max_overflow,
            pool_pre_ping=True,
        )
    event.listen(engine.sync_engine, "before_cursor_execute", _count_statement)
    return engine


class Database:
    """The engines and session factories of one application instance.

    ``session()`` is read-write on the primary. ``read_session()`` is for requests that only
    read: it uses the replica when one is configured and, on SQLite, a deferred transaction that
    never takes the write lock.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine = create_engine(settings.database_url, settings)
        if settings.database_replica_url:
            self.read_engine = create_engine(settings.database_replica_url, settings)
        else:
            self.read_engine = self.engine.execution_options(mainspring_readonly=True)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        self.read_sessionmaker = async_sessionmaker(self.read_engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A unit of work: commits when the block ends normally, rolls back on any exception."""
        async with self.sessionmaker() as session, session.begin():
            yield session

    @asynccontextmanager
    async def read_session(self) -> AsyncIterator[AsyncSession]:
        async with self.read_sessionmaker() as session, session.begin():
            yield session

    async def ping(self) -> None:
        """One round trip to the primary, in a read-only transaction: on SQLite a deferred one,
        so that readiness probes never queue for the write lock."""
        async with self.engine.connect() as conn:
            await conn.execution_options(mainspring_readonly=True)
            await conn.execute(text("SELECT 1"))

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
