"""Signing in through an identity provider: the authorization code flow, step by step.

**1. Start** (``start``; ``POST /auth/oidc/{provider}/authorize``). The browser posts a form;
POST only, so that no image or link on another site can start a sign-in. ``redirect_to``, the
front end's page to come back to, must be allow-listed (``redirects.py``). Three secrets are
drawn: ``state`` (ties the provider's answer to this attempt), ``nonce`` (ties the ID token to
it) and the PKCE ``code_verifier`` (RFC 7636; only its S256 challenge is sent, so a code
intercepted on its way back is useless without the verifier, which never leaves the server).
A fourth, the *browser secret*, goes into an HttpOnly cookie scoped to the OIDC path: the
attempt belongs to the browser that started it. The ``OidcLogin`` row keeps digests of the
state and of the browser secret, the nonce, the verifier, the target and an expiry
(``oidc_login_ttl_seconds``, default 10 minutes). The callback URL given to the provider is
built from ``MAINSPRING_PUBLIC_URL``, never from the request's ``Host``. When the request is
signed in, the attempt will *link* the provider to that account rather than sign in.

**2. Callback** (``callback``; ``GET /auth/oidc/{provider}/callback?code&state``). The state
must exist, be unused, unexpired, for this provider, and arrive with the cookie of the browser
that started it; otherwise 400, one answer for all. This is what defeats login CSRF: an
attacker who completes a sign-in of their own cannot make a victim's browser finish it. The
attempt is then used up, and every later outcome is a 303 to ``redirect_to``: the code is
redeemed with the verifier, the identity checked (``providers.py``) and resolved to an account
(``identities.py``); success carries a *ticket*, a failure ``?error=<reason>``. The attempt is
read in a short transaction of its own, so no database lock is held while the provider is
called (on SQLite a writer holds the only write lock).

**3. Exchange** (``exchange``; ``POST /auth/oidc/exchange``). The front end trades the ticket
for tokens. A ticket is 256 random bits, stored as its digest, valid 60 seconds, once, and only
from the browser that started the attempt (the same cookie), so a ticket that leaks from a URL
is worth nothing elsewhere. The session opens through ``two_factor_service.sign_in`` with
``amr`` ``["fed"]``: an account with a second factor gets the second step, as after a password.

Why a ticket rather than tokens in the redirect: tokens in a URL end up in browser history,
logs and ``Referer`` headers, and a redirect cannot set the ``Authorization`` of later requests
anyway; the ticket makes the tokens travel in a response body, like every other sign-in.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from datetime import timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from mainspring.accounts.errors import (
    AccountDisabled,
    InvalidOidcState,
    InvalidTicket,
    RedirectNotAllowed,
    TwoFactorRequired,
)
from mainspring.accounts.models import OidcLogin
from mainspring.accounts.repository import OidcLoginRepository, UserRepository
from mainspring.accounts.service.context import AccountsContext
from mainspring.accounts.service.oidc.identities import SignInRefused, identity_service
from mainspring.accounts.service.oidc.providers import (
    ProviderClient,
    ProviderError,
    ProviderIdentity,
)
from mainspring.accounts.service.oidc.redirects import is_allowed, with_params
from mainspring.accounts.service.sessions import IssuedTokens
from mainspring.accounts.service.two_factor import two_factor_service
from mainspring.core.auth import Principal
from mainspring.core.config import Settings
from mainspring.core.db import Database, utcnow
from mainspring.core.security import new_token, token_digest

logger = structlog.get_logger("mainspring.accounts.oidc")

OIDC_PATH = "/api/v1/auth/oidc"
"""Where the OIDC routes live; the browser cookie is sent there and nowhere else."""
FEDERATED_METHODS = ("fed",)
"""The session's ``amr``: signed in through a federated provider (RFC 8176 has no value)."""
TICKET_TTL = timedelta(seconds=60)
VERIFIER_BYTES = 48  # a 64-character PKCE verifier (RFC 7636 asks for 43 to 128)
_BROWSER_SECRET = re.compile(r"^[A-Za-z0-9_-]{43}$")
_PROVIDER_ERRORS = frozenset({"access_denied"})
"""Errors the provider sends back that are passed on as they are; any other is
``provider_error`` (the provider's text is never reflected to the front end)."""


@dataclass(frozen=True)
class Started:
    """Where to send the browser, and the browser secret to keep in its cookie (None when the
    attempt could not start and the browser goes straight back with an error)."""

    location: str
    browser_secret: str | None


def callback_url(settings: Settings, provider: str) -> str:
    """The redirect URI registered at the provider, from configuration only."""
    return f"{settings.public_url.rstrip('/')}{OIDC_PATH}/{provider}/callback"


def _from_this_browser(secret: str | None, digest: str) -> bool:
    return secret is not None and hmac.compare_digest(token_digest(secret), digest)


