"""Every query on rooms, members and bans. Reads select the columns of the response schemas."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Select, and_, delete, func, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mainspring.accounts.models import User
from mainspring.chat import models
from mainspring.chat.rooms import schemas
from mainspring.core.db import dialect_of
from mainspring.core.pagination import PageSlice, offset_page

_member_count = (
    select(func.count())
    .where(models.Member.room_id == models.Room.id)
    .correlate(models.Room)
    .scalar_subquery()
)


def _room_select(user_id: uuid.UUID) -> Select[Any]:
    """Rooms with the caller's membership (an outer join: null for a non-member)."""
    mine = and_(models.Member.room_id == models.Room.id, models.Member.user_id == user_id)
    return select(
        models.Room.id,
        models.Room.kind,
        models.Room.name,
        models.Room.topic,
        models.Room.last_seq,
        _member_count.label("member_count"),
        models.Member.role,
        func.coalesce(models.Member.last_read_seq, 0).label("last_read_seq"),
        models.Room.created_at,
    ).outerjoin(models.Member, mine)


def _room(row: Any) -> schemas.Room:
    unread = row.last_seq - row.last_read_seq if row.role is not None else 0
    return schemas.Room(
        id=row.id,
        kind=row.kind,
        name=row.name,
        topic=row.topic,
        last_seq=row.last_seq,
        member_count=row.member_count,
        role=row.role,
        unread=max(unread, 0),
        last_read_seq=row.last_read_seq,
        created_at=row.created_at,
    )


