"""Request dependencies of the kernel: settings, the database session, the cursor codec, the
slice a keyset-paginated list asks for.

Every dependency here is a coroutine, even those that only read ``app.state``: FastAPI runs a
plain ``def`` dependency in its thread pool, a thread hop (tens of microseconds, and a wait for
a free thread under load) for a value that costs nothing to read. Code that is not a
dependency awaits them too (``await get_settings(request)``) or reads ``request.app.state``.

The session dependency is the unit of work of a request: it opens one transaction, hands the
session to the handler, and commits once the handler returns, *before* the response is sent
(``scope="function"``), so a failed commit answers an error instead of a false success. Any
exception rolls everything back.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from mainspring.core import pagination
from mainspring.core.config import Settings
from mainspring.core.db import Database


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_database(request: Request) -> Database:
    database: Database = request.app.state.db
    return database


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    database: Database = request.app.state.db
    async with database.session() as session:
        yield session


async def get_read_session(request: Request) -> AsyncIterator[AsyncSession]:
    database: Database = request.app.state.db
    async with database.read_session() as session:
        yield session


SettingsDep = Annotated[Settings, Depends(get_settings)]
DatabaseDep = Annotated[Database, Depends(get_database)]
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
"""Read-write session on the primary; committed after the handler, before the response."""
ReadSessionDep = Annotated[AsyncSession, Depends(get_read_session, scope="function")]
"""Read-only work: the replica when configured; on SQLite a transaction that takes no lock."""


CursorSlice = pagination.CursorSlice
CursorSliceDep = pagination.CursorSliceDep
PageSlice = pagination.PageSlice
PageSliceDep = pagination.PageSliceDep
