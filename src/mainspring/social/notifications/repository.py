"""Queries of notifications: a recipient's newest first, the unread count, marking read."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Select, delete, func, select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from mainspring.accounts.models import User
from mainspring.core.db import utcnow
from mainspring.core.pagination import CursorCodec, CursorParams, SortKey, keyset_page
from mainspring.social.models import Notification, ProfileDetails
from mainspring.social.profiles.repository import author_columns, author_of
from mainspring.social.schemas import NotificationOut


def _with_actor() -> Select[Any]:
    """Notifications with their actor's author fields: one statement for a whole page."""
    return (
        select(Notification, *author_columns(User, ProfileDetails, "actor"))
        .join(User, User.id == Notification.actor_id)
        .outerjoin(ProfileDetails, ProfileDetails.user_id == Notification.actor_id)
    )


def to_notification(row: Row[Any]) -> NotificationOut:
    notification: Notification = row.Notification
    return NotificationOut(
        id=notification.id,
        kind=notification.kind,
        actor=author_of(row, "actor"),
        subject_type=notification.subject_type,
        subject_id=notification.subject_id,
        data=notification.data,
        read=notification.read_at is not None,
        created_at=notification.created_at,
    )


class NotificationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, notification: Notification) -> NotificationOut:
        """Insert the notification and read it back with its actor."""
        self.session.add(notification)
        await self.session.flush()
        stmt = _with_actor().where(Notification.id == notification.id)
        return to_notification((await self.session.execute(stmt)).one())

    async def page(
        self,
        recipient_id: uuid.UUID,
        unread_only: bool,
        params: CursorParams,
        codec: CursorCodec,
    ) -> tuple[list[NotificationOut], str | None]:
        """Newest first (``ix_notifications_recipient_id_created_at``)."""
        stmt = _with_actor().where(Notification.recipient_id == recipient_id)
        if unread_only:
            stmt = stmt.where(Notification.read_at.is_(None))
        keys = [SortKey(Notification.created_at), SortKey(Notification.id)]
        rows, next_cursor = await keyset_page(
            self.session,
            stmt,
            keys,
            params,
            codec,
            scalars=False,
            key_of=lambda row: (row.Notification.created_at, row.Notification.id),
        )
        return [to_notification(row) for row in rows], next_cursor

    async def unread_count(self, recipient_id: uuid.UUID) -> int:
        """Counted on ``ix_notifications_recipient_id_read_at`` alone."""
        stmt = select(func.count()).where(
            Notification.recipient_id == recipient_id, Notification.read_at.is_(None)
        )
        return int(await self.session.scalar(stmt) or 0)

    async def mark_read(self, recipient_id: uuid.UUID, notification_id: uuid.UUID | None) -> int:
        """Mark one notification (or, with None, every one) of the recipient read; returns how
        many were unread. The recipient is part of the ``WHERE``: nobody marks another's."""
        stmt = update(Notification).where(
            Notification.recipient_id == recipient_id, Notification.read_at.is_(None)
        )
        if notification_id is not None:
            stmt = stmt.where(Notification.id == notification_id)
        result: Any = await self.session.execute(
            stmt.values(read_at=utcnow()).execution_options(synchronize_session=False)
        )
        return int(result.rowcount)

    async def exists(self, recipient_id: uuid.UUID, notification_id: uuid.UUID) -> bool:
        stmt = select(Notification.id).where(
            Notification.id == notification_id, Notification.recipient_id == recipient_id
        )
        return await self.session.scalar(stmt) is not None

    async def delete_about(self, subject_type: str, subject_id: uuid.UUID) -> None:
        """Forget the notifications about a subject that is gone (a deleted post)."""
        await self.session.execute(
            delete(Notification).where(
                Notification.subject_id == subject_id, Notification.subject_type == subject_type
            )
        )
