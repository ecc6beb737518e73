"""SQLite's driver (core/sqlite_driver.py): one trip to SQLite's thread per statement, with the
same transactions as before: ``BEGIN`` sent with the first statement, ``COMMIT``/``ROLLBACK``
only when a transaction is open, writers still serialised by ``BEGIN IMMEDIATE``."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from mainspring.core.db import Database
from tests.conftest import make_settings

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("MAINSPRING_TEST_DATABASE_URL")), reason="SQLite's driver only"
)


@pytest.fixture
async def database(tmp_path: Any) -> AsyncIterator[Database]:
    db = Database(
        make_settings(f"sqlite+aiosqlite:///{tmp_path}/driver.db", sqlite_busy_timeout_ms=200)
    )
    async with db.engine.begin() as conn:
        await conn.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY, title TEXT)"))
    yield db
    await db.dispose()


@pytest.fixture
def trips(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the calls handed to SQLite's threads, in order."""
    calls: list[str] = []
    send: Callable[..., Awaitable[Any]] = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(getattr(fn, "__name__", repr(fn)))
        return await send(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    return calls


async def _warm(database: Database, trips: list[str]) -> None:
    """Open the pool's connection (connecting takes trips of its own), then count from zero."""
    async with database.read_session() as session:
        await session.execute(text("SELECT 1"))
    trips.clear()


async def test_a_read_takes_one_trip_a_statement_and_no_transaction(
    database: Database, trips: list[str]
) -> None:
    await _warm(database, trips)
    async with database.read_session() as session:
        assert (await session.execute(text("SELECT count(*) FROM notes"))).scalar() == 0
        assert trips == ["_run"]  # the statement, its rows, the cursor closed: no BEGIN
        assert (await session.execute(text("SELECT 2"))).scalar() == 2
    assert trips == ["_run", "_run"]  # no COMMIT, and no ROLLBACK of the pool's reset
    async with database.read_connection() as connection:
        assert (await connection.execute(text("SELECT 3"))).scalar() == 3
    assert trips == ["_run", "_run", "_run"]


async def test_a_write_transaction_takes_one_trip_a_statement_and_its_commit(
    database: Database, trips: list[str]
) -> None:
    await _warm(database, trips)
    async with database.session() as session:
        await session.execute(text("INSERT INTO notes (title) VALUES ('a')"))
        assert trips == ["_run"]  # BEGIN IMMEDIATE went with the statement
        await session.execute(text("SELECT count(*) FROM notes"))
    assert trips == ["_run", "_run", "commit"]  # no ROLLBACK of the pool's reset after it


async def test_a_transaction_that_runs_nothing_never_reaches_sqlite(
    database: Database, trips: list[str]
) -> None:
    await _warm(database, trips)
    async with database.session() as session:
        await session.connection()  # SQLAlchemy begins; the BEGIN waits for a statement
    assert trips == []


async def test_commits_keep_and_failures_roll_back(database: Database) -> None:
    async with database.session() as session:
        result: Any = await session.execute(text("INSERT INTO notes (title) VALUES ('kept')"))
        assert result.rowcount == 1
        assert result.lastrowid == 1

    async def failing_write() -> None:
        async with database.session() as session:
            await session.execute(text("INSERT INTO notes (title) VALUES ('lost')"))
            raise RuntimeError("the request failed after its write")

    with pytest.raises(RuntimeError):
        await failing_write()
    async with database.session() as session:
        result = await session.execute(text("UPDATE notes SET title = title || '!'"))
        assert result.rowcount == 1
    async with database.read_session() as session:
        titles = (await session.execute(text("SELECT title FROM notes"))).scalars().all()
    assert titles == ["kept!"]


async def test_a_writer_takes_the_write_lock_at_its_first_statement(database: Database) -> None:
    holding = asyncio.Event()
    release = asyncio.Event()

    async def first_writer() -> None:
        async with database.session() as session:
            await session.execute(text("INSERT INTO notes (title) VALUES ('first')"))
            holding.set()
            await release.wait()

    task = asyncio.create_task(first_writer())
    await holding.wait()
    # BEGIN IMMEDIATE went with the first writer's INSERT: a second writer waits the busy
    # timeout (200 ms here) at its own first statement and gives up, while a reader goes on.
    with pytest.raises(OperationalError, match="locked"):
        async with database.session() as session:
            await session.execute(text("SELECT count(*) FROM notes"))
    async with database.read_session() as session:
        assert (await session.execute(text("SELECT count(*) FROM notes"))).scalar() == 0
    release.set()
    await task
    async with database.read_session() as session:
        assert (await session.execute(text("SELECT count(*) FROM notes"))).scalar() == 1
