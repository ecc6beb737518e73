"""Password recovery: "forgot my password" and the reset link.

Asking for a reset must not reveal whether an address has an account, by the answer or by its
timing. Here the request does exactly the same work for every address: it counts the request
against the throttles and enqueues one job, in one statement, without even looking the account
up. The job, in the background, finds the account (if any) and mails it a link. So the 202 is
identical in body, status and work; there is nothing for a stopwatch to measure.

Using the link first reads the token and its account in a short transaction of its own (an
unknown or spent token costs no hash), hashes the new password with no connection held
(``service/passwords.py``), and only then uses the token up in the request's transaction: of
two concurrent uses of one link, one wins and the other is refused. It sets the new password,
ends every session of the account (whoever had a session, perhaps the reason for the reset, is
out), clears the failed-login lockout, retires every other reset link and tells the owner by
mail.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from mainspring.accounts.errors import InvalidLink
from mainspring.accounts.repository import AccountTokenRepository, UserRepository
from mainspring.accounts.service.audit import EventKind, audit_service
from mainspring.accounts.service.context import AccountsContext, Client
from mainspring.accounts.service.links import Purpose, notify, send_password_reset
from mainspring.accounts.service.login import clear_account
from mainspring.accounts.service.passwords import hash_new_password
from mainspring.accounts.service.sessions import session_service
from mainspring.core.background import enqueue
from mainspring.core.config import Settings
from mainspring.core.db import utcnow
from mainspring.core.security import token_digest

SEND_RESET_TASK = "accounts.send_password_reset"


class RecoveryService:
    async def request_reset(self, session: AsyncSession, ctx: AccountsContext, email: str) -> None:
        """Ask for a reset link for ``email`` (throttled; the job decides)."""
        settings = ctx.settings
        await ctx.limiter.hit(
            settings.account_mail_limit_per_ip, "reset-mail-ip", ctx.client.ip or ""
        )
        await ctx.limiter.hit(settings.account_mail_limit_per_address, "reset-mail", email)
        await enqueue(session, SEND_RESET_TASK, {"email": email})

    async def send_reset_to(self, session: AsyncSession, settings: Settings, email: str) -> None:
        """The job behind ``request_reset``: mail a link if an active account has ``email``."""
        user = await UserRepository(session).by_email(email)
        if user is None or not user.is_active:
            return
        await send_password_reset(session, settings, user)
        await audit_service.record(
            session, EventKind.PASSWORD_RESET_REQUESTED, Client(), user_id=user.id
        )

    async def reset(
        self, session: AsyncSession, ctx: AccountsContext, token: str, new_password: str
    ) -> None:
        """Use a reset link to set a new password (see the module docstring)."""
        now, digest = utcnow(), token_digest(token)
        async with ctx.database.read_session(fresh=True) as reader:
            link = await AccountTokenRepository(reader).peek(digest, Purpose.RESET.value, now)
            account = await UserRepository(reader).get_or_none(link[0]) if link else None
        if link is None or account is None or not account.is_active or account.email != link[1]:
            raise InvalidLink()
        password_hash = await hash_new_password(
            ctx.hasher,
            new_password,
            username=account.username,
            email=account.email,
            field="body.new_password",
        )
        tokens = AccountTokenRepository(session)
        found = await tokens.consume(digest, Purpose.RESET.value, now)
        user = await UserRepository(session).get_or_none(found[0]) if found else None
        if found is None or user is None or not user.is_active or user.email != found[1]:
            raise InvalidLink()
        user.password_hash = password_hash
        user.password_changed_at = now
        if user.email_verified_at is None:
            user.email_verified_at = now  # the link proved the mailbox
        await tokens.retire(user.id, [Purpose.RESET.value], now)
        await session_service.revoke_user(session, ctx, user.id, reason="password_reset")
        await clear_account(ctx, user)
        await notify(session, ctx.settings, user, "password_changed")
        await audit_service.record(session, EventKind.PASSWORD_RESET, ctx.client, user_id=user.id)


recovery_service = RecoveryService()