class OidcLoginService:
    async def start(
        self,
        session: AsyncSession,
        ctx: AccountsContext,
        provider: ProviderClient,
        *,
        redirect_to: str,
        browser_secret: str | None,
        linking: Principal | None,
    ) -> Started:
        """Begin an attempt (step 1 of the module docstring). ``browser_secret`` is the
        cookie the browser sent, if any: it is kept, so attempts in two tabs both work."""
        # authlib (with joserfc, about 2 MiB) is imported by the first sign-in through a
        # provider, not by every worker at start.
        from authlib.oauth2.rfc7636 import create_s256_code_challenge  # type: ignore[import-untyped]

        settings = ctx.settings
        if not is_allowed(settings, redirect_to):
            raise RedirectNotAllowed()
        await ctx.limiter.hit(settings.oidc_limit_per_ip, "oidc-start-ip", ctx.client.ip or "")
        state, nonce, verifier = new_token(), new_token(), new_token(VERIFIER_BYTES)
        if browser_secret is None or not _BROWSER_SECRET.match(browser_secret):
            browser_secret = new_token()
        try:
            location = await provider.authorization_url(
                redirect_uri=callback_url(settings, provider.name),
                state=state,
                nonce=nonce,
                code_challenge=create_s256_code_challenge(verifier),
            )
        except ProviderError as exc:
            logger.warning("oidc_start_failed", provider=provider.name, error=str(exc))
            return Started(with_params(redirect_to, error=exc.reason), None)
        now = utcnow()
        await OidcLoginRepository(session).add(
            OidcLogin(
                provider=provider.name,
                state_hash=token_digest(state),
                browser_hash=token_digest(browser_secret),
                nonce=nonce,
                code_verifier=verifier,
                redirect_to=redirect_to,
                link_user_id=linking.user_id if linking else None,
                created_at=now,
                expires_at=now + timedelta(seconds=settings.oidc_login_ttl_seconds),
            )
        )
        return Started(location, browser_secret)

    async def callback(
        self,
        session: AsyncSession,
        database: Database,
        ctx: AccountsContext,
        provider: ProviderClient,
        *,
        state: str | None,
        code: str | None,
        error: str | None,
        browser_secret: str | None,
    ) -> str:
        """Finish an attempt (step 2): the URL to send the browser to. ``InvalidOidcState``
        (400) when the state does not check out."""
        login = await self._attempt(database, state) if state else None
        if (
            login is None
            or login.provider != provider.name
            or login.completed_at is not None
            or login.expires_at <= utcnow()
            or not _from_this_browser(browser_secret, login.browser_hash)
        ):
            raise InvalidOidcState()
        outcome = await self._identify(ctx.settings, provider, login, code=code, error=error)
        logins = OidcLoginRepository(session)
        now = utcnow()
        if not await logins.complete(login.id, now):  # another request used it meanwhile
            raise InvalidOidcState()
        if isinstance(outcome, str):
            return with_params(login.redirect_to, error=outcome)
        try:
            if login.link_user_id is not None:
                await identity_service.link_to(session, ctx, login.link_user_id, provider, outcome)
                return with_params(login.redirect_to, linked=provider.name)
            user = await identity_service.account_for(session, ctx, provider, outcome)
        except SignInRefused as refusal:
            return with_params(login.redirect_to, error=refusal.reason)
        ticket = new_token()
        await logins.issue_ticket(login.id, user.id, token_digest(ticket), now + TICKET_TTL)
        return with_params(login.redirect_to, ticket=ticket)

    async def exchange(
        self,
        session: AsyncSession,
        ctx: AccountsContext,
        *,
        ticket: str,
        browser_secret: str | None,
    ) -> IssuedTokens:
        """Trade a ticket for tokens (step 3). ``InvalidTicket`` (400) when it is unknown,
        used, expired or from another browser; ``AccountDisabled`` (403);
        ``TwoFactorRequired`` (403) for an account with a second factor."""
        logins = OidcLoginRepository(session)
        login = await logins.by_ticket(token_digest(ticket))
        now = utcnow()
        if (
            login is None
            or login.user_id is None
            or login.exchanged_at is not None
            or login.expires_at <= now
            or not _from_this_browser(browser_secret, login.browser_hash)
            or not await logins.exchange(login.id, now)
        ):
            raise InvalidTicket()
        user = await UserRepository(session).get_or_none(login.user_id)
        if user is None or not user.is_active:
            raise AccountDisabled()
        try:
            return await two_factor_service.sign_in(session, ctx, user, methods=FEDERATED_METHODS)
        except TwoFactorRequired:
            # The error rolls the request back, and the ticket with it: spend it anyway.
            login_id = login.id

            async def spend(later: AsyncSession) -> None:
                await OidcLoginRepository(later).exchange(login_id, now)

            ctx.aftermath.add(spend)
            raise

    async def _attempt(self, database: Database, state: str) -> OidcLogin | None:
        """The attempt of ``state``, read on the primary (a replica may not have it yet) in a
        transaction of its own, which ends before the provider is called."""
        async with database.session() as session:
            return await OidcLoginRepository(session).by_state(token_digest(state))

    async def _identify(
        self,
        settings: Settings,
        provider: ProviderClient,
        login: OidcLogin,
        *,
        code: str | None,
        error: str | None,
    ) -> ProviderIdentity | str:
        """Who signed in at the provider, or the reason to send the browser back with."""
        if error is not None and error in _PROVIDER_ERRORS:
            return error
        if error is not None or code is None:
            return "provider_error"
        try:
            return await provider.identify(
                code=code,
                redirect_uri=callback_url(settings, provider.name),
                code_verifier=login.code_verifier,
                nonce=login.nonce,
            )
        except ProviderError as exc:
            logger.warning("oidc_callback_failed", provider=provider.name, error=str(exc))
            return exc.reason


oidc_login_service = OidcLoginService()
