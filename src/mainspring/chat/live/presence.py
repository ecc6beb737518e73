"""Presence across instances: a row per (user, instance) in ``chat_presence``.

An instance writes a row when a user's first socket connects to it, deletes it when their last
one closes, and pushes ``expires_at`` forward for all its users every ``REFRESH_SECONDS``. A
user's presence is the best of their unexpired rows: ``online`` if any instance says so, else
``away`` if one says that, else ``offline``. An instance that dies without cleaning up leaves
rows that expire after ``TTL_SECONDS``.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mainspring.chat import models
from mainspring.core.db import dialect_of, utcnow
from mainspring.core.sql import dialect_insert

REFRESH_SECONDS = 30.0
TTL_SECONDS = 90.0


class PresenceRepository:
    async def set(
        self, session: AsyncSession, user_id: uuid.UUID, instance_id: str, status: str
    ) -> None:
        expires_at = utcnow() + timedelta(seconds=TTL_SECONDS)
        stmt = dialect_insert(dialect_of(session), models.Presence).values(
            user_id=user_id, instance_id=instance_id, status=status, expires_at=expires_at
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["user_id", "instance_id"],
            set_={"status": status, "expires_at": expires_at},
        )
        await session.execute(stmt)

    async def clear(self, session: AsyncSession, user_id: uuid.UUID, instance_id: str) -> None:
        await session.execute(
            delete(models.Presence).where(
                models.Presence.user_id == user_id, models.Presence.instance_id == instance_id
            )
        )

    async def refresh(self, session: AsyncSession, instance_id: str) -> None:
        """Keep every row of this instance alive; drop everyone's expired rows."""
        now = utcnow()
        await session.execute(
            update(models.Presence)
            .where(models.Presence.instance_id == instance_id)
            .values(expires_at=now + timedelta(seconds=TTL_SECONDS))
        )
        await session.execute(delete(models.Presence).where(models.Presence.expires_at <= now))

    async def status(self, session: AsyncSession, user_id: uuid.UUID) -> str:
        stmt = select(models.Presence.status).where(
            models.Presence.user_id == user_id, models.Presence.expires_at > utcnow()
        )
        statuses = set((await session.scalars(stmt)).all())
        if "online" in statuses:
            return "online"
        return "away" if statuses else "offline"


presence_repository = PresenceRepository()
