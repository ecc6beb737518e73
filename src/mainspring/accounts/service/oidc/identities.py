"""Which local account an identity at a provider is, and the user's own links.

**Signing in** (``account_for``), in this order:

1. A link (provider, subject) exists: it is that link's account. The subject is the provider's
   stable identifier; the email it asserts today plays no part.
2. No link, and the provider does not assert a *verified* email: refused
   (``email_not_verified``), whether or not some account has that address. An unverified
   address proves nothing: linking on it would let anyone who types a victim's address at a
   lax provider into the victim's account, and creating an account on it would squat the
   address. If an account does have the address, its owner finds an
   ``identity_link_refused`` event in their log; the person at the keyboard learns nothing.
3. A local account has that verified address: the provider is linked to it, an
   ``identity_linked`` event recorded, and the owner mailed a notice. Unless that account never
   verified the address itself (``account_not_verified``): someone may have registered it
   with a password before its owner came (account pre-hijacking), and linking would hand the
   owner an account whose password the squatter knows. The owner verifies the address (or
   resets the password), signs in, and links from there.
4. Otherwise a new account is created: verified email, no password, a username derived from
   what the provider suggests and made unique, the provider's name as display name.

A disabled account is refused (``account_disabled``) at every step.

**Linking** (``link_to``), when a signed-in user started the attempt: the provider's account
is linked to theirs, whatever email it asserts (the user proved both sides). Refused when that
provider account is already linked to another local account (``identity_in_use``), or when the
user already has another account at that provider (``provider_already_linked``).

**The user's links** (``views``, ``unlink``): removing a link is refused (409) when it is the
last way to sign in: no password and no other link.

Refusals are ``SignInRefused`` with a ``reason``: the flow sends the browser back with
``?error=<reason>``; nothing is raised as an HTTP error, so the events recorded on the way are
kept.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from mainspring.accounts.errors import LastSignInMethod
from mainspring.accounts.models import IdentityLink, User
from mainspring.accounts.repository import IdentityLinkRepository, UserRepository
from mainspring.accounts.schemas import USERNAME_PATTERN, IdentityView
from mainspring.accounts.service.audit import EventKind, audit_service
from mainspring.accounts.service.context import AccountsContext
from mainspring.accounts.service.links import notify
from mainspring.accounts.service.oidc.providers import (
    IdentityProviders,
    ProviderClient,
    ProviderIdentity,
)
from mainspring.accounts.service.registration import username_reserved
from mainspring.core.db import utcnow
from mainspring.core.errors import NotFound

USERNAME_BASE_MAX = 27  # leaves room for a "-1234" suffix within the 32 allowed
USERNAME_ATTEMPTS = 8
_NOT_USERNAME = re.compile(r"[^A-Za-z0-9_.-]+")
_USERNAME = re.compile(USERNAME_PATTERN)


class SignInRefused(Exception):
    """The provider's identity may not sign in (or be linked); ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def username_base(identity: ProviderIdentity) -> str:
    """A username from what the provider says: its suggestion, else the email's local part,
    else the name; reduced to the allowed characters (``Zoë Ödeén`` -> ``Zoe_Odeen``)."""
    local_part = identity.email.partition("@")[0] if identity.email else None
    for hint in (identity.username, local_part, identity.name):
        if not hint:
            continue
        ascii_text = unicodedata.normalize("NFKD", hint).encode("ascii", "ignore").decode()
        base = _NOT_USERNAME.sub("_", ascii_text).strip("._-")[:USERNAME_BASE_MAX]
        if _USERNAME.match(base):
            return base
    return "user"


