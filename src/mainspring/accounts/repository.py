"""Every query of the accounts module.

Two kinds of statement deserve a note:

* *Consuming* a one-time or refresh token is a single conditional ``UPDATE ... WHERE used_at IS
  NULL``. The database decides who wins: of two requests presenting the same token at once,
  exactly one sees its row updated (on PostgreSQL the second waits for the first's row lock,
  then finds the condition false; SQLite serialises writers). No read-then-write race is left.
* Revocations ``UPDATE ... RETURNING`` the session ids they ended, so the session-state cache
  can be told about exactly those sessions.
"""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import ClassVar

from sqlalchemy import ColumnElement, Select, and_, delete, func, or_, select, update
from sqlalchemy.engine import CursorResult

from mainspring.accounts.models import (
    AccountToken,
    AuthSession,
    IdentityLink,
    OidcLogin,
    RecoveryCode,
    RefreshToken,
    SecurityEvent,
    TotpCredential,
    User,
)
from mainspring.core.auth import Role
from mainspring.core.pagination import PageParams, offset_page
from mainspring.core.repository import RepositoryBase


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class UserRepository(RepositoryBase[User]):
    model: ClassVar[type[User]] = User
    not_found = "No such user."

    async def by_email(self, email: str) -> User | None:
        user: User | None = await self.session.scalar(select(User).where(User.email == email))
        return user

    async def by_username(self, username: str) -> User | None:
        user: User | None = await self.session.scalar(
            select(User).where(User.username_key == username.lower())
        )
        return user

    async def by_identifier(self, identifier: str) -> User | None:
        """An email address (it has an ``@``) or a username, already normalised."""
        if "@" in identifier:
            return await self.by_email(identifier)
        return await self.by_username(identifier)

    async def username_taken(self, username: str) -> bool:
        found = await self.session.scalar(
            select(User.id).where(User.username_key == username.lower())
        )
        return found is not None

    async def email_taken(self, email: str) -> bool:
        found = await self.session.scalar(select(User.id).where(User.email == email))
        return found is not None

    async def search(
        self, params: PageParams, *, query: str | None, role: Role | None
    ) -> tuple[builtins.list[User], int]:
        """One page of users, newest first, filtered by role and by a prefix of the username or
        email, and the number of matches."""
        stmt = select(User).where(User.deleted_at.is_(None))
        if role is not None:
            stmt = stmt.where(User.role == role.value)
        if query:
            prefix = _escape_like(query.lower()) + "%"
            stmt = stmt.where(
                or_(
                    User.username_key.like(prefix, escape="\\"),
                    User.email.like(prefix, escape="\\"),
                )
            )
        return await offset_page(
            self.session, stmt.order_by(User.created_at.desc(), User.id.desc()), params
        )

    async def lock_active_admins(self) -> builtins.list[uuid.UUID]:
        """The ids of the enabled admins, locked until the transaction ends (PostgreSQL
        ``FOR UPDATE``; SQLite already serialises writers). Two admins demoting each other at
        once are thereby serialised, and the second sees the first's change."""
        rows = await self.session.scalars(
            select(User.id)
            .where(
                User.role == Role.ADMIN.value,
                User.disabled_at.is_(None),
                User.deleted_at.is_(None),
            )
            .with_for_update()
        )
        return list(rows.all())


