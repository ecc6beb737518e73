"""Password sign-in: who is this, and may they in? (Opening the session is ``sessions.py``.)

Brute force is met by two moving-window limits on *failed* attempts (ASVS V2.2):

* per identifier (default 5 per 5 minutes): a guesser cannot try many passwords on one account.
  The key is the identifier as typed (normalised), for an account and for an unknown name
  alike, so a 429 tells nothing about existence. It is *not* the account: were the email and
  the username of one account to share a bucket, failures spent on a public username would
  make a 429 answer for that account's email, and only for it, an oracle telling which address
  belongs to which user. An account is thus tried at most twice the limit per window, once by
  its email and once by its username. Once the limit is reached even the right password is
  refused until the window moves: the lockout must not leak whether a guess was right. A
  successful sign-in clears both buckets of the account;
* per client address (default 20 per minute): a stuffer cannot try one password on many
  accounts. Success does not clear it, or one valid account would unlock unlimited guessing.

Enumeration is met by answering the same ``InvalidCredentials`` for an unknown account and a
wrong password, after the same work: the hasher verifies once either way (against a dummy hash
when there is no account). Whether an account is disabled or unverified is only said to someone
who gave its right password.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from mainspring.accounts.errors import AccountDisabled, EmailNotVerified, InvalidCredentials
from mainspring.accounts.models import User
from mainspring.accounts.service.audit import EventKind, audit_service
from mainspring.accounts.service.context import AccountsContext
from mainspring.accounts.service.passwords import read_account, verify_password

LOGIN_ACCOUNT = "login-account"
LOGIN_IP = "login-ip"


def normalize_identifier(identifier: str) -> str:
    """Emails and usernames are compared lower-case."""
    return identifier.strip().lower()


def identifier_key(identifier: str) -> str:
    """The failed-login bucket of what was typed (already normalised)."""
    return f"name:{identifier}"


def account_keys(user: User) -> tuple[str, str]:
    """The failed-login buckets an account can be reached by: its email and its username."""
    return identifier_key(user.email), identifier_key(user.username_key)


async def check_account(ctx: AccountsContext, user: User) -> None:
    """429 when either of the account's buckets is spent (asking for the password again)."""
    for key in account_keys(user):
        await ctx.limiter.check(ctx.settings.login_limit_per_account, LOGIN_ACCOUNT, key)


async def hit_account(ctx: AccountsContext, user: User) -> None:
    """Count a wrong password of a signed-in user against both of the account's buckets."""
    for key in account_keys(user):
        await ctx.limiter.hit(ctx.settings.login_limit_per_account, LOGIN_ACCOUNT, key)


async def clear_account(ctx: AccountsContext, user: User) -> None:
    """Forget the account's failures (a successful sign-in, a password reset)."""
    for key in account_keys(user):
        await ctx.limiter.clear(ctx.settings.login_limit_per_account, LOGIN_ACCOUNT, key)


class LoginService:
    async def authenticate(
        self, session: AsyncSession, ctx: AccountsContext, identifier: str, password: str
    ) -> User:
        """The user whose ``identifier`` (email or username) and ``password`` these are.

        Raises ``InvalidCredentials`` (401), ``TooManyRequests`` (429), and, for the right
        password only, ``AccountDisabled`` or ``EmailNotVerified`` (403).

        This is the first step of signing in. The router then opens the session with
        ``session_service.start``; a second factor, when there is one, fits between the two.
        """
        settings, limiter = ctx.settings, ctx.limiter
        identifier = normalize_identifier(identifier)
        key = identifier_key(identifier)
        ip = ctx.client.ip or "unknown"
        await limiter.check(settings.login_limit_per_ip, LOGIN_IP, ip)
        await limiter.check(settings.login_limit_per_account, LOGIN_ACCOUNT, key)

        # The password is checked with no connection held (``service/passwords.py``): the
        # account is read in a short transaction of its own, the hash verified after it, and
        # the request's own transaction reads the account again, to write with it; a password
        # changed in between fails this sign-in as a wrong one would.
        found = await read_account(ctx.database, lambda users: users.by_identifier(identifier))
        checked = await verify_password(ctx.hasher, found, password)
        user = await session.get(User, found.id) if found is not None and checked.valid else None
        if user is None or not checked.holds_for(user):
            await self._failed(ctx, found, key, ip)
            raise InvalidCredentials()
        if not user.is_active:
            audit_service.record_anyway(
                ctx, EventKind.LOGIN_FAILED, user_id=user.id, reason="disabled"
            )
            raise AccountDisabled()
        if "login" in settings.verified_email_required_for and not user.is_verified:
            raise EmailNotVerified()
        if checked.upgraded is not None:
            self._rehash(ctx, user, checked.upgraded)
        await clear_account(ctx, user)
        return user

    def _rehash(self, ctx: AccountsContext, user: User, upgraded: str) -> None:
        """Store the password's hash under the current parameters (an old bcrypt or weaker
        Argon2id hash), in the aftermath: a sign-in that goes on to ask for a second factor
        rolls the request back, and the upgrade must not wait for that second step. The
        ``UPDATE`` is conditional on the old hash, so it never undoes a password change made
        meanwhile."""
        user_id, old_hash = user.id, user.password_hash  # read now: the user row expires

        async def write(session: AsyncSession) -> None:
            result: Any = await session.execute(
                update(User)
                .where(User.id == user_id, User.password_hash == old_hash)
                .values(password_hash=upgraded)
            )
            if result.rowcount:
                session.add(
                    audit_service.event(EventKind.PASSWORD_REHASHED, ctx.client, user_id=user_id)
                )

        ctx.aftermath.add(write)

    async def _failed(self, ctx: AccountsContext, user: User | None, key: str, ip: str) -> None:
        """Count a failed attempt against both limits and log it; log a lockout when the
        account's quota is now spent."""
        user_id = user.id if user is not None else None
        audit_service.record_anyway(
            ctx, EventKind.LOGIN_FAILED, user_id=user_id, reason="bad_credentials"
        )
        await ctx.limiter.hit(ctx.settings.login_limit_per_ip, LOGIN_IP, ip)
        state = await ctx.limiter.hit(ctx.settings.login_limit_per_account, LOGIN_ACCOUNT, key)
        if state.remaining == 0:
            audit_service.record_anyway(
                ctx, EventKind.LOGIN_LOCKED, user_id=user_id, retry_after=state.reset_after
            )


login_service = LoginService()
