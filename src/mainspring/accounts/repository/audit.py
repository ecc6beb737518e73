"""The security audit log: its keyset reads, and the erasure that account deletion asks."""

from __future__ import annotations

import builtins
import uuid
from typing import ClassVar

from sqlalchemy import select, update

from mainspring.accounts.models import SecurityEvent
from mainspring.accounts.schemas import SecurityEventView
from mainspring.core.pagination import CursorSlice, SortKey, keyset_page
from mainspring.core.repository import RepositoryBase


class SecurityEventRepository(RepositoryBase[SecurityEvent]):
    model: ClassVar[type[SecurityEvent]] = SecurityEvent

    async def page(
        self,
        listing: CursorSlice,
        *,
        user_id: uuid.UUID | None = None,
        kind: str | None = None,
    ) -> tuple[builtins.list[SecurityEventView], str | None]:
        """Events newest first, of one user and of one kind when given: one statement whatever
        the slice's size (the indexes ``(user_id, created_at)`` and ``(kind, created_at)``)."""
        stmt = select(
            SecurityEvent.id,
            SecurityEvent.kind,
            SecurityEvent.created_at,
            SecurityEvent.user_id,
            SecurityEvent.actor_id,
            SecurityEvent.ip,
            SecurityEvent.user_agent,
            SecurityEvent.details,
        )
        if user_id is not None:
            stmt = stmt.where(SecurityEvent.user_id == user_id)
        if kind is not None:
            stmt = stmt.where(SecurityEvent.kind == kind)
        keys = [SortKey(SecurityEvent.created_at), SortKey(SecurityEvent.id)]
        rows, next_cursor = await keyset_page(self.session, stmt, keys, listing, scalars=False)
        views = [SecurityEventView.model_validate(row, from_attributes=True) for row in rows]
        return views, next_cursor

    async def forget_client(self, user_id: uuid.UUID) -> None:
        """Erase the addresses and browsers recorded for a user (account deletion)."""
        await self.session.execute(
            update(SecurityEvent)
            .where(SecurityEvent.user_id == user_id)
            .values(ip=None, user_agent=None)
            .execution_options(synchronize_session=False)
        )
