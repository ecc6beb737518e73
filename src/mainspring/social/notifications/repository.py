"""Queries of notifications: a recipient's newest first, the unread count, marking read."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mainspring.accounts.models import User
from mainspring.core.db import utcnow
from mainspring.core.pagination import CursorSlice, SortKey, keyset_page
from mainspring.social import schemas
from mainspring.social.models import Notification, ProfileDetails


def _with_actor() -> Select[Any]:
    """Notifications with their actor's author fields, columns only: one statement for a
    whole page."""
    return (
        select(
            Notification.id,
            Notification.kind,
            User.username,
            User.display_name,
            ProfileDetails.image,
            Notification.subject_type,
            Notification.subject_id,
            Notification.data,
            Notification.read_at,
            Notification.created_at,
        )
        .join(User, User.id == Notification.actor_id)
        .outerjoin(ProfileDetails, ProfileDetails.user_id == Notification.actor_id)
    )


def to_notification(row: Sequence[Any]) -> schemas.Notification:
    """A row of ``_with_actor`` as the response model, validated once."""
    (id_, kind, username, display_name, image, subject_type, subject_id, data, read_at, at) = row
    return schemas.Notification.model_validate(
        {
            "id": id_,
            "kind": kind,
            "actor": {"username": username, "display_name": display_name, "image": image},
            "subject_type": subject_type,
            "subject_id": subject_id,
            "data": data,
            "read": read_at is not None,
            "created_at": at,
        }
    )


class NotificationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, notification: Notification) -> schemas.Notification:
        """Insert the notification and read it back with its actor."""
        self.session.add(notification)
        await self.session.flush()
        stmt = _with_actor().where(Notification.id == notification.id)
        return to_notification((await self.session.execute(stmt)).one())

    async def page(
        self,
        recipient_id: uuid.UUID,
        unread_only: bool,
        listing: CursorSlice,
    ) -> tuple[list[schemas.Notification], str | None]:
        """Newest first (``ix_notifications_recipient_id_created_at``)."""
        stmt = _with_actor().where(Notification.recipient_id == recipient_id)
        if unread_only:
            stmt = stmt.where(Notification.read_at.is_(None))
        keys = [SortKey(Notification.created_at), SortKey(Notification.id)]
        rows, next_cursor = await keyset_page(
            self.session,
            stmt,
            keys,
            listing,
            scalars=False,
            key_of=lambda row: (row.created_at, row.id),
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
