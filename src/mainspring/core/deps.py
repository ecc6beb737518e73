"""Request dependencies of the kernel: settings, the database session, the cursor codec, the
slice a keyset-paginated list asks for.

The session dependency is the unit of work of a request: it opens one transaction, hands the
session to the handler, and commits once the handler returns, *before* the response is sent
(``scope="function"``), so a failed commit answers an error instead of a false success. Any
exception rolls everything back.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Annotated, TypeVar

from fastapi import Depends, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from mainspring.core.config import Settings
from mainspring.core.db import Database
from mainspring.core.pagination import CursorCodec, CursorParams, cursor_params, set_cursor_links
from mainspring.core.schemas import CursorPage

T = TypeVar("T")


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_database(request: Request) -> Database:
    database: Database = request.app.state.db
    return database


def get_cursor_codec(request: Request) -> CursorCodec:
    codec: CursorCodec = request.app.state.cursor_codec
    return codec


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with get_database(request).session() as session:
        yield session


async def get_read_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with get_database(request).read_session() as session:
        yield session


SettingsDep = Annotated[Settings, Depends(get_settings)]
DatabaseDep = Annotated[Database, Depends(get_database)]
CursorCodecDep = Annotated[CursorCodec, Depends(get_cursor_codec)]
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
"""Read-write session on the primary; committed after the handler, before the response."""
ReadSessionDep = Annotated[AsyncSession, Depends(get_read_session, scope="function")]
"""Read-only work: the replica when configured; on SQLite a transaction that takes no lock."""


@dataclass(frozen=True)
class CursorSlice:
    """What a keyset-paginated list endpoint needs from its request: the slice asked for
    (``params``: ``?limit=&cursor=``), the ``codec`` that reads and signs cursors, and
    ``page()`` to answer the slice with its ``Link: rel="next"`` header.

    Services take ``params`` and ``codec`` and know nothing of HTTP; the handler is then
    ``items, next_cursor = await service.list(session, ..., listing.params, listing.codec)``
    and ``return listing.page(items, next_cursor)``.
    """

    params: CursorParams
    codec: CursorCodec
    request: Request
    response: Response

    def page(self, items: Sequence[T], next_cursor: str | None) -> CursorPage[T]:
        set_cursor_links(self.request, self.response, next_cursor)
        return CursorPage(items=list(items), next_cursor=next_cursor)


def get_cursor_slice(
    request: Request,
    response: Response,
    params: Annotated[CursorParams, Depends(cursor_params)],
) -> CursorSlice:
    return CursorSlice(params, get_cursor_codec(request), request, response)


CursorSliceDep = Annotated[CursorSlice, Depends(get_cursor_slice)]
"""The slice a keyset-paginated list asks for (its ``limit`` and ``cursor`` in the OpenAPI)."""
