"""``/api/v1/auth/oidc``: signing in through identity providers; ``/api/v1/users/me/identities``:
the provider accounts linked to mine.

A front end signs someone in through a provider in three moves:

1. a form posted by the browser (not a script: the browser must follow the redirect) to
   ``POST /auth/oidc/{provider}/authorize`` with ``redirect_to``, its own page to come back to.
   The answer is a 303 to the provider, and a cookie, ``mainspring_oidc`` (HttpOnly, Secure,
   SameSite=Lax so that it comes back on the provider's redirect, path ``/api/v1/auth/oidc``),
   that ties the attempt to this browser;
2. the provider sends the browser to ``GET /auth/oidc/{provider}/callback``, which answers a 303
   to ``redirect_to?ticket=...`` (or ``?error=...``);
3. the page posts the ticket to ``POST /auth/oidc/exchange`` (with the cookie: same site,
   ``credentials: "include"``) and receives the usual token response.

A signed-in user links a provider the same way, adding the access token (the
``Authorization`` header, or the ``access_token`` form field of RFC 6750 for a plain form); the
callback then answers ``redirect_to?linked={provider}``. ``service/oidc/flow.py`` explains
every check.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Cookie, Depends, Form, Path, Query, Request, Response
from fastapi.responses import RedirectResponse

from mainspring.accounts.deps import AccountsContextDep, CurrentUser
from mainspring.accounts.routers.auth import MFA_REQUIRED_EXAMPLE, token_response
from mainspring.accounts.schemas import (
    IdentityProviderView,
    IdentityView,
    OidcExchangeRequest,
    OidcStartForm,
    TokenResponse,
)
from mainspring.accounts.service.oidc.flow import OIDC_PATH, TICKET_TTL, oidc_login_service
from mainspring.accounts.service.oidc.identities import identity_service
from mainspring.accounts.service.oidc.providers import IdentityProviders
from mainspring.core.auth import CurrentPrincipal, OptionalPrincipal, authenticate
from mainspring.core.deps import DatabaseDep, ReadSessionDep, SessionDep
from mainspring.core.errors import PROBLEM_JSON, BadRequest, problem_responses

BROWSER_COOKIE = "mainspring_oidc"

router = APIRouter(prefix="/auth/oidc", tags=["auth"])
identities_router = APIRouter(prefix="/users/me/identities", tags=["users"])


async def get_identity_providers(request: Request) -> IdentityProviders:
    state = request.app.state
    return IdentityProviders(state.settings, state.http, state.cache)


IdentityProvidersDep = Annotated[IdentityProviders, Depends(get_identity_providers)]
ProviderName = Annotated[
    str,
    Path(max_length=32, description="A configured provider's name.", examples=["google"]),
]
BrowserSecret = Annotated[
    str | None,
    Cookie(
        alias=BROWSER_COOKIE,
        max_length=64,
        description="Set by `/authorize`: ties the attempt to the browser that started it.",
    ),
]


def _redirect(description: str, example: str) -> dict[int | str, dict[str, Any]]:
    return {
        303: {
            "description": description,
            "headers": {
                "Location": {
                    "description": "Where the browser goes next.",
                    "schema": {"type": "string", "examples": [example]},
                }
            },
        }
    }


@router.get("/providers", summary="Identity providers to sign in with")
async def list_providers(providers: IdentityProvidersDep) -> list[IdentityProviderView]:
    """The configured providers, for a login page's buttons (never their secrets)."""
    return [
        IdentityProviderView(name=provider.name, display_name=provider.display_name)
        for provider in providers
    ]


@router.post(
    "/{provider}/authorize",
    status_code=303,
    response_class=RedirectResponse,
    summary="Start signing in through a provider (a form the browser posts)",
    responses={
        **_redirect(
            "To the provider's sign-in page (or back to `redirect_to?error=provider_unavailable`"
            " when the provider cannot be reached). Sets the `mainspring_oidc` cookie.",
            "https://accounts.google.com/o/oauth2/v2/auth?response_type=code&client_id=...",
        ),
        **problem_responses(401, 404, 422, 429),
    },
)
async def authorize(
    provider: ProviderName,
    form: Annotated[OidcStartForm, Form()],
    request: Request,
    session: SessionDep,
    ctx: AccountsContextDep,
    providers: IdentityProvidersDep,
    principal: OptionalPrincipal,
    browser_secret: BrowserSecret = None,
) -> RedirectResponse:
    """Form fields: `redirect_to` (allow-listed, else 422 `redirect-not-allowed`) and, to link
    the provider to your account instead of signing in, `access_token` (or send the
    `Authorization` header). 404 for an unknown provider; 429 when too many sign-ins were
    started from this address."""
    client = providers.get(provider)
    linking = principal
    if form.access_token is not None:
        if principal is not None:
            raise BadRequest("Send the access token in the header or in the form, not both.")
        linking = await authenticate(request, form.access_token)
    started = await oidc_login_service.start(
        session,
        ctx,
        client,
        redirect_to=form.redirect_to,
        browser_secret=browser_secret,
        linking=linking,
    )
    response = RedirectResponse(
        started.location, status_code=303, headers={"Cache-Control": "no-store"}
    )
    if started.browser_secret is not None:
        response.set_cookie(
            BROWSER_COOKIE,
            started.browser_secret,
            max_age=ctx.settings.oidc_login_ttl_seconds + int(TICKET_TTL.total_seconds()),
            path=OIDC_PATH,
            secure=True,
            httponly=True,
            samesite="lax",
        )
    return response