class RoomRepository:
    async def read(
        self, session: AsyncSession, room_id: uuid.UUID, user_id: uuid.UUID
    ) -> schemas.Room | None:
        row = (
            await session.execute(_room_select(user_id).where(models.Room.id == room_id))
        ).one_or_none()
        return _room(row) if row else None

    async def mine(
        self, session: AsyncSession, user_id: uuid.UUID, listing: PageSlice
    ) -> tuple[list[schemas.Room], int]:
        stmt = _room_select(user_id).where(models.Member.user_id == user_id)
        stmt = stmt.order_by(models.Room.name, models.Room.id)
        rows, total = await offset_page(session, stmt, listing, scalars=False)
        return [_room(r) for r in rows], total

    async def public(
        self, session: AsyncSession, user_id: uuid.UUID, query: str | None, listing: PageSlice
    ) -> tuple[list[schemas.Room], int]:
        stmt = _room_select(user_id).where(models.Room.kind == "public")
        if query:
            escaped = query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            stmt = stmt.where(models.Room.name.ilike(f"%{escaped}%", escape="\\"))
        stmt = stmt.order_by(models.Room.name, models.Room.id)
        rows, total = await offset_page(session, stmt, listing, scalars=False)
        return [_room(r) for r in rows], total

    async def get(self, session: AsyncSession, room_id: uuid.UUID) -> models.Room | None:
        return await session.get(models.Room, room_id)

    async def lock(self, session: AsyncSession, room_id: uuid.UUID) -> models.Room | None:
        """The room's row, locked for the transaction on PostgreSQL (SQLite already runs one
        writer at a time): membership changes and message sends of a room queue on it."""
        stmt = select(models.Room).where(models.Room.id == room_id)
        if dialect_of(session) == "postgresql":
            stmt = stmt.with_for_update()
        return (await session.execute(stmt)).scalar_one_or_none()

    async def by_direct_key(self, session: AsyncSession, key: str) -> models.Room | None:
        stmt = select(models.Room).where(models.Room.direct_key == key)
        return (await session.execute(stmt)).scalar_one_or_none()

    async def membership(
        self, session: AsyncSession, room_id: uuid.UUID, user_id: uuid.UUID
    ) -> models.Member | None:
        return await session.get(models.Member, (room_id, user_id))

    async def member_count(self, session: AsyncSession, room_id: uuid.UUID) -> int:
        stmt = select(func.count()).where(models.Member.room_id == room_id)
        return int(await session.scalar(stmt) or 0)

    async def owner_count(self, session: AsyncSession, room_id: uuid.UUID) -> int:
        stmt = select(func.count()).where(
            models.Member.room_id == room_id, models.Member.role == "owner"
        )
        return int(await session.scalar(stmt) or 0)

    async def is_banned(
        self, session: AsyncSession, room_id: uuid.UUID, user_id: uuid.UUID
    ) -> bool:
        return await session.get(models.Ban, (room_id, user_id)) is not None

    async def ban(
        self, session: AsyncSession, room_id: uuid.UUID, user_id: uuid.UUID, by: uuid.UUID
    ) -> None:
        if not await self.is_banned(session, room_id, user_id):
            session.add(models.Ban(room_id=room_id, user_id=user_id, banned_by_id=by))

    async def unban(self, session: AsyncSession, room_id: uuid.UUID, user_id: uuid.UUID) -> None:
        await session.execute(
            delete(models.Ban).where(models.Ban.room_id == room_id, models.Ban.user_id == user_id)
        )

    async def remove_member(
        self, session: AsyncSession, room_id: uuid.UUID, user_id: uuid.UUID
    ) -> bool:
        result = await session.execute(
            delete(models.Member).where(
                models.Member.room_id == room_id, models.Member.user_id == user_id
            )
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def mark_read(
        self, session: AsyncSession, room_id: uuid.UUID, user_id: uuid.UUID, seq: int
    ) -> bool:
        """Move the read mark forward (never back); True when it moved."""
        result = await session.execute(
            update(models.Member)
            .where(
                models.Member.room_id == room_id,
                models.Member.user_id == user_id,
                models.Member.last_read_seq < seq,
            )
            .values(last_read_seq=seq)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def users_by_name(
        self, session: AsyncSession, usernames: Sequence[str]
    ) -> dict[str, tuple[uuid.UUID, str]]:
        """Lower-cased username -> (id, username) of the active accounts among ``usernames``."""
        keys = {name.lower() for name in usernames}
        if not keys:
            return {}
        stmt = select(User.username_key, User.id, User.username).where(
            User.username_key.in_(keys), User.deleted_at.is_(None), User.disabled_at.is_(None)
        )
        return {row.username_key: (row.id, row.username) for row in await session.execute(stmt)}

    async def username(self, session: AsyncSession, user_id: uuid.UUID) -> str:
        return str(await session.scalar(select(User.username).where(User.id == user_id)) or "")

    async def members(
        self,
        session: AsyncSession,
        room_id: uuid.UUID,
        listing: PageSlice,
        now: datetime,
        *,
        only: uuid.UUID | None = None,
    ) -> tuple[list[schemas.Member], int]:
        """A page of the room's members with their presence (``only``: that one member)."""
        connected = (
            select(literal(1))
            .where(
                models.Presence.user_id == models.Member.user_id, models.Presence.expires_at > now
            )
            .correlate(models.Member)
            .exists()
        )
        online = (
            select(literal(1))
            .where(
                models.Presence.user_id == models.Member.user_id,
                models.Presence.expires_at > now,
                models.Presence.status == "online",
            )
            .correlate(models.Member)
            .exists()
        )
        stmt = cast(
            Select[Any],
            select(
                models.Member.user_id,
                User.username,
                User.display_name,
                models.Member.role,
                models.Member.last_read_seq,
                models.Member.joined_at,
                online.label("online"),
                connected.label("connected"),
            )
            .join(User, User.id == models.Member.user_id)
            .where(models.Member.room_id == room_id)
            .order_by(models.Member.joined_at, models.Member.user_id),
        )
        if only is not None:
            stmt = stmt.where(models.Member.user_id == only)
        rows, total = await offset_page(session, stmt, listing, scalars=False)
        return [
            schemas.Member(
                user_id=r.user_id,
                username=r.username,
                display_name=r.display_name,
                role=r.role,
                last_read_seq=r.last_read_seq,
                joined_at=r.joined_at,
                presence="online" if r.online else ("away" if r.connected else "offline"),
            )
            for r in rows
        ], total

    async def member_ids(self, session: AsyncSession, room_id: uuid.UUID) -> list[uuid.UUID]:
        stmt = select(models.Member.user_id).where(models.Member.room_id == room_id)
        return list((await session.scalars(stmt)).all())

    async def room_ids_of(self, session: AsyncSession, user_id: uuid.UUID) -> list[uuid.UUID]:
        stmt = select(models.Member.room_id).where(models.Member.user_id == user_id)
        return list((await session.scalars(stmt)).all())


room_repository = RoomRepository()
