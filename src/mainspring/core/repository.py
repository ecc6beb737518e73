"""``RepositoryBase``: the queries every model needs, so module repositories hold only their own.

A repository wraps the request's session; it never commits (the session dependency does).
"""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Sequence
from typing import Any, ClassVar, Generic, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from mainspring.core.db import Base
from mainspring.core.errors import NotFound
from mainspring.core.pagination import PageSlice, offset_page

M = TypeVar("M", bound=Base)


class RepositoryBase(Generic[M]):
    model: ClassVar[type[Any]]
    not_found: ClassVar[str] = "The resource does not exist."

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def select(self) -> Select[tuple[M]]:
        return select(self.model)

    async def get_or_none(self, id_: uuid.UUID) -> M | None:
        obj: M | None = await self.session.get(self.model, id_)
        return obj

    async def get(self, id_: uuid.UUID) -> M:
        obj = await self.get_or_none(id_)
        if obj is None:
            raise NotFound(self.not_found)
        return obj

    async def list(
        self, *where: Any, order_by: Sequence[Any] = (), limit: int = 100
    ) -> builtins.list[M]:
        stmt = self.select().where(*where).order_by(*order_by).limit(limit)
        rows: list[M] = list((await self.session.scalars(stmt)).all())  # type: ignore[arg-type]
        return rows

    async def paginate(
        self, stmt: Select[tuple[M]], listing: PageSlice
    ) -> tuple[builtins.list[M], int]:
        return await offset_page(self.session, stmt, listing)

    async def add(self, obj: M) -> M:
        """Add and flush, so that defaults (id, timestamps) are set and constraints checked."""
        self.session.add(obj)
        await self.session.flush()
        return obj

    async def delete(self, obj: M) -> None:
        await self.session.delete(obj)
        await self.session.flush()
