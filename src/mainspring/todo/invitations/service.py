"""Invitations by e-mail: an owner invites an address with a role; the person follows the
mailed link, signs in or registers, and lands in the project with that role.

What holds, and why:

* **No answer names an account.** Inviting never looks the address up: the answer, the mail
  and the time taken are the same for an address with an account and one without. Only the
  acceptance, by a signed-in person, ties the invitation to an account.
* **Single use, expiring, revocable, stored hashed.** The link carries a 256-bit random token
  (``core.security.new_token``) of which only the SHA-256 is stored (``token_digest``), as
  accounts stores its reset tokens. Accepting is a conditional UPDATE of an open, unexpired
  invitation, so a second acceptance (even a concurrent one) is refused; so is one after a
  revocation or past the expiry, each with its own problem.
* **Resends are spaced** (``RESEND_INTERVAL`` per invitation, on top of the owner's rate
  limit): a resend replaces the token (the old link dies) and renews the expiry.

The link is the token: whoever holds it may accept, like a calendar feed URL; it goes only to
the invited address, and the owners see (and revoke) what is open.
"""

from __future__ import annotations

import math
import uuid
from datetime import datetime, timedelta
from urllib.parse import urlencode

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from mainspring.core.config import Settings
from mainspring.core.db import utcnow
from mainspring.core.mail import send_mail
from mainspring.core.pagination import PageSlice
from mainspring.core.security import new_token, token_digest
from mainspring.todo.errors import (
    AlreadyInvited,
    InboxIsPersonal,
    InvitationAccepted,
    InvitationExpired,
    InvitationNotFound,
    InvitationRevoked,
    ResendTooSoon,
)
from mainspring.todo.invitations import schemas
from mainspring.todo.invitations.repository import InvitationRepository
from mainspring.todo.models import Project, ProjectInvitation, ProjectMember
from mainspring.todo.projects.repository import ProjectRepository
from mainspring.todo.projects.schemas import Project as ProjectOut
from mainspring.todo.projects.service import project_service
from mainspring.todo.roles import require_owner

INVITATION_TTL = timedelta(days=7)
RESEND_INTERVAL = timedelta(minutes=10)
ACCEPT_PATH = "/accept-invitation"


def invitation_link(settings: Settings, token: str) -> str:
    """The front end's page that accepts invitations (from configuration, never from the
    request's ``Host``, which an attacker could point at their own site)."""
    base = (settings.accounts_frontend_url or settings.public_url).rstrip("/")
    return f"{base}{ACCEPT_PATH}?{urlencode({'token': token})}"


