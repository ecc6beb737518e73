"""Sign-in through identity providers: the links between provider accounts and local ones,
and the attempts in flight. Each step of an attempt is taken by one conditional ``UPDATE``, so
of two requests replaying a state or a ticket at once, one wins."""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import ClassVar

from sqlalchemy import ColumnElement, delete, or_, select, update
from sqlalchemy.engine import CursorResult

from mainspring.accounts.models import IdentityLink, OidcLogin
from mainspring.accounts.schemas import IdentityView
from mainspring.core.repository import RepositoryBase


class IdentityLinkRepository(RepositoryBase[IdentityLink]):
    """Accounts at identity providers, linked to local accounts."""

    model: ClassVar[type[IdentityLink]] = IdentityLink
    not_found = "No such identity."

    async def find(self, provider: str, subject: str) -> IdentityLink | None:
        link: IdentityLink | None = await self.session.scalar(
            select(IdentityLink).where(
                IdentityLink.provider == provider, IdentityLink.subject == subject
            )
        )
        return link

    async def of_user(self, user_id: uuid.UUID) -> builtins.list[IdentityLink]:
        """A user's links, oldest first (at most one per configured provider)."""
        return await self.list(
            IdentityLink.user_id == user_id,
            order_by=[IdentityLink.created_at, IdentityLink.id],
        )

    async def views_of(
        self, user_id: uuid.UUID, display_name: Callable[[str], str]
    ) -> builtins.list[IdentityView]:
        """A user's links as they see them, oldest first; ``display_name(provider)`` names each
        provider as configured (configuration, not a column)."""
        rows = await self.session.execute(
            select(
                IdentityLink.id,
                IdentityLink.provider,
                IdentityLink.email,
                IdentityLink.created_at,
                IdentityLink.last_login_at,
            )
            .where(IdentityLink.user_id == user_id)
            .order_by(IdentityLink.created_at, IdentityLink.id)
        )
        return [
            IdentityView.model_validate(
                {
                    "id": row.id,
                    "provider": row.provider,
                    "display_name": display_name(row.provider),
                    "email": row.email,
                    "created_at": row.created_at,
                    "last_login_at": row.last_login_at,
                }
            )
            for row in rows
        ]

    async def delete_of_user(self, user_id: uuid.UUID) -> None:
        await self.session.execute(delete(IdentityLink).where(IdentityLink.user_id == user_id))


class OidcLoginRepository(RepositoryBase[OidcLogin]):
    """Sign-in attempts through identity providers. Each step is taken by one conditional
    ``UPDATE``, so of two requests replaying a state or a ticket at once, one wins."""

    model: ClassVar[type[OidcLogin]] = OidcLogin

    async def by_state(self, digest: str) -> OidcLogin | None:
        login: OidcLogin | None = await self.session.scalar(
            select(OidcLogin).where(OidcLogin.state_hash == digest)
        )
        return login

    async def by_ticket(self, digest: str) -> OidcLogin | None:
        login: OidcLogin | None = await self.session.scalar(
            select(OidcLogin).where(OidcLogin.ticket_hash == digest)
        )
        return login

    async def _step(
        self, login_id: uuid.UUID, *where: ColumnElement[bool], **values: object
    ) -> bool:
        result: CursorResult[tuple[()]] = await self.session.execute(  # type: ignore[assignment]
            update(OidcLogin)
            .where(OidcLogin.id == login_id, *where)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1

    async def complete(self, login_id: uuid.UUID, now: datetime) -> bool:
        """Use up the attempt's state; False when it already was."""
        return await self._step(login_id, OidcLogin.completed_at.is_(None), completed_at=now)

    async def issue_ticket(
        self, login_id: uuid.UUID, user_id: uuid.UUID, digest: str, expires_at: datetime
    ) -> None:
        """Record who signed in and the digest of the ticket handed to the browser."""
        await self._step(login_id, user_id=user_id, ticket_hash=digest, expires_at=expires_at)

    async def exchange(self, login_id: uuid.UUID, now: datetime) -> bool:
        """Use up the ticket; False when it already was, or has expired."""
        return await self._step(
            login_id,
            OidcLogin.exchanged_at.is_(None),
            OidcLogin.expires_at > now,
            exchanged_at=now,
        )

    async def purge(self, *, expired_before: datetime) -> None:
        await self.session.execute(delete(OidcLogin).where(OidcLogin.expires_at < expired_before))

    async def delete_of_user(self, user_id: uuid.UUID) -> None:
        await self.session.execute(
            delete(OidcLogin).where(
                or_(OidcLogin.user_id == user_id, OidcLogin.link_user_id == user_id)
            )
        )
