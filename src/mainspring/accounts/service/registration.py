"""Registration and email verification.

Public registration must not reveal which addresses have an account (ASVS V2.5, V3.1), so it
answers ``202 Accepted`` with the same body whether the address is new or known, after the same
work (one password hash, one mail). A new address gets an account and a verification link; a
known one gets a mail telling its owner that someone tried to register with it, with the way to
reset their password. The owner learns of it; the person at the keyboard learns nothing.

Usernames are different: they are public (profiles show them), so a taken username answers 409.
It is checked *before* the email, so the 409 cannot be used to learn about the email either.

The password is hashed first, before the request's transaction runs a statement, so that no
connection (on SQLite, no write lock) is held through the hash (``service/passwords.py``);
the username and email are then checked, and the account inserted, in that transaction, the
database's unique indexes settling a race between two registrations.

Asking for a new verification link (``request_verification``) only enqueues a job: the request
does the same thing for any address, and the job, in the background, looks the account up and
mails it a link if it still needs one.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from mainspring.accounts.errors import EmailTaken, InvalidLink, UsernameTaken
from mainspring.accounts.models import User
from mainspring.accounts.repository import AccountTokenRepository, UserRepository
from mainspring.accounts.schemas import RegisterRequest
from mainspring.accounts.service.audit import EventKind, audit_service
from mainspring.accounts.service.context import AccountsContext
from mainspring.accounts.service.links import (
    Purpose,
    frontend_url,
    notify,
    send_verification,
)
from mainspring.accounts.service.passwords import hash_new_password
from mainspring.core.auth import Role
from mainspring.core.background import enqueue
from mainspring.core.config import Settings
from mainspring.core.db import utcnow
from mainspring.core.passwords import PasswordHasher
from mainspring.core.security import token_digest

RESERVED_USERNAMES = frozenset(
    {"admin", "administrator", "api", "auth", "me", "root", "security", "support", "system"}
)
DELETED_PREFIX = "deleted-"  # anonymised accounts are renamed deleted-<id>
SEND_VERIFICATION_TASK = "accounts.send_verification"


def username_reserved(username: str) -> bool:
    key = username.lower()
    return key in RESERVED_USERNAMES or key.startswith(DELETED_PREFIX)


class RegistrationService:
    async def create_account(
        self,
        session: AsyncSession,
        hasher: PasswordHasher,
        *,
        email: str,
        username: str,
        password: str,
        display_name: str | None = None,
        role: Role = Role.USER,
        verified: bool = False,
    ) -> User:
        """Create an account, saying plainly when the username or email is taken (409).

        For callers allowed to know: administrators, the command line, adapters whose protocol
        demands it (RealWorld). Public registration is ``register``. Nothing is mailed; call
        ``links.send_verification(session, settings, user)`` to send a verification link.
        """
        if username_reserved(username):
            raise UsernameTaken()
        password_hash = await hash_new_password(hasher, password, username=username, email=email)
        users = UserRepository(session)
        if await users.username_taken(username):
            raise UsernameTaken()
        if await users.email_taken(email):
            raise EmailTaken()
        return await self._create(
            session, email, username, password_hash, display_name, role, verified
        )

    async def register(
        self, session: AsyncSession, ctx: AccountsContext, data: RegisterRequest
    ) -> None:
        """Public registration (see the module docstring): the outcome is told by mail."""
        settings = ctx.settings
        await ctx.limiter.hit(settings.register_limit_per_ip, "register-ip", ctx.client.ip or "")
        if username_reserved(data.username):
            raise UsernameTaken()
        # Hashed whether the address is new or known: the same work either way, and before
        # the transaction's first statement (see the module docstring).
        password_hash = await hash_new_password(
            ctx.hasher, data.password, username=data.username, email=data.email
        )
        users = UserRepository(session)
        if await users.username_taken(data.username):
            raise UsernameTaken()
        existing = await users.by_email(data.email)
        if existing is not None:
            forgot = frontend_url(settings, "/forgot-password")
            await notify(session, settings, existing, "already_registered", forgot_url=forgot)
            await audit_service.record(
                session, EventKind.REGISTRATION_EMAIL_EXISTS, ctx.client, user_id=existing.id
            )
            return
        user = await self._create(
            session,
            data.email,
            data.username,
            password_hash,
            data.display_name,
            Role.USER,
            verified=False,
        )
        await send_verification(session, settings, user)
        await audit_service.record(session, EventKind.REGISTERED, ctx.client, user_id=user.id)

    async def _create(
        self,
        session: AsyncSession,
        email: str,
        username: str,
        password_hash: str,
        display_name: str | None,
        role: Role,
        verified: bool,
    ) -> User:
        now = utcnow()
        user = User(
            email=email,
            username=username,
            username_key=username.lower(),
            display_name=display_name or username,
            password_hash=password_hash,
            role=role.value,
            email_verified_at=now if verified else None,
            password_changed_at=now,
        )
        return await UserRepository(session).add(user)

    async def verify_email(self, session: AsyncSession, ctx: AccountsContext, token: str) -> None:
        """Use a verification link: the account's current address is now verified."""
        now = utcnow()
        found = await AccountTokenRepository(session).consume(
            token_digest(token), Purpose.VERIFY.value, now
        )
        user = await UserRepository(session).get_or_none(found[0]) if found else None
        if found is None or user is None or not user.is_active or user.email != found[1]:
            raise InvalidLink()
        if user.email_verified_at is None:
            user.email_verified_at = now
        await audit_service.record(session, EventKind.EMAIL_VERIFIED, ctx.client, user_id=user.id)

    async def request_verification(
        self, session: AsyncSession, ctx: AccountsContext, email: str
    ) -> None:
        """Ask for a new verification link for ``email`` (throttled; the job decides)."""
        settings = ctx.settings
        await ctx.limiter.hit(
            settings.account_mail_limit_per_ip, "verify-mail-ip", ctx.client.ip or ""
        )
        await ctx.limiter.hit(settings.account_mail_limit_per_address, "verify-mail", email)
        await enqueue(session, SEND_VERIFICATION_TASK, {"email": email})

    async def send_verification_to(
        self, session: AsyncSession, settings: Settings, email: str
    ) -> None:
        """The job behind ``request_verification``: mail a link if the account needs one."""
        user = await UserRepository(session).by_email(email)
        if user is not None and user.is_active and not user.is_verified:
            await send_verification(session, settings, user)


registration_service = RegistrationService()