class IdentityService:
    async def account_for(
        self,
        session: AsyncSession,
        ctx: AccountsContext,
        provider: ProviderClient,
        identity: ProviderIdentity,
    ) -> User:
        """The account ``identity`` signs in as (see the module docstring)."""
        links = IdentityLinkRepository(session)
        users = UserRepository(session)
        link = await links.find(provider.name, identity.subject)
        if link is not None:
            user = await users.get(link.user_id)
            await self._refuse_disabled(session, ctx, user, provider)
            link.last_login_at = utcnow()
            await audit_service.record(
                session,
                EventKind.IDENTITY_LOGIN,
                ctx.client,
                user_id=user.id,
                provider=provider.name,
            )
            return user
        owner = await users.by_email(identity.email) if identity.email else None
        if identity.email is None or not identity.email_verified:
            if owner is not None:
                await self._refused(session, ctx, owner, provider, "email_not_verified")
            raise SignInRefused("email_not_verified")
        if owner is None:
            return await self._new_account(session, ctx, provider, identity)
        await self._refuse_disabled(session, ctx, owner, provider)
        if not owner.is_verified:
            await self._refused(session, ctx, owner, provider, "account_not_verified")
            raise SignInRefused("account_not_verified")
        if await self._has_link_to(session, owner, provider):
            raise SignInRefused("provider_already_linked")
        await self._link(session, ctx, owner, provider, identity, via="verified_email")
        return owner

    async def link_to(
        self,
        session: AsyncSession,
        ctx: AccountsContext,
        user_id: uuid.UUID,
        provider: ProviderClient,
        identity: ProviderIdentity,
    ) -> None:
        """Link ``identity`` to the signed-in user who started the attempt."""
        user = await UserRepository(session).get_or_none(user_id)
        if user is None or not user.is_active:
            raise SignInRefused("account_disabled")
        existing = await IdentityLinkRepository(session).find(provider.name, identity.subject)
        if existing is not None:
            if existing.user_id == user.id:
                return  # linked already: nothing to do
            await self._refused(session, ctx, user, provider, "identity_in_use")
            raise SignInRefused("identity_in_use")
        if await self._has_link_to(session, user, provider):
            raise SignInRefused("provider_already_linked")
        await self._link(session, ctx, user, provider, identity, via="signed_in")

    async def views(
        self, session: AsyncSession, user_id: uuid.UUID, providers: IdentityProviders
    ) -> list[IdentityView]:
        """The user's links as they see them (``GET /users/me/identities``)."""
        return await IdentityLinkRepository(session).views_of(user_id, providers.display_name)

    async def unlink(
        self,
        session: AsyncSession,
        ctx: AccountsContext,
        user: User,
        link_id: uuid.UUID,
        providers: IdentityProviders,
    ) -> None:
        """Remove one of the user's links (404 if it is not theirs; 409 if it is their last
        way to sign in)."""
        links = await self._links(session, user.id)
        link = next((link for link in links if link.id == link_id), None)
        if link is None:
            raise NotFound("No such identity.")
        if user.password_hash is None and len(links) == 1:
            raise LastSignInMethod()
        await IdentityLinkRepository(session).delete(link)
        await notify(
            session,
            ctx.settings,
            user,
            "identity_unlinked",
            provider=providers.display_name(link.provider),
        )
        await audit_service.record(
            session,
            EventKind.IDENTITY_UNLINKED,
            ctx.client,
            user_id=user.id,
            provider=link.provider,
        )

    async def _links(self, session: AsyncSession, user_id: uuid.UUID) -> list[IdentityLink]:
        return await IdentityLinkRepository(session).of_user(user_id)

    async def _has_link_to(
        self, session: AsyncSession, user: User, provider: ProviderClient
    ) -> bool:
        """Whether ``user`` has an account at ``provider`` linked already (one at most)."""
        return any(link.provider == provider.name for link in await self._links(session, user.id))

    async def _refuse_disabled(
        self, session: AsyncSession, ctx: AccountsContext, user: User, provider: ProviderClient
    ) -> None:
        if not user.is_active:
            await audit_service.record(
                session,
                EventKind.LOGIN_FAILED,
                ctx.client,
                user_id=user.id,
                reason="disabled",
                provider=provider.name,
            )
            raise SignInRefused("account_disabled")

    async def _refused(
        self,
        session: AsyncSession,
        ctx: AccountsContext,
        user: User,
        provider: ProviderClient,
        reason: str,
    ) -> None:
        await audit_service.record(
            session,
            EventKind.IDENTITY_LINK_REFUSED,
            ctx.client,
            user_id=user.id,
            provider=provider.name,
            reason=reason,
        )

    async def _link(
        self,
        session: AsyncSession,
        ctx: AccountsContext,
        user: User,
        provider: ProviderClient,
        identity: ProviderIdentity,
        *,
        via: str,
    ) -> None:
        now = utcnow()
        await IdentityLinkRepository(session).add(
            IdentityLink(
                user_id=user.id,
                provider=provider.name,
                subject=identity.subject,
                email=identity.email,
                created_at=now,
                last_login_at=now if via != "signed_in" else None,
            )
        )
        await notify(session, ctx.settings, user, "identity_linked", provider=provider.display_name)
        await audit_service.record(
            session,
            EventKind.IDENTITY_LINKED,
            ctx.client,
            user_id=user.id,
            provider=provider.name,
            via=via,
        )

    async def _new_account(
        self,
        session: AsyncSession,
        ctx: AccountsContext,
        provider: ProviderClient,
        identity: ProviderIdentity,
    ) -> User:
        assert identity.email is not None
        now = utcnow()
        username = await self._free_username(session, username_base(identity))
        user = await UserRepository(session).add(
            User(
                email=identity.email,
                username=username,
                username_key=username.lower(),
                display_name=(identity.name or username)[:100],
                password_hash=None,
                email_verified_at=now,
            )
        )
        await IdentityLinkRepository(session).add(
            IdentityLink(
                user_id=user.id,
                provider=provider.name,
                subject=identity.subject,
                email=identity.email,
                created_at=now,
                last_login_at=now,
            )
        )
        await audit_service.record(
            session, EventKind.REGISTERED, ctx.client, user_id=user.id, provider=provider.name
        )
        await audit_service.record(
            session,
            EventKind.IDENTITY_LINKED,
            ctx.client,
            user_id=user.id,
            provider=provider.name,
            via="new_account",
        )
        return user

    async def _free_username(self, session: AsyncSession, base: str) -> str:
        """``base``, or ``base`` with a random four-digit suffix, that nobody has."""
        users = UserRepository(session)
        candidate = base
        for _ in range(USERNAME_ATTEMPTS):
            if not username_reserved(candidate) and not await users.username_taken(candidate):
                return candidate
            candidate = f"{base}-{secrets.randbelow(10_000):04d}"
        return f"user-{secrets.token_hex(6)}"


identity_service = IdentityService()
