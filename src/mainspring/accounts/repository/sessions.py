"""Sessions (one sign-in on one device) and their refresh tokens.

Revocations ``UPDATE ... RETURNING`` the session ids they ended, so the session-state cache can
be told about exactly those sessions. Using a refresh token is one conditional ``UPDATE ...
WHERE used_at IS NULL``: of two requests presenting the same token at once, exactly one sees
its row updated (on PostgreSQL the second waits for the first's row lock, then finds the
condition false; SQLite serialises writers).
"""

from __future__ import annotations

import builtins
import uuid
from datetime import datetime, timedelta
from typing import Any, ClassVar

from sqlalchemy import ColumnElement, Select, and_, delete, or_, select, update
from sqlalchemy.engine import CursorResult

from mainspring.accounts.models import AuthSession, RefreshToken, User
from mainspring.accounts.schemas import SessionView
from mainspring.core.pagination import CursorSlice, SortKey, keyset_page
from mainspring.core.repository import RepositoryBase


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

    async def page_of(
        self, listing: CursorSlice, user_id: uuid.UUID, *, current: uuid.UUID, now: datetime
    ) -> tuple[builtins.list[SessionView], str | None]:
        """A user's live sessions, newest first, ``current`` marking the caller's: one
        statement whatever the slice's size."""
        columns: tuple[Any, ...] = (
            AuthSession.id,
            AuthSession.created_at,
            AuthSession.last_used_at,
            AuthSession.expires_at,
            AuthSession.ip,
            AuthSession.user_agent,
            (AuthSession.id == current).label("current"),
        )
        stmt = select(*columns).where(AuthSession.user_id == user_id, self.live(now))
        keys = [SortKey(AuthSession.created_at), SortKey(AuthSession.id)]
        rows, next_cursor = await keyset_page(self.session, stmt, keys, listing, scalars=False)
        return [SessionView.model_validate(row, from_attributes=True) for row in rows], next_cursor

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
