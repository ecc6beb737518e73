"""What a seed step gets and what it returns."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from mainspring.core.config import Settings

SeedValue = str | tuple[str, ...]
"""A value for one placeholder: a text, or a pool of texts that wrk takes in turn per request."""
SeedValues = Mapping[str, SeedValue]


@dataclass(frozen=True)
class SeedContext:
    """What a seed step gets: a client on the live server, the seed size, the database, and how
    long and how wide the scenario's load will be (for seeds whose data is used up by it)."""

    client: httpx.AsyncClient
    size: int
    database_url: str
    seconds: int = 0
    """How long wrk will send the scenario's request: warm-up plus load, in seconds."""
    workers: int = 1
    """The server's worker processes."""

    def settings(self) -> Settings:
        """The application's settings for the run's database (see ``bench/settings.py``)."""
        from bench.settings import seed_settings

        return seed_settings(self.database_url)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A unit of work on the run's database: committed when the block ends normally."""
        from mainspring.core.db import Database

        database = Database(self.settings())
        try:
            async with database.session() as session:
                yield session
        finally:
            await database.dispose()

    async def refresh_statistics(self) -> None:
        """Have the database measure what the seed wrote (``Database.refresh_statistics``): a
        run measures the steady state, not the minute before autovacuum's first ``ANALYZE``."""
        from mainspring.core.db import Database

        database = Database(self.settings())
        try:
            await database.refresh_statistics()
        finally:
            await database.dispose()


Seed = Callable[[SeedContext], Awaitable[SeedValues]]
