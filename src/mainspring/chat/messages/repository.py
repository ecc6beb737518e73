"""Every query on messages and reactions. Reads return ``schemas.Message``: a page costs two
statements (the messages with their senders, then the reactions of the whole page)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mainspring.accounts.models import User
from mainspring.chat import models
from mainspring.chat.messages import schemas
from mainspring.core.db import dialect_of
from mainspring.core.sql import dialect_insert

_SELECT = select(
    models.Message.id,
    models.Message.room_id,
    models.Message.seq,
    models.Message.client_id,
    models.Message.sender_id,
    User.username,
    models.Message.body,
    models.Message.body_html,
    models.Message.reply_to_id,
    models.Message.attachments,
    models.Message.mentions,
    models.Message.created_at,
    models.Message.edited_at,
    models.Message.deleted_at,
).outerjoin(User, User.id == models.Message.sender_id)


class MessageRepository:
    async def _read(self, session: AsyncSession, stmt: Select[Any]) -> list[schemas.Message]:
        rows = (await session.execute(stmt)).all()
        reactions = await self._reactions(session, [r.id for r in rows])
        return [
            schemas.Message(
                id=r.id,
                room_id=r.room_id,
                seq=r.seq,
                client_id=r.client_id,
                sender=schemas.Sender(id=r.sender_id, username=r.username or ""),
                body=r.body,
                body_html=r.body_html,
                reply_to_id=r.reply_to_id,
                attachments=[schemas.Attachment(**a) for a in r.attachments or []],
                mentions=list(r.mentions or []),
                reactions=reactions.get(r.id, []),
                created_at=r.created_at,
                edited_at=r.edited_at,
                deleted=r.deleted_at is not None,
            )
            for r in rows
        ]

    async def _reactions(
        self, session: AsyncSession, ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, list[schemas.ReactionCount]]:
        if not ids:
            return {}
        stmt = (
            select(models.Reaction.message_id, models.Reaction.emoji, User.username)
            .join(User, User.id == models.Reaction.user_id)
            .where(models.Reaction.message_id.in_(ids))
            .order_by(models.Reaction.message_id, models.Reaction.created_at, User.username)
        )
        grouped: dict[uuid.UUID, dict[str, list[str]]] = defaultdict(dict)
        for row in await session.execute(stmt):
            grouped[row.message_id].setdefault(row.emoji, []).append(row.username)
        return {
            message_id: [
                schemas.ReactionCount(emoji=emoji, count=len(names), usernames=names)
                for emoji, names in emojis.items()
            ]
            for message_id, emojis in grouped.items()
        }

    async def read(self, session: AsyncSession, message_id: uuid.UUID) -> schemas.Message | None:
        found = await self._read(session, _SELECT.where(models.Message.id == message_id))
        return found[0] if found else None

    async def history(
        self,
        session: AsyncSession,
        room_id: uuid.UUID,
        *,
        before: int | None,
        after: int | None,
        limit: int,
    ) -> tuple[list[schemas.Message], bool]:
        """``limit`` messages before ``before`` (the newest ones when neither is given) or after
        ``after``, in ascending ``seq``; and whether more lie beyond."""
        stmt = _SELECT.where(models.Message.room_id == room_id).limit(limit + 1)
        if after is not None:
            stmt = stmt.where(models.Message.seq > after).order_by(models.Message.seq)
        else:
            if before is not None:
                stmt = stmt.where(models.Message.seq < before)
            stmt = stmt.order_by(models.Message.seq.desc())
        items = await self._read(session, stmt)
        has_more = len(items) > limit
        items = items[:limit]
        if after is None:
            items.reverse()
        return items, has_more

    async def search(
        self,
        session: AsyncSession,
        room_ids: Sequence[uuid.UUID],
        words: Sequence[str],
        *,
        after: tuple[Any, ...] | None,
        limit: int,
    ) -> list[schemas.Message]:
        """Messages of ``room_ids`` containing every word (case-insensitive), newest first."""
        stmt = _SELECT.where(
            models.Message.room_id.in_(room_ids), models.Message.deleted_at.is_(None)
        )
        for word in words:
            escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            stmt = stmt.where(models.Message.body.ilike(f"%{escaped}%", escape="\\"))
        if after is not None:
            created_at, message_id = after
            stmt = stmt.where(
                or_(
                    models.Message.created_at < created_at,
                    (models.Message.created_at == created_at) & (models.Message.id < message_id),
                )
            )
        stmt = stmt.order_by(models.Message.created_at.desc(), models.Message.id.desc())
        return await self._read(session, stmt.limit(limit + 1))

    async def by_client_id(
        self, session: AsyncSession, room_id: uuid.UUID, sender_id: uuid.UUID, client_id: str
    ) -> uuid.UUID | None:
        stmt = select(models.Message.id).where(
            models.Message.room_id == room_id,
            models.Message.sender_id == sender_id,
            models.Message.client_id == client_id,
        )
        return await session.scalar(stmt)

    async def next_seq(self, session: AsyncSession, room_id: uuid.UUID) -> int:
        """Allocate the room's next sequence number: an atomic increment of its counter, in the
        sender's transaction (the row stays locked until it commits)."""
        stmt = (
            update(models.Room)
            .where(models.Room.id == room_id)
            .values(last_seq=models.Room.last_seq + 1)
            .returning(models.Room.last_seq)
        )
        return int((await session.execute(stmt)).scalar_one())

    async def get(self, session: AsyncSession, message_id: uuid.UUID) -> models.Message | None:
        return await session.get(models.Message, message_id)

    async def react(
        self, session: AsyncSession, message_id: uuid.UUID, user_id: uuid.UUID, emoji: str
    ) -> bool:
        """Add a reaction; False when it was there already."""
        values = {"message_id": message_id, "user_id": user_id, "emoji": emoji}
        dialect = dialect_of(session)
        stmt = dialect_insert(dialect, models.Reaction).values(**values).on_conflict_do_nothing()
        result = await session.execute(stmt)
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def unreact(
        self, session: AsyncSession, message_id: uuid.UUID, user_id: uuid.UUID, emoji: str
    ) -> bool:
        stmt = delete(models.Reaction).where(
            models.Reaction.message_id == message_id,
            models.Reaction.user_id == user_id,
            models.Reaction.emoji == emoji,
        )
        result = await session.execute(stmt)
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def count(self, session: AsyncSession, room_id: uuid.UUID) -> int:
        stmt = select(func.count()).where(models.Message.room_id == room_id)
        return int(await session.scalar(stmt) or 0)


message_repository = MessageRepository()