@router.get(
    "/{provider}/callback",
    status_code=303,
    response_class=RedirectResponse,
    summary="Where the provider sends the browser back (not called by front ends)",
    responses={
        **_redirect(
            "To `redirect_to` with `ticket` (signed in: exchange it), `linked` (the provider "
            "was linked to your account) or `error` (`access_denied`, `provider_error`, "
            "`provider_unavailable`, `email_not_verified`, `account_not_verified`, "
            "`account_disabled`, `identity_in_use`, `provider_already_linked`).",
            "https://app.example.com/signed-in?ticket=Zm9vYmFyYmF6cXV4...",
        ),
        **problem_responses(400, 404),
    },
)
async def callback(
    provider: ProviderName,
    session: SessionDep,
    database: DatabaseDep,
    ctx: AccountsContextDep,
    providers: IdentityProvidersDep,
    state: Annotated[str | None, Query(max_length=128)] = None,
    code: Annotated[str | None, Query(max_length=2048)] = None,
    error: Annotated[str | None, Query(max_length=64)] = None,
    browser_secret: BrowserSecret = None,
) -> RedirectResponse:
    """400 `invalid-oidc-state` when the state is unknown, used, expired, for another provider
    or from another browser; once it checks out, every outcome is a redirect to `redirect_to`."""
    location = await oidc_login_service.callback(
        session,
        database,
        ctx,
        providers.get(provider),
        state=state,
        code=code,
        error=error,
        browser_secret=browser_secret,
    )
    return RedirectResponse(location, status_code=303, headers={"Cache-Control": "no-store"})


@router.post(
    "/exchange",
    summary="Trade the ticket of a provider sign-in for tokens",
    responses={
        **problem_responses(400, 403),
        403: {
            "description": "Forbidden: the account is disabled, or it has two-factor sign-in "
            "(`mfa-required`: finish at `/api/v1/auth/login/two-factor`).",
            "content": {
                PROBLEM_JSON: {
                    "schema": {"$ref": "#/components/schemas/Problem"},
                    "example": MFA_REQUIRED_EXAMPLE,
                }
            },
        },
    },
)
async def exchange(
    data: OidcExchangeRequest,
    response: Response,
    session: SessionDep,
    ctx: AccountsContextDep,
    browser_secret: BrowserSecret = None,
) -> TokenResponse:
    """Answers like `/login` (and takes its `cookie` option). The ticket works once, for 60
    seconds, from the browser that started the sign-in (it sends the `mainspring_oidc`
    cookie); 400 `invalid-ticket` otherwise."""
    tokens = await oidc_login_service.exchange(
        session, ctx, ticket=data.ticket, browser_secret=browser_secret
    )
    return token_response(response, ctx.settings, tokens, cookie=data.cookie)


@identities_router.get(
    "", summary="My accounts at identity providers", responses=problem_responses(401)
)
async def list_identities(
    principal: CurrentPrincipal, session: ReadSessionDep, providers: IdentityProvidersDep
) -> list[IdentityView]:
    """One per provider at most, oldest first."""
    return await identity_service.views(session, principal.user_id, providers)


@identities_router.delete(
    "/{identity_id}",
    status_code=204,
    summary="Unlink an identity provider account",
    responses=problem_responses(401, 404, 409),
)
async def unlink_identity(
    identity_id: uuid.UUID,
    user: CurrentUser,
    session: SessionDep,
    ctx: AccountsContextDep,
    providers: IdentityProvidersDep,
) -> None:
    """It can no longer sign in to your account; a notice is mailed. 409 when it is your last
    way to sign in (no password, no other provider): set a password first."""
    await identity_service.unlink(session, ctx, user, identity_id, providers)
