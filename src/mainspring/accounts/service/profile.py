"""My account: profile, password, email address, deletion.

Changes that an attacker holding a stolen access token would want (password, email, deletion)
ask for the current password again. Wrong answers count against the account's failed-login
limit, so a stolen token cannot be used to guess the password either. The password is checked,
and a new one hashed, before the request's transaction runs a statement, so that no connection
(on SQLite, no write lock) is held through the hash; the transaction then reads the account
and refuses a password changed meanwhile (``service/passwords.py``). So these handlers take the
caller's ``CurrentPrincipal``, not ``CurrentUser`` (whose row the request's transaction reads
first), and the service reads the account when the check is done.

An email change takes effect only when the new address proves itself through a link; the old
address is then told. Deleting an account anonymises it instead of removing the row: what other
modules reference (articles, posts) stays consistent, while everything personal (email, names,
password hash, sessions with their addresses and browsers, one-time tokens, the second factor's
secret and recovery codes, its links to identity providers, the addresses in its security
events) is erased.
"""

from __future__ import annotations

import uuid
from typing import NoReturn

from sqlalchemy.ext.asyncio import AsyncSession

from mainspring.accounts.errors import EmailTaken, InvalidLink, WrongPassword
from mainspring.accounts.models import User
from mainspring.accounts.repository import (
    AccountTokenRepository,
    IdentityLinkRepository,
    OidcLoginRepository,
    RecoveryCodeRepository,
    SecurityEventRepository,
    SessionRepository,
    TotpCredentialRepository,
    UserRepository,
)
from mainspring.accounts.schemas import Me, ProfileUpdate
from mainspring.accounts.service.admin import admin_service
from mainspring.accounts.service.audit import EventKind, audit_service
from mainspring.accounts.service.context import AccountsContext, Client
from mainspring.accounts.service.links import Purpose, notify, send_email_change
from mainspring.accounts.service.login import check_account, hit_account
from mainspring.accounts.service.passwords import (
    PasswordCheck,
    hash_new_password,
    read_account,
    verify_password,
)
from mainspring.accounts.service.registration import DELETED_PREFIX
from mainspring.accounts.service.sessions import session_service
from mainspring.core.auth import Principal
from mainspring.core.background import enqueue
from mainspring.core.config import Settings
from mainspring.core.db import utcnow
from mainspring.core.errors import Unauthorized, UnprocessableEntity
from mainspring.core.security import token_digest

SEND_EMAIL_CHANGE_TASK = "accounts.send_email_change"