class InvitationService:
    async def invite(
        self,
        session: AsyncSession,
        settings: Settings,
        user_id: uuid.UUID,
        project_id: uuid.UUID,
        data: schemas.InvitationCreate,
    ) -> schemas.Invitation:
        """Invite ``data.email`` (owners only); the same answer whoever owns the address."""
        project = await self._owned(session, user_id, project_id)
        repository = InvitationRepository(session)
        if await repository.open_for(project_id, data.email) is not None:
            raise AlreadyInvited()
        now = utcnow()
        token = new_token()
        invitation = ProjectInvitation(
            project_id=project_id,
            email=data.email,
            role=data.role.value,
            token_hash=token_digest(token),
            invited_by_id=user_id,
            created_at=now,
            sent_at=now,
            sends=1,
            expires_at=now + INVITATION_TTL,
        )
        session.add(invitation)
        await session.flush()
        await self._mail(session, settings, user_id, project, invitation, token)
        return await self._read(session, project_id, invitation.id, now)

    async def open_page(
        self,
        session: AsyncSession,
        user_id: uuid.UUID,
        project_id: uuid.UUID,
        listing: PageSlice,
    ) -> tuple[list[schemas.Invitation], int]:
        """The project's open invitations, pending or expired (owners only)."""
        _, role = await project_service.access(session, user_id, project_id, lock=False)
        require_owner(role)
        return await InvitationRepository(session).open_page(project_id, listing, utcnow())

    async def get(
        self,
        session: AsyncSession,
        user_id: uuid.UUID,
        project_id: uuid.UUID,
        invitation_id: uuid.UUID,
    ) -> schemas.Invitation:
        _, role = await project_service.access(session, user_id, project_id, lock=False)
        require_owner(role)
        return await self._read(session, project_id, invitation_id, utcnow())

    async def resend(
        self,
        session: AsyncSession,
        settings: Settings,
        user_id: uuid.UUID,
        project_id: uuid.UUID,
        invitation_id: uuid.UUID,
    ) -> schemas.Invitation:
        """Mail a new link (the old one dies) valid for another ``INVITATION_TTL``; at most
        once per ``RESEND_INTERVAL``."""
        project = await self._owned(session, user_id, project_id)
        invitation = await self._load_open(session, project_id, invitation_id)
        now = utcnow()
        wait = invitation.sent_at + RESEND_INTERVAL - now
        if wait > timedelta(0):
            raise ResendTooSoon(math.ceil(wait.total_seconds()))
        token = new_token()
        invitation.token_hash = token_digest(token)
        invitation.sent_at = now
        invitation.sends += 1
        invitation.expires_at = now + INVITATION_TTL
        await session.flush()
        await self._mail(session, settings, user_id, project, invitation, token)
        return await self._read(session, project_id, invitation.id, now)

    async def revoke(
        self,
        session: AsyncSession,
        user_id: uuid.UUID,
        project_id: uuid.UUID,
        invitation_id: uuid.UUID,
    ) -> None:
        """Its link stops working (revoking twice is harmless; an accepted one is a member to
        remove instead)."""
        await self._owned(session, user_id, project_id)
        invitation = await InvitationRepository(session).load(project_id, invitation_id)
        if invitation is None:
            raise InvitationNotFound()
        if invitation.accepted_at is not None:
            raise InvitationAccepted()
        if invitation.revoked_at is None:
            invitation.revoked_at = utcnow()
            await session.flush()

    async def accept(self, session: AsyncSession, user_id: uuid.UUID, token: str) -> ProjectOut:
        """Join the project with the invitation's role (a member already keeps their role);
        the project as the new member sees it."""
        repository = InvitationRepository(session)
        invitation = await repository.by_token(token_digest(token))
        if invitation is None:
            raise InvitationNotFound()
        now = utcnow()
        _refuse_closed(invitation, now)
        if not await repository.claim(invitation.id, user_id, now):
            await session.refresh(invitation)  # someone else accepted or revoked it meanwhile
            _refuse_closed(invitation, now)
            raise InvitationAccepted()
        projects = ProjectRepository(session)
        if not await projects.is_member(invitation.project_id, user_id):
            try:
                async with session.begin_nested():
                    session.add(
                        ProjectMember(
                            project_id=invitation.project_id, user_id=user_id, role=invitation.role
                        )
                    )
                    await session.flush()
            except IntegrityError:  # added by username at the same moment: a member either way
                pass
        return await project_service.get(session, user_id, invitation.project_id)

    # --- the machinery --------------------------------------------------------------------

    async def _owned(
        self, session: AsyncSession, user_id: uuid.UUID, project_id: uuid.UUID
    ) -> Project:
        project, role = await project_service.access(session, user_id, project_id, lock=True)
        require_owner(role)
        if project.is_inbox:
            raise InboxIsPersonal()
        return project

    async def _load_open(
        self, session: AsyncSession, project_id: uuid.UUID, invitation_id: uuid.UUID
    ) -> ProjectInvitation:
        invitation = await InvitationRepository(session).load(project_id, invitation_id)
        if invitation is None:
            raise InvitationNotFound()
        if invitation.accepted_at is not None:
            raise InvitationAccepted()
        if invitation.revoked_at is not None:
            raise InvitationRevoked()
        return invitation

    async def _read(
        self,
        session: AsyncSession,
        project_id: uuid.UUID,
        invitation_id: uuid.UUID,
        now: datetime,
    ) -> schemas.Invitation:
        found = await InvitationRepository(session).read(project_id, invitation_id, now)
        if found is None:
            raise InvitationNotFound()
        return found

    async def _mail(
        self,
        session: AsyncSession,
        settings: Settings,
        user_id: uuid.UUID,
        project: Project,
        invitation: ProjectInvitation,
        token: str,
    ) -> None:
        """The same mail whether or not the address has an account (it is never looked up)."""
        await send_mail(
            session,
            to=invitation.email,
            template="todo/invitation",
            context={
                "inviter": await ProjectRepository(session).username_of(user_id),
                "project": project.name,
                "role": invitation.role,
                "link": invitation_link(settings, token),
                "days": INVITATION_TTL.days,
            },
        )


def _refuse_closed(invitation: ProjectInvitation, now: datetime) -> None:
    if invitation.accepted_at is not None:
        raise InvitationAccepted()
    if invitation.revoked_at is not None:
        raise InvitationRevoked()
    if invitation.expires_at <= now:
        raise InvitationExpired()


invitation_service = InvitationService()
