"""The connection pool serves its waiters first come, first served (core/pool.py): a request
that releases a connection and at once asks for another goes behind the requests already
waiting, a waiter that gives up passes on what it was handed, and the pool timeout still
answers a request the pool cannot serve."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.util import greenlet_spawn

from mainspring.core.config import Settings
from mainspring.core.db import Database
from mainspring.core.pool import FairQueue
from tests.conftest import make_settings


@pytest.fixture
async def one_connection(settings: Settings) -> AsyncIterator[Database]:
    """The test database through a pool of exactly one connection."""
    database = Database(
        make_settings(
            settings.database_url,
            database_pool_size=1,
            database_max_overflow=0,
            database_pool_timeout_seconds=5,
        )
    )
    yield database
    await database.dispose()


async def in_line(queue: FairQueue[object], count: int) -> None:
    """Until ``count`` requests wait in the pool's line (at most 5 s)."""
    for _ in range(5000):
        if queue.waiting() >= count:
            return
        await asyncio.sleep(0.001)
    raise AssertionError(f"{queue.waiting()} in line, not {count}")


async def test_a_released_connection_goes_to_the_request_waiting_longest(
    one_connection: Database,
) -> None:
    engine = one_connection.engine
    served: list[str] = []

    async def read(name: str) -> None:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
            served.append(name)

    held = await engine.connect()
    await held.execute(text("SELECT 1"))
    waiter = asyncio.create_task(read("waiter"))
    await in_line(engine.pool._pool, 1)  # type: ignore[attr-defined]
    await held.close()
    # The request that just released the connection asks again at once: it goes behind the
    # waiter. (SQLAlchemy's own queue let it take the connection back before the waiter ran.)
    await read("releaser")
    await waiter
    assert served == ["waiter", "releaser"]


async def test_the_pool_timeout_still_answers_a_request_the_pool_cannot_serve(
    settings: Settings,
) -> None:
    database = Database(
        make_settings(
            settings.database_url,
            database_pool_size=1,
            database_max_overflow=0,
            database_pool_timeout_seconds=0.05,
        )
    )
    try:
        async with database.engine.connect() as held:
            await held.execute(text("SELECT 1"))
            with pytest.raises(PoolTimeout):
                await database.engine.connect()
            assert database.engine.pool._pool.waiting() == 0  # type: ignore[attr-defined]
        async with database.engine.connect() as conn:  # and the connection is still there
            assert await conn.scalar(text("SELECT 1")) == 1
    finally:
        await database.dispose()


async def test_a_waiter_that_gives_up_leaves_the_line_and_passes_on_what_it_was_handed() -> None:
    queue: FairQueue[str] = FairQueue(1)
    first = asyncio.create_task(greenlet_spawn(queue.get, True, 5.0))
    second = asyncio.create_task(greenlet_spawn(queue.get, True, 5.0))
    third = asyncio.create_task(greenlet_spawn(queue.get, True, 5.0))
    await in_line(queue, 3)  # type: ignore[arg-type]

    second.cancel()  # gives up before anything is handed over: leaves the line
    with pytest.raises(asyncio.CancelledError):
        await second
    assert queue.waiting() == 2

    queue.put_nowait("connection")  # handed to the first in line...
    first.cancel()  # ...which is cancelled before it could run: it hands it on
    with pytest.raises(asyncio.CancelledError):
        await first
    assert await third == "connection"
    assert queue.waiting() == 0
    assert queue.empty()


@pytest.mark.parametrize(
    ("overrides", "sqlite", "postgresql"),
    [
        ({}, (4, 0), (10, 10)),  # unset: sized for the database
        ({"database_pool_size": 7, "database_max_overflow": 3}, (7, 3), (7, 3)),
    ],
)
async def test_the_pool_is_sized_for_its_database_unless_the_settings_say(
    settings: Settings,
    overrides: dict[str, int],
    sqlite: tuple[int, int],
    postgresql: tuple[int, int],
) -> None:
    database = Database(make_settings(settings.database_url, **overrides))
    try:
        pool = database.engine.pool
        size = (pool.size(), pool._max_overflow)  # type: ignore[attr-defined]
        assert size == (sqlite if database.dialect == "sqlite" else postgresql)
    finally:
        await database.dispose()
