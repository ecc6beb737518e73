"""Every query about invitations: the owners' list (columns of ``schemas.Invitation``), the
open invitation of an address, the invitation behind a token, and the single-use claim."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select, update

from mainspring.accounts.models import User
from mainspring.core.pagination import PageSlice, offset_page
from mainspring.core.repository import RepositoryBase
from mainspring.todo.invitations import schemas
from mainspring.todo.models import ProjectInvitation

Open = (ProjectInvitation.accepted_at.is_(None), ProjectInvitation.revoked_at.is_(None))
"""Neither accepted nor revoked (an expired invitation is still open: a resend renews it)."""


def _invitations() -> Select[Any]:
    columns: tuple[Any, ...] = (
        ProjectInvitation.id,
        ProjectInvitation.project_id,
        ProjectInvitation.email,
        ProjectInvitation.role,
        ProjectInvitation.invited_by_id,
        User.username,
        ProjectInvitation.created_at,
        ProjectInvitation.sent_at,
        ProjectInvitation.sends,
        ProjectInvitation.expires_at,
        ProjectInvitation.accepted_at,
        ProjectInvitation.revoked_at,
    )
    return select(*columns).outerjoin(User, User.id == ProjectInvitation.invited_by_id)


def status_of(
    accepted_at: datetime | None, revoked_at: datetime | None, expires_at: datetime, now: datetime
) -> schemas.InvitationStatus:
    if accepted_at is not None:
        return schemas.InvitationStatus.ACCEPTED
    if revoked_at is not None:
        return schemas.InvitationStatus.REVOKED
    if expires_at <= now:
        return schemas.InvitationStatus.EXPIRED
    return schemas.InvitationStatus.PENDING


def _invitation(row: Any, now: datetime) -> schemas.Invitation:
    inviter = None
    if row.invited_by_id is not None and row.username is not None:
        inviter = {"id": row.invited_by_id, "username": row.username}
    return schemas.Invitation.model_validate(
        {
            "id": row.id,
            "project_id": row.project_id,
            "email": row.email,
            "role": row.role,
            "status": status_of(row.accepted_at, row.revoked_at, row.expires_at, now),
            "invited_by": inviter,
            "created_at": row.created_at,
            "sent_at": row.sent_at,
            "sends": row.sends,
            "expires_at": row.expires_at,
        }
    )


class InvitationRepository(RepositoryBase[ProjectInvitation]):
    model = ProjectInvitation

    async def read(
        self, project_id: uuid.UUID, invitation_id: uuid.UUID, now: datetime
    ) -> schemas.Invitation | None:
        row = (
            await self.session.execute(
                _invitations().where(
                    ProjectInvitation.id == invitation_id,
                    ProjectInvitation.project_id == project_id,
                )
            )
        ).first()
        return None if row is None else _invitation(row, now)

    async def open_page(
        self, project_id: uuid.UUID, listing: PageSlice, now: datetime
    ) -> tuple[list[schemas.Invitation], int]:
        """The project's open invitations (pending or expired), newest first."""
        stmt = (
            _invitations()
            .where(ProjectInvitation.project_id == project_id, *Open)
            .order_by(ProjectInvitation.created_at.desc(), ProjectInvitation.id.desc())
        )
        rows, total = await offset_page(self.session, stmt, listing, scalars=False)
        return [_invitation(row, now) for row in rows], total

    async def open_for(self, project_id: uuid.UUID, email: str) -> ProjectInvitation | None:
        invitation: ProjectInvitation | None = await self.session.scalar(
            select(ProjectInvitation).where(
                ProjectInvitation.project_id == project_id,
                ProjectInvitation.email == email,
                *Open,
            )
        )
        return invitation

    async def load(
        self, project_id: uuid.UUID, invitation_id: uuid.UUID
    ) -> ProjectInvitation | None:
        invitation: ProjectInvitation | None = await self.session.scalar(
            select(ProjectInvitation).where(
                ProjectInvitation.id == invitation_id,
                ProjectInvitation.project_id == project_id,
            )
        )
        return invitation

    async def by_token(self, token_hash: str) -> ProjectInvitation | None:
        invitation: ProjectInvitation | None = await self.session.scalar(
            select(ProjectInvitation).where(ProjectInvitation.token_hash == token_hash)
        )
        return invitation

    async def claim(self, invitation_id: uuid.UUID, user_id: uuid.UUID, now: datetime) -> bool:
        """Mark the invitation accepted by ``user_id`` if it is still open and unexpired: a
        conditional UPDATE, so of two acceptances at once exactly one wins (PostgreSQL
        re-checks the condition after the other's row lock; SQLite has one writer)."""
        result = await self.session.execute(
            update(ProjectInvitation)
            .where(
                ProjectInvitation.id == invitation_id,
                ProjectInvitation.expires_at > now,
                *Open,
            )
            .values(accepted_at=now, accepted_by_id=user_id)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0) == 1)
