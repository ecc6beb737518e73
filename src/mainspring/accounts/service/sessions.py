"""Sessions: starting one (tokens), refreshing it (rotation with reuse detection), ending it.

A session is born when a user signs in. It gets a short-lived access JWT (``sid`` names the
session) and an opaque refresh token. Each refresh *uses up* the presented refresh token and
issues a new one in the same session (rotation), so a refresh token works once:

* presenting a used token again means two parties hold it, the user and a thief. Which one is
  which cannot be known, so the whole session is revoked and a ``refresh_token_reused`` event
  recorded (OAuth 2.0 Security BCP, section 4.14);
* two requests presenting the same token at once are decided by the database: one conditional
  ``UPDATE`` wins, the other is treated as a reuse;
* a session ends after its absolute lifetime, when unused for its idle lifetime, when revoked,
  and when its user is disabled.

Browser clients may keep the refresh token in an HttpOnly cookie instead (see the router). Such a
refresh needs a CSRF token, ``HMAC(secret, session id)``: a page of another site can make the
browser send the cookie, but cannot read the CSRF token to send alongside it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession

from mainspring.accounts.errors import CsrfRejected, InvalidRefreshToken
from mainspring.accounts.models import AuthSession, RefreshToken, User
from mainspring.accounts.repository import RefreshTokenRepository, SessionRepository
from mainspring.accounts.schemas import SessionView
from mainspring.accounts.service.audit import EventKind, audit_service
from mainspring.accounts.service.context import AccountsContext
from mainspring.core.auth import Principal
from mainspring.core.config import Settings
from mainspring.core.db import utcnow
from mainspring.core.errors import NotFound
from mainspring.core.pagination import CursorSlice
from mainspring.core.security import new_token, token_digest


@dataclass(frozen=True)
class IssuedTokens:
    """What a sign-in or a refresh hands out."""

    access_token: str
    refresh_token: str
    expires_in: int
    session_id: uuid.UUID
    session_expires_at: datetime
    csrf_token: str


def csrf_token(settings: Settings, session_id: uuid.UUID) -> str:
    """The CSRF token of a session: an HMAC of its id under the secret key."""
    key = hashlib.sha256(b"mainspring-csrf:" + settings.secret_key.get_secret_value().encode())
    mac = hmac.new(key.digest(), session_id.bytes, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


class SessionService:
    async def start(
        self,
        session: AsyncSession,
        ctx: AccountsContext,
        user: User,
        *,
        methods: Sequence[str] = ("pwd",),
    ) -> IssuedTokens:
        """Open a session for an authenticated ``user`` and issue its first tokens.

        This is the single door to a session: the password login calls it once the password is
        checked, and any other way of authenticating (a second factor, an identity provider)
        calls it once its own proof is checked, passing its RFC 8176 ``methods``.
        """
        now = utcnow()
        auth_session = AuthSession(
            user_id=user.id,
            methods=" ".join(methods),
            ip=ctx.client.ip,
            user_agent=ctx.client.user_agent,
            created_at=now,
            last_used_at=now,
            expires_at=now + timedelta(seconds=ctx.settings.refresh_token_ttl_seconds),
        )
        await SessionRepository(session).add(auth_session)
        user.last_login_at = now
        await audit_service.record(
            session,
            EventKind.LOGIN_SUCCEEDED,
            ctx.client,
            user_id=user.id,
            session_id=auth_session.id,
            methods=list(methods),
        )
        return await self._issue(session, ctx, auth_session)

    async def refresh(
        self,
        session: AsyncSession,
        ctx: AccountsContext,
        raw_token: str,
        *,
        csrf: str | None = None,
        from_cookie: bool = False,
    ) -> IssuedTokens:
        """Exchange a refresh token for new tokens (see the module docstring)."""
        found = await RefreshTokenRepository(session).find(token_digest(raw_token))
        if found is None:
            raise InvalidRefreshToken()
        token, auth_session, user = found
        if from_cookie and not (
            csrf
            and hmac.compare_digest(
                csrf.encode(), csrf_token(ctx.settings, auth_session.id).encode()
            )
        ):
            raise CsrfRejected()
        now = utcnow()
        idle_until = auth_session.last_used_at + timedelta(
            seconds=ctx.settings.refresh_token_idle_seconds
        )
        if (
            auth_session.revoked_at is not None
            or auth_session.expires_at <= now
            or idle_until <= now
            or not user.is_active
        ):
            raise InvalidRefreshToken()
        if token.used_at is not None or not await RefreshTokenRepository(session).use(
            token.id, now
        ):
            self._revoke_for_reuse(ctx, auth_session)
            raise InvalidRefreshToken()
        auth_session.last_used_at = now
        auth_session.ip = ctx.client.ip
        auth_session.user_agent = ctx.client.user_agent
        return await self._issue(session, ctx, auth_session)

    def _revoke_for_reuse(self, ctx: AccountsContext, auth_session: AuthSession) -> None:
        """Revoke the family of a reused token, in a transaction that outlives this request's
        rollback, and log it."""
        session_id, user_id = auth_session.id, auth_session.user_id

        async def revoke(session: AsyncSession) -> None:
            ended = await SessionRepository(session).revoke(
                AuthSession.id == session_id, now=utcnow(), reason="refresh_token_reused"
            )
            await ctx.states.revoked(ended)

        ctx.aftermath.add(revoke)
        audit_service.record_anyway(
            ctx, EventKind.REFRESH_TOKEN_REUSED, user_id=user_id, session_id=session_id
        )

    async def _issue(
        self, session: AsyncSession, ctx: AccountsContext, auth_session: AuthSession
    ) -> IssuedTokens:
        raw = new_token()
        await RefreshTokenRepository(session).add(
            RefreshToken(session_id=auth_session.id, token_hash=token_digest(raw))
        )
        ttl = ctx.settings.access_token_ttl_seconds
        access = ctx.keyring.issue(
            subject=auth_session.user_id,
            session_id=auth_session.id,
            ttl=timedelta(seconds=ttl),
            methods=auth_session.methods.split(),
        )
        return IssuedTokens(
            access_token=access,
            refresh_token=raw,
            expires_in=ttl,
            session_id=auth_session.id,
            session_expires_at=auth_session.expires_at,
            csrf_token=csrf_token(ctx.settings, auth_session.id),
        )

    async def logout(self, session: AsyncSession, ctx: AccountsContext, me: Principal) -> None:
        """End the session the request is made from."""
        await self.revoke_where(session, ctx, AuthSession.id == me.session_id, reason="logout")
        await audit_service.record(
            session, EventKind.LOGOUT, ctx.client, user_id=me.user_id, session_id=me.session_id
        )

    async def page(
        self, session: AsyncSession, listing: CursorSlice, me: Principal
    ) -> tuple[list[SessionView], str | None]:
        """My live sessions, newest first, the one of this request marked ``current``."""
        return await SessionRepository(session).page_of(
            listing, me.user_id, current=me.session_id, now=utcnow()
        )

    async def revoke_one(
        self, session: AsyncSession, ctx: AccountsContext, me: Principal, session_id: uuid.UUID
    ) -> None:
        """End one of my sessions (404 for a session that is not mine or already ended)."""
        if await SessionRepository(session).live_of_user(session_id, me.user_id, utcnow()) is None:
            raise NotFound("No such session.")
        await self.revoke_where(session, ctx, AuthSession.id == session_id, reason="revoked")
        await audit_service.record(
            session,
            EventKind.SESSION_REVOKED,
            ctx.client,
            user_id=me.user_id,
            session_id=session_id,
        )

    async def revoke_others(
        self, session: AsyncSession, ctx: AccountsContext, me: Principal
    ) -> None:
        """End every session of mine except the one the request is made from."""
        ended = await self.revoke_where(
            session,
            ctx,
            AuthSession.user_id == me.user_id,
            AuthSession.id != me.session_id,
            reason="revoked",
        )
        await audit_service.record(
            session,
            EventKind.OTHER_SESSIONS_REVOKED,
            ctx.client,
            user_id=me.user_id,
            session_id=me.session_id,
            sessions=len(ended),
        )

    async def revoke_user(
        self,
        session: AsyncSession,
        ctx: AccountsContext,
        user_id: uuid.UUID,
        *,
        reason: str,
        keep: uuid.UUID | None = None,
    ) -> list[uuid.UUID]:
        """End every session of a user (but ``keep``, when given)."""
        where = [AuthSession.user_id == user_id]
        if keep is not None:
            where.append(AuthSession.id != keep)
        return await self.revoke_where(session, ctx, *where, reason=reason)

    async def revoke_where(
        self,
        session: AsyncSession,
        ctx: AccountsContext,
        *where: ColumnElement[bool],
        reason: str,
    ) -> list[uuid.UUID]:
        """Revoke the sessions matching ``where`` in the database and in the state cache."""
        ended = await SessionRepository(session).revoke(*where, now=utcnow(), reason=reason)
        await ctx.states.revoked(ended)
        return ended


session_service = SessionService()
