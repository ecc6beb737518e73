"""One-time links: the tokens mailed to prove that someone reads a mailbox, and the mails.

A link carries a 256-bit random token; the database keeps only its SHA-256 digest, its purpose,
the address it was sent to and its expiry. A new link of a purpose retires the previous ones
(only the newest works), and using a link uses it up (``AccountTokenRepository.consume``).

Links point at ``MAINSPRING_ACCOUNTS_FRONTEND_URL`` (else ``MAINSPRING_PUBLIC_URL``): they are
built from configuration, never from the request's ``Host`` header, which an attacker could set
to their own site to receive the token (password-reset poisoning).

Mails are enqueued in the caller's transaction and sent after it commits.
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from typing import Any
from urllib.parse import urlencode

from sqlalchemy.ext.asyncio import AsyncSession

from mainspring.accounts.models import AccountToken, User
from mainspring.accounts.repository import AccountTokenRepository
from mainspring.core.config import Settings
from mainspring.core.db import utcnow
from mainspring.core.mail import send_mail
from mainspring.core.security import new_token, token_digest


class Purpose(StrEnum):
    VERIFY = "verify"
    RESET = "reset"
    EMAIL = "email"


_PATHS = {
    Purpose.VERIFY: "/verify-email",
    Purpose.RESET: "/reset-password",
    Purpose.EMAIL: "/confirm-email",
}


def frontend_url(settings: Settings, path: str) -> str:
    """A page of the front end that handles account links."""
    return (settings.accounts_frontend_url or settings.public_url).rstrip("/") + path


def account_link(settings: Settings, purpose: Purpose, token: str) -> str:
    return frontend_url(settings, _PATHS[purpose]) + "?" + urlencode({"token": token})


def base_context(settings: Settings, user: User) -> dict[str, Any]:
    return {
        "display_name": user.display_name,
        "username": user.username,
        "site_url": settings.public_url,
    }


async def issue_link(
    session: AsyncSession,
    settings: Settings,
    user: User,
    purpose: Purpose,
    email: str,
    ttl_seconds: int,
) -> str:
    """Retire the user's live links of ``purpose`` and create a new one; return its URL."""
    repository = AccountTokenRepository(session)
    now = utcnow()
    await repository.retire(user.id, [purpose.value], now)
    token = new_token()
    await repository.add(
        AccountToken(
            user_id=user.id,
            purpose=purpose.value,
            token_hash=token_digest(token),
            email=email,
            created_at=now,
            expires_at=now + timedelta(seconds=ttl_seconds),
        )
    )
    return account_link(settings, purpose, token)


async def send_verification(session: AsyncSession, settings: Settings, user: User) -> None:
    ttl = settings.email_verification_ttl_seconds
    link = await issue_link(session, settings, user, Purpose.VERIFY, user.email, ttl)
    await send_mail(
        session,
        to=user.email,
        template="accounts/verify_email",
        context={**base_context(settings, user), "link": link, "hours": ttl // 3600},
    )


async def send_password_reset(session: AsyncSession, settings: Settings, user: User) -> None:
    ttl = settings.password_reset_ttl_seconds
    link = await issue_link(session, settings, user, Purpose.RESET, user.email, ttl)
    await send_mail(
        session,
        to=user.email,
        template="accounts/password_reset",
        context={**base_context(settings, user), "link": link, "minutes": ttl // 60},
    )


async def send_email_change(
    session: AsyncSession, settings: Settings, user: User, new_email: str
) -> None:
    ttl = settings.email_verification_ttl_seconds
    link = await issue_link(session, settings, user, Purpose.EMAIL, new_email, ttl)
    await send_mail(
        session,
        to=new_email,
        template="accounts/confirm_email_change",
        context={**base_context(settings, user), "link": link, "hours": ttl // 3600},
    )


async def notify(
    session: AsyncSession,
    settings: Settings,
    user: User,
    template: str,
    *,
    to: str | None = None,
    **context: Any,
) -> None:
    """A notice about the account (password changed, email changed...), by default to its
    current address."""
    await send_mail(
        session,
        to=to or user.email,
        template=f"accounts/{template}",
        context={**base_context(settings, user), **context},
    )
