"""Notifications: created in the transaction of what caused them, pushed live after its commit.

``notify`` is what other services (and other modules: the blog, for a comment on an article)
call. It writes the notification with the change that caused it, so that both are committed or
neither is, and queues a live message with ``publish_after_commit``: connected clients of the
recipient hear about it on the channel ``notifications.<user id>`` only once it is committed
(see ``social/notifications/live.py`` for the WebSocket).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from mainspring.core.pagination import CursorSlice
from mainspring.core.pubsub import publish_after_commit
from mainspring.social import schemas
from mainspring.social.errors import NotificationNotFound
from mainspring.social.models import Notification
from mainspring.social.notifications.repository import NotificationRepository
from mainspring.social.profiles.repository import ProfileRepository


def channel_of(user_id: uuid.UUID) -> str:
    """The pub/sub channel of a user's live notifications."""
    return f"notifications.{user_id}"


class NotificationService:
    async def notify(
        self,
        session: AsyncSession,
        recipient_id: uuid.UUID,
        actor_id: uuid.UUID,
        kind: str,
        subject_type: str,
        subject_id: uuid.UUID | None,
        data: dict[str, Any],
    ) -> schemas.Notification | None:
        """Tell ``recipient_id`` that ``actor_id`` did ``kind`` to the subject.

        Nothing is created when the recipient is the actor (liking one's own post) or when the
        recipient blocked the actor: a block silences mentions, replies and likes alike.
        Returns the notification, or None when it was skipped.
        """
        if recipient_id == actor_id:
            return None
        if await ProfileRepository(session).blocks(recipient_id, actor_id):
            return None
        notification = await NotificationRepository(session).add(
            Notification(
                recipient_id=recipient_id,
                actor_id=actor_id,
                kind=kind,
                subject_type=subject_type,
                subject_id=subject_id,
                data=data,
            )
        )
        publish_after_commit(
            session,
            channel_of(recipient_id),
            {"type": "notification", "notification": notification.model_dump(mode="json")},
        )
        return notification

    async def page(
        self,
        session: AsyncSession,
        recipient_id: uuid.UUID,
        *,
        unread_only: bool,
        listing: CursorSlice,
    ) -> tuple[list[schemas.Notification], str | None]:
        return await NotificationRepository(session).page(recipient_id, unread_only, listing)

    async def unread_count(self, session: AsyncSession, recipient_id: uuid.UUID) -> int:
        return await NotificationRepository(session).unread_count(recipient_id)

    async def mark_read(
        self, session: AsyncSession, recipient_id: uuid.UUID, notification_id: uuid.UUID
    ) -> None:
        """Mark one of the recipient's notifications read (idempotent). Another user's
        notification is answered as missing, not as forbidden: its existence is not revealed."""
        repository = NotificationRepository(session)
        if not await repository.exists(recipient_id, notification_id):
            raise NotificationNotFound("There is no such notification.")
        await repository.mark_read(recipient_id, notification_id)

    async def mark_all_read(self, session: AsyncSession, recipient_id: uuid.UUID) -> int:
        return await NotificationRepository(session).mark_read(recipient_id, None)

    async def forget_subject(
        self, session: AsyncSession, subject_type: str, subject_id: uuid.UUID
    ) -> None:
        """Remove the notifications about a subject that no longer exists."""
        await NotificationRepository(session).delete_about(subject_type, subject_id)


notification_service = NotificationService()