def mask_email(email: str) -> str:
    """``ada@example.com`` -> ``a**@example.com``: enough for the owner to recognise it."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}{'*' * max(len(local) - 1, 2)}@{domain}"


class ProfileService:
    async def me(self, session: AsyncSession, user_id: uuid.UUID) -> Me:
        """My account (401 when it has been disabled or deleted meanwhile)."""
        me = await UserRepository(session).me(user_id)
        if me is None:
            raise Unauthorized("The account is no longer active.")
        return me

    async def update(self, session: AsyncSession, user: User, data: ProfileUpdate) -> Me:
        """Merge ``data`` into my profile; answers what ``GET /users/me`` shows."""
        user.display_name = data.display_name
        await session.flush()
        return await self.me(session, user.id)

    async def account(self, session: AsyncSession, user_id: uuid.UUID) -> User:
        """The caller's ``User`` row, read in ``session`` (401 if gone or no longer active)."""
        user = await session.get(User, user_id)
        if user is None or not user.is_active:
            raise Unauthorized("The account is no longer active.")
        return user

    async def check_current_password(
        self, ctx: AccountsContext, user_id: uuid.UUID, password: str
    ) -> PasswordCheck:
        """Check the password of a signed-in user with no connection held (module docstring):
        401 when the account is gone, 429 when its failed-login quota is spent, 403 (and a
        counted failure) when the password is wrong."""
        account = await read_account(ctx.database, lambda users: users.get_or_none(user_id))
        if account is None or not account.is_active:
            raise Unauthorized("The account is no longer active.")
        await check_account(ctx, account)
        checked = await verify_password(ctx.hasher, account, password)
        if not checked.valid:
            await self._wrong_password(ctx, account)
        return checked

    async def reauthenticated(
        self,
        session: AsyncSession,
        ctx: AccountsContext,
        user_id: uuid.UUID,
        checked: PasswordCheck,
    ) -> User:
        """The caller's account as the request's transaction reads it, if ``checked`` still
        holds for it; 403 as for a wrong password when it was changed since the check."""
        user = await self.account(session, user_id)
        if not checked.holds_for(user):
            await self._wrong_password(ctx, user)
        return user

    async def reauthenticate(
        self, session: AsyncSession, ctx: AccountsContext, user_id: uuid.UUID, password: str
    ) -> User:
        """``check_current_password``, then ``reauthenticated``: the caller's account, read in
        the request's transaction, once ``password`` has been checked."""
        checked = await self.check_current_password(ctx, user_id, password)
        return await self.reauthenticated(session, ctx, user_id, checked)

    async def _wrong_password(self, ctx: AccountsContext, user: User) -> NoReturn:
        audit_service.record_anyway(ctx, EventKind.REAUTHENTICATION_FAILED, user_id=user.id)
        await hit_account(ctx, user)
        raise WrongPassword()

    async def change_password(
        self,
        session: AsyncSession,
        ctx: AccountsContext,
        me: Principal,
        current_password: str,
        new_password: str,
    ) -> None:
        """Set a new password; every other session ends, this one stays."""
        checked = await self.check_current_password(ctx, me.user_id, current_password)
        account = checked.account
        assert account is not None  # a valid check has its account
        password_hash = await hash_new_password(
            ctx.hasher,
            new_password,
            username=account.username,
            email=account.email,
            field="body.new_password",
        )
        user = await self.reauthenticated(session, ctx, me.user_id, checked)
        user.password_hash = password_hash
        user.password_changed_at = utcnow()
        await session_service.revoke_user(
            session, ctx, user.id, reason="password_changed", keep=me.session_id
        )
        await notify(session, ctx.settings, user, "password_changed")
        await audit_service.record(
            session,
            EventKind.PASSWORD_CHANGED,
            ctx.client,
            user_id=user.id,
            session_id=me.session_id,
        )

    async def request_email_change(
        self,
        session: AsyncSession,
        ctx: AccountsContext,
        user_id: uuid.UUID,
        new_email: str,
        password: str,
    ) -> None:
        """Have a confirmation link mailed to ``new_email``; nothing changes until it is used.

        The request does the same work for every address: it counts the mail against the
        per-address limit and enqueues one job, without looking the address up. The job mails
        the link, or, when the address already has an account, a notice to that address. So a
        signed-in user cannot probe which addresses are registered, by the answer, the
        statements it ran or its time.
        """
        user = await self.reauthenticate(session, ctx, user_id, password)
        if new_email == user.email:
            raise UnprocessableEntity(
                "This is already your address.",
                errors=[{"field": "body.new_email", "message": "unchanged", "type": "value"}],
            )
        limit = ctx.settings.account_mail_limit_per_address
        await ctx.limiter.hit(limit, "email-change-mail", new_email)
        await enqueue(
            session, SEND_EMAIL_CHANGE_TASK, {"user_id": str(user.id), "email": new_email}
        )
        await audit_service.record(
            session, EventKind.EMAIL_CHANGE_REQUESTED, ctx.client, user_id=user.id
        )

    async def send_email_change_to(
        self, session: AsyncSession, settings: Settings, user_id: uuid.UUID, new_email: str
    ) -> None:
        """The job behind ``request_email_change``: the link, or a notice to an address that
        already has an account."""
        users = UserRepository(session)
        user = await users.get_or_none(user_id)
        if user is None or not user.is_active or user.email == new_email:
            return
        if await users.email_taken(new_email):
            await notify(session, settings, user, "email_in_use", to=new_email)
        else:
            await send_email_change(session, settings, user, new_email)

    async def confirm_email_change(
        self, session: AsyncSession, ctx: AccountsContext, token: str
    ) -> None:
        """Use an email-change link: the new address replaces the old one, which is told."""
        now = utcnow()
        tokens = AccountTokenRepository(session)
        found = await tokens.consume(token_digest(token), Purpose.EMAIL.value, now)
        users = UserRepository(session)
        user = await users.get_or_none(found[0]) if found else None
        if found is None or user is None or not user.is_active:
            raise InvalidLink()
        new_email = found[1]
        if await users.email_taken(new_email):
            raise EmailTaken()
        old_email = user.email
        user.email = new_email
        user.email_verified_at = now
        # Links mailed to the old address (a reset link...) must not work any more.
        await tokens.retire(user.id, [purpose.value for purpose in Purpose], now)
        await notify(
            session,
            ctx.settings,
            user,
            "email_changed",
            to=old_email,
            new_email=mask_email(new_email),
        )
        await audit_service.record(session, EventKind.EMAIL_CHANGED, ctx.client, user_id=user.id)

    async def delete(
        self, session: AsyncSession, ctx: AccountsContext, user_id: uuid.UUID, password: str
    ) -> None:
        """Delete my account (anonymise it, see the module docstring)."""
        user = await self.reauthenticate(session, ctx, user_id, password)
        await admin_service.keep_an_admin(session, user)
        await notify(session, ctx.settings, user, "account_deleted")
        await session_service.revoke_user(session, ctx, user.id, reason="account_deleted")
        await SessionRepository(session).delete_of_user(user.id)
        await AccountTokenRepository(session).delete_of_user(user.id)
        await TotpCredentialRepository(session).delete_of_user(user.id)
        await RecoveryCodeRepository(session).delete_of_user(user.id)
        await IdentityLinkRepository(session).delete_of_user(user.id)
        await OidcLoginRepository(session).delete_of_user(user.id)
        await SecurityEventRepository(session).forget_client(user.id)
        now = utcnow()
        anonymous = f"{DELETED_PREFIX}{user.id.hex[:24]}"
        user.email = f"{anonymous}@deleted.invalid"
        user.username = user.username_key = anonymous
        user.display_name = "Deleted user"
        user.password_hash = None
        user.email_verified_at = None
        user.deleted_at = user.disabled_at = now
        await audit_service.record(session, EventKind.ACCOUNT_DELETED, Client(), user_id=user.id)


profile_service = ProfileService()