class SessionRepository(RepositoryBase[AuthSession]):
    model: ClassVar[type[AuthSession]] = AuthSession
    not_found = "No such session."

    @staticmethod
    def live(now: datetime) -> ColumnElement[bool]:
        """Sessions not revoked and within their absolute lifetime."""
        return and_(AuthSession.revoked_at.is_(None), AuthSession.expires_at > now)

    def of_user(self, user_id: uuid.UUID, now: datetime) -> Select[AuthSession]:
        return select(AuthSession).where(AuthSession.user_id == user_id, self.live(now))

    async def live_of_user(
        self, session_id: uuid.UUID, user_id: uuid.UUID, now: datetime
    ) -> AuthSession | None:
        found: AuthSession | None = await self.session.scalar(
            self.of_user(user_id, now).where(AuthSession.id == session_id)
        )
        return found

    async def state(self, session_id: uuid.UUID) -> tuple[AuthSession, User] | None:
        """A session and its user, for the session-state check (one statement)."""
        row = (
            await self.session.execute(
                select(AuthSession, User)
                .join(User, User.id == AuthSession.user_id)
                .where(AuthSession.id == session_id)
            )
        ).first()
        return (row[0], row[1]) if row else None

    async def revoke(
        self,
        *where: ColumnElement[bool],
        now: datetime,
        reason: str,
    ) -> builtins.list[uuid.UUID]:
        """End the live sessions matching ``where``; return their ids."""
        result = await self.session.execute(
            update(AuthSession)
            .where(AuthSession.revoked_at.is_(None), *where)
            .values(revoked_at=now, revoked_reason=reason)
            .returning(AuthSession.id)
            .execution_options(synchronize_session=False)
        )
        return list(result.scalars().all())

    async def purge(self, *, ended_before: datetime, idle: timedelta) -> None:
        """Delete the sessions (and their refresh tokens) that ended before ``ended_before``:
        revoked, past their absolute lifetime, or idle for longer than ``idle``."""
        await self.session.execute(
            delete(AuthSession).where(
                or_(
                    AuthSession.revoked_at < ended_before,
                    AuthSession.expires_at < ended_before,
                    AuthSession.last_used_at < ended_before - idle,
                )
            )
        )

    async def delete_of_user(self, user_id: uuid.UUID) -> None:
        """Delete a user's sessions (and, by the foreign key's cascade, their refresh tokens)."""
        await self.session.execute(delete(AuthSession).where(AuthSession.user_id == user_id))


class RefreshTokenRepository(RepositoryBase[RefreshToken]):
    model: ClassVar[type[RefreshToken]] = RefreshToken

    async def find(self, digest: str) -> tuple[RefreshToken, AuthSession, User] | None:
        """A refresh token by digest, with its session and user (one statement)."""
        row = (
            await self.session.execute(
                select(RefreshToken, AuthSession, User)
                .join(AuthSession, AuthSession.id == RefreshToken.session_id)
                .join(User, User.id == AuthSession.user_id)
                .where(RefreshToken.token_hash == digest)
            )
        ).first()
        return (row[0], row[1], row[2]) if row else None

    async def use(self, token_id: uuid.UUID, now: datetime) -> bool:
        """Mark a token used; False when it already was (another request won the race)."""
        result: CursorResult[tuple[()]] = await self.session.execute(  # type: ignore[assignment]
            update(RefreshToken)
            .where(RefreshToken.id == token_id, RefreshToken.used_at.is_(None))
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1


class AccountTokenRepository(RepositoryBase[AccountToken]):
    model: ClassVar[type[AccountToken]] = AccountToken

    async def consume(
        self, digest: str, purpose: str, now: datetime
    ) -> tuple[uuid.UUID, str] | None:
        """Use up a live token: ``(user_id, email)``, or None when it is unknown, expired or
        already used. One statement: of two concurrent uses, one wins."""
        row = (
            await self.session.execute(
                update(AccountToken)
                .where(
                    AccountToken.token_hash == digest,
                    AccountToken.purpose == purpose,
                    AccountToken.used_at.is_(None),
                    AccountToken.expires_at > now,
                )
                .values(used_at=now)
                .returning(AccountToken.user_id, AccountToken.email)
                .execution_options(synchronize_session=False)
            )
        ).first()
        return (row[0], row[1]) if row else None

    async def purge(self, *, ended_before: datetime) -> None:
        """Delete the tokens used or expired before ``ended_before``."""
        await self.session.execute(
            delete(AccountToken).where(
                or_(AccountToken.used_at < ended_before, AccountToken.expires_at < ended_before)
            )
        )

    async def delete_of_user(self, user_id: uuid.UUID) -> None:
        await self.session.execute(delete(AccountToken).where(AccountToken.user_id == user_id))

    async def retire(self, user_id: uuid.UUID, purposes: Sequence[str], now: datetime) -> None:
        """Use up every live token of these purposes: only the newest link ever works."""
        await self.session.execute(
            update(AccountToken)
            .where(
                AccountToken.user_id == user_id,
                AccountToken.purpose.in_(purposes),
                AccountToken.used_at.is_(None),
            )
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )


class SecurityEventRepository(RepositoryBase[SecurityEvent]):
    model: ClassVar[type[SecurityEvent]] = SecurityEvent

    def filtered(
        self, *, user_id: uuid.UUID | None = None, kind: str | None = None
    ) -> Select[SecurityEvent]:
        stmt = select(SecurityEvent)
        if user_id is not None:
            stmt = stmt.where(SecurityEvent.user_id == user_id)
        if kind is not None:
            stmt = stmt.where(SecurityEvent.kind == kind)
        return stmt

    async def forget_client(self, user_id: uuid.UUID) -> None:
        """Erase the addresses and browsers recorded for a user (account deletion)."""
        await self.session.execute(
            update(SecurityEvent)
            .where(SecurityEvent.user_id == user_id)
            .values(ip=None, user_agent=None)
            .execution_options(synchronize_session=False)
        )


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


class TotpCredentialRepository(RepositoryBase[TotpCredential]):
    """A user's authenticator (the primary key is the user id: at most one each)."""

    model: ClassVar[type[TotpCredential]] = TotpCredential

    async def confirmed_of(self, user_id: uuid.UUID) -> TotpCredential | None:
        """The user's credential when it is confirmed, the one sign-in asks for."""
        found: TotpCredential | None = await self.session.scalar(
            select(TotpCredential).where(
                TotpCredential.user_id == user_id, TotpCredential.confirmed_at.is_not(None)
            )
        )
        return found

    async def enabled_since(self, user_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, datetime]:
        """When each of these users confirmed their authenticator (users without one are left
        out): one statement for a whole page of users."""
        rows = await self.session.execute(
            select(TotpCredential.user_id, TotpCredential.confirmed_at).where(
                TotpCredential.user_id.in_(user_ids), TotpCredential.confirmed_at.is_not(None)
            )
        )
        return {user_id: confirmed_at for user_id, confirmed_at in rows.tuples() if confirmed_at}

    async def accept(
        self, user_id: uuid.UUID, *, step: int | None, answered: int | None = None
    ) -> bool:
        """Record an accepted code of time ``step`` (None for a recovery code) and, at sign-in,
        spend the challenge issued at ``answered``: one conditional ``UPDATE``. False when the
        step is not newer than the last accepted one (a replay) or the challenge was already
        answered; of two concurrent requests, one wins."""
        stmt = update(TotpCredential).where(
            TotpCredential.user_id == user_id, TotpCredential.confirmed_at.is_not(None)
        )
        if step is not None:
            stmt = stmt.where(
                or_(TotpCredential.last_used_step.is_(None), TotpCredential.last_used_step < step)
            ).values(last_used_step=step)
        if answered is not None:
            stmt = stmt.where(TotpCredential.answered_challenges == answered).values(
                answered_challenges=answered + 1
            )
        result: CursorResult[tuple[()]] = await self.session.execute(  # type: ignore[assignment]
            stmt.execution_options(synchronize_session=False)
        )
        return result.rowcount == 1

    async def confirm(self, user_id: uuid.UUID, *, step: int, now: datetime) -> bool:
        """Enable a pending credential with the step of its first code; False when it is not
        pending (any more: of two concurrent confirmations, one wins)."""
        result: CursorResult[tuple[()]] = await self.session.execute(  # type: ignore[assignment]
            update(TotpCredential)
            .where(TotpCredential.user_id == user_id, TotpCredential.confirmed_at.is_(None))
            .values(confirmed_at=now, last_used_step=step)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1

    async def delete_of_user(self, user_id: uuid.UUID) -> bool:
        """Delete the user's credential; False when there was none."""
        result: CursorResult[tuple[()]] = await self.session.execute(  # type: ignore[assignment]
            delete(TotpCredential).where(TotpCredential.user_id == user_id)
        )
        return result.rowcount == 1


class RecoveryCodeRepository(RepositoryBase[RecoveryCode]):
    model: ClassVar[type[RecoveryCode]] = RecoveryCode

    async def use(self, user_id: uuid.UUID, digest: str, now: datetime) -> bool:
        """Spend an unused code of the user by digest; False when there is none. One
        conditional ``UPDATE``: of two concurrent uses of one code, one wins."""
        result: CursorResult[tuple[()]] = await self.session.execute(  # type: ignore[assignment]
            update(RecoveryCode)
            .where(
                RecoveryCode.user_id == user_id,
                RecoveryCode.code_hash == digest,
                RecoveryCode.used_at.is_(None),
            )
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1

    async def remaining(self, user_id: uuid.UUID) -> int:
        """How many unused codes the user has left."""
        count = await self.session.scalar(
            select(func.count())
            .select_from(RecoveryCode)
            .where(RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None))
        )
        return int(count or 0)

    async def replace(self, user_id: uuid.UUID, digests: Sequence[str]) -> None:
        """Retire every code of the user and store these instead."""
        await self.delete_of_user(user_id)
        self.session.add_all(RecoveryCode(user_id=user_id, code_hash=d) for d in digests)
        await self.session.flush()

    async def delete_of_user(self, user_id: uuid.UUID) -> None:
        await self.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
