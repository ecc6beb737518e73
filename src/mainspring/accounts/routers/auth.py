"""``/api/v1/auth``: register, verify, sign in, refresh, sign out, recover; the audit log.

Token responses follow OAuth 2.0 (``access_token``, ``token_type``, ``expires_in``,
``refresh_token``) and are never cached (``Cache-Control: no-store``). ``POST /token`` speaks
the OAuth 2.0 password and refresh-token grants with form fields, which is what the Authorize
button of ``/docs`` uses.

Browser clients may ask (``"cookie": true`` at login) to keep the refresh token in a cookie that
scripts cannot read (``HttpOnly``), sent only over HTTPS (``Secure``), only by this site's own
pages (``SameSite=Strict``) and only to ``/api/v1/auth``. They refresh with an empty body and the
``X-CSRF-Token`` header, whose value the login answered and the readable ``mainspring_csrf``
cookie keeps across page loads.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Cookie, Form, Header, Query, Response

from mainspring.accounts.deps import AccountsContextDep, AuditorPrincipal
from mainspring.accounts.errors import (
    InvalidCredentials,
    InvalidGrant,
    InvalidRefreshToken,
    TwoFactorRequired,
    UnsupportedGrantType,
)
from mainspring.accounts.schemas import (
    Accepted,
    EmailRequest,
    LoginRequest,
    RefreshRequest,
    RegisterRequest,
    ResetPasswordRequest,
    SecurityEventView,
    TokenForm,
    TokenRequest,
    TokenResponse,
    TwoFactorLoginRequest,
)
from mainspring.accounts.service.audit import EventKind, audit_service
from mainspring.accounts.service.login import login_service
from mainspring.accounts.service.profile import profile_service
from mainspring.accounts.service.recovery import recovery_service
from mainspring.accounts.service.registration import registration_service
from mainspring.accounts.service.sessions import IssuedTokens, session_service
from mainspring.accounts.service.two_factor import two_factor_service
from mainspring.core.auth import CurrentPrincipal
from mainspring.core.config import Settings
from mainspring.core.db import utcnow
from mainspring.core.deps import CursorSliceDep, ReadSessionDep, SessionDep
from mainspring.core.errors import PROBLEM_JSON, problem_responses
from mainspring.core.schemas import CursorPage

AUTH_PATH = "/api/v1/auth"  # where the refresh cookie is sent, and nowhere else
REFRESH_COOKIE = "mainspring_refresh"
CSRF_COOKIE = "mainspring_csrf"
CSRF_HEADER = "X-CSRF-Token"

REGISTER_ACCEPTED = "Check your inbox: we sent a message to this address with what to do next."
MAIL_ACCEPTED = "If an account uses this address and needs it, a message is on its way."

PASSWORD_METHODS = ("pwd",)  # RFC 8176: signed in with a password
MFA_REQUIRED_EXAMPLE = {
    "type": "urn:mainspring:problem:mfa-required",
    "title": "Two-Factor Sign-In Required",
    "status": 403,
    "detail": "Enter a code from your authenticator app (or a recovery code) to finish signing in.",
    "code": "mfa-required",
    "mfa_token": "eyJhbGciOiJIUzI1NiIsInR5cCI6Im1mYStqd3QifQ...",
    "methods": ["totp", "recovery_code"],
    "expires_in": 300,
}

router = APIRouter(prefix="/auth", tags=["auth"])


def token_response(
    response: Response, settings: Settings, tokens: IssuedTokens, *, cookie: bool
) -> TokenResponse:
    """The OAuth 2.0 answer; in cookie mode the refresh token goes into the cookie only."""
    response.headers["Cache-Control"] = "no-store"
    if not cookie:
        return TokenResponse(
            access_token=tokens.access_token,
            expires_in=tokens.expires_in,
            refresh_token=tokens.refresh_token,
        )
    max_age = max(0, int((tokens.session_expires_at - utcnow()).total_seconds()))
    response.set_cookie(
        REFRESH_COOKIE,
        tokens.refresh_token,
        max_age=max_age,
        path=AUTH_PATH,
        secure=True,
        httponly=True,
        samesite="strict",
    )
    response.set_cookie(
        CSRF_COOKIE, tokens.csrf_token, max_age=max_age, path="/", secure=True, samesite="strict"
    )
    return TokenResponse(
        access_token=tokens.access_token,
        expires_in=tokens.expires_in,
        csrf_token=tokens.csrf_token,
    )


def clear_cookies(response: Response) -> None:
    response.delete_cookie(
        REFRESH_COOKIE, path=AUTH_PATH, secure=True, httponly=True, samesite="strict"
    )
    response.delete_cookie(CSRF_COOKIE, path="/", secure=True, samesite="strict")


@router.post(
    "/register",
    status_code=202,
    summary="Create an account",
    responses=problem_responses(409, 422, 429),
)
async def register(data: RegisterRequest, session: SessionDep, ctx: AccountsContextDep) -> Accepted:
    """Answers 202 with the same body whether or not the address already has an account: a new
    address receives a verification link, a known one a notice for its owner. A taken username
    answers 409 (usernames are public); a weak password 422."""
    await registration_service.register(session, ctx, data)
    return Accepted(detail=REGISTER_ACCEPTED)


@router.post(
    "/verify-email",
    status_code=204,
    summary="Verify an email address with the mailed token",
    responses=problem_responses(400),
)
async def verify_email(data: TokenRequest, session: SessionDep, ctx: AccountsContextDep) -> None:
    """Uses up the token of a verification link. 400 when it is unknown, expired or used."""
    await registration_service.verify_email(session, ctx, data.token)


@router.post(
    "/verify-email/resend",
    status_code=202,
    summary="Mail a new verification link",
    responses=problem_responses(429),
)
async def resend_verification(
    data: EmailRequest, session: SessionDep, ctx: AccountsContextDep
) -> Accepted:
    """Same answer for every address; throttled per address and per client."""
    await registration_service.request_verification(session, ctx, data.email)
    return Accepted(detail=MAIL_ACCEPTED)


@router.post(
    "/login",
    summary="Sign in with email or username and password",
    responses={
        **problem_responses(401, 403, 429),
        403: {
            "description": "Forbidden: the account is disabled, its email is not verified, or "
            "it has two-factor sign-in (`mfa-required`: finish at `/login/two-factor`).",
            "content": {
                PROBLEM_JSON: {
                    "schema": {"$ref": "#/components/schemas/Problem"},
                    "example": MFA_REQUIRED_EXAMPLE,
                }
            },
        },
    },
)
async def login(
    data: LoginRequest, response: Response, session: SessionDep, ctx: AccountsContextDep
) -> TokenResponse:
    """Returns an access token (JWT) and a refresh token; with `"cookie": true`, the refresh
    token is set as an HttpOnly cookie instead and a CSRF token is returned. 401 for a wrong
    identifier or password (the same for both); 429 after too many failures.

    An account with two-factor sign-in gets no tokens yet: a 403 `mfa-required` problem whose
    `mfa_token` goes, with a code, to `POST /api/v1/auth/login/two-factor`."""
    user = await login_service.authenticate(session, ctx, data.identifier, data.password)
    tokens = await two_factor_service.sign_in(session, ctx, user, methods=PASSWORD_METHODS)
    return token_response(response, ctx.settings, tokens, cookie=data.cookie)


@router.post(
    "/login/two-factor",
    summary="Finish signing in with a code from the authenticator app",
    responses=problem_responses(401, 422, 429),
)
async def login_two_factor(
    data: TwoFactorLoginRequest,
    response: Response,
    session: SessionDep,
    ctx: AccountsContextDep,
) -> TokenResponse:
    """The second step after an `mfa-required` answer: the `mfa_token` and either the `code`
    the app shows or one of the `recovery_code`s. Answers like `/login` (and takes the same
    `cookie` option). The challenge works once and expires (5 minutes by default); 401
    `invalid-mfa-token` when it is spent or expired (sign in again), 401
    `invalid-two-factor-code` for a wrong or replayed code, 429 after too many wrong codes."""
    tokens = await two_factor_service.complete(
        session, ctx, data.mfa_token, code=data.code, recovery_code=data.recovery_code
    )
    return token_response(response, ctx.settings, tokens, cookie=data.cookie)


@router.post(
    "/token",
    summary="OAuth 2.0 token endpoint (password and refresh_token grants)",
    responses=problem_responses(400, 403, 429),
)
async def token(
    form: Annotated[TokenForm, Form()],
    response: Response,
    session: SessionDep,
    ctx: AccountsContextDep,
) -> TokenResponse:
    """Form-encoded, as RFC 6749 wants: `grant_type=password&username=...&password=...` or
    `grant_type=refresh_token&refresh_token=...`. Refusals are 400 problems that also carry
    the OAuth `error` member (`invalid_grant`, `unsupported_grant_type`). The password grant
    issues no tokens to an account with two-factor sign-in: it answers the 403 `mfa-required`
    problem (with `"error": "mfa_required"`), to be finished at `/login/two-factor`."""
    try:
        if form.grant_type == "password":
            if not form.username or not form.password:
                raise InvalidGrant("The password grant needs username and password.")
            user = await login_service.authenticate(session, ctx, form.username, form.password)
            tokens = await two_factor_service.sign_in(session, ctx, user, methods=PASSWORD_METHODS)
        elif form.grant_type == "refresh_token":
            if not form.refresh_token:
                raise InvalidGrant("The refresh_token grant needs refresh_token.")
            tokens = await session_service.refresh(session, ctx, form.refresh_token)
        else:
            raise UnsupportedGrantType()
    except (InvalidCredentials, InvalidRefreshToken) as exc:
        raise InvalidGrant(exc.detail or exc.title) from exc
    except TwoFactorRequired as exc:
        exc.extra.update(error="mfa_required", error_description=exc.detail)
        raise
    return token_response(response, ctx.settings, tokens, cookie=False)


@router.post(
    "/refresh",
    summary="Exchange a refresh token for new tokens",
    responses=problem_responses(401, 403),
)
async def refresh(
    response: Response,
    session: SessionDep,
    ctx: AccountsContextDep,
    data: RefreshRequest | None = None,
    refresh_cookie: Annotated[str | None, Cookie(alias=REFRESH_COOKIE, max_length=128)] = None,
    csrf: Annotated[str | None, Header(alias=CSRF_HEADER, max_length=128)] = None,
) -> TokenResponse:
    """From the body (`refresh_token`), or from the cookie with the `X-CSRF-Token` header. The
    presented token is used up and a new one issued; presenting a used token again revokes the
    whole session (401)."""
    if data is not None and data.refresh_token:
        tokens = await session_service.refresh(session, ctx, data.refresh_token)
        return token_response(response, ctx.settings, tokens, cookie=False)
    if not refresh_cookie:
        raise InvalidRefreshToken()
    tokens = await session_service.refresh(
        session, ctx, refresh_cookie, csrf=csrf, from_cookie=True
    )
    return token_response(response, ctx.settings, tokens, cookie=True)


@router.post(
    "/logout",
    status_code=204,
    summary="Sign out: end the current session",
    responses=problem_responses(401),
)
async def logout(
    principal: CurrentPrincipal, response: Response, session: SessionDep, ctx: AccountsContextDep
) -> None:
    """Revokes the session of the access token: it and its refresh tokens stop working at once.
    Clears the refresh cookie."""
    await session_service.logout(session, ctx, principal)
    clear_cookies(response)


@router.post(
    "/password/forgot",
    status_code=202,
    summary="Mail a password reset link",
    responses=problem_responses(429),
)
async def forgot_password(
    data: EmailRequest, session: SessionDep, ctx: AccountsContextDep
) -> Accepted:
    """Same answer, and the same work, for every address; throttled per address and client."""
    await recovery_service.request_reset(session, ctx, data.email)
    return Accepted(detail=MAIL_ACCEPTED)


@router.post(
    "/password/reset",
    status_code=204,
    summary="Set a new password with the mailed token",
    responses=problem_responses(400, 422),
)
async def reset_password(
    data: ResetPasswordRequest, session: SessionDep, ctx: AccountsContextDep
) -> None:
    """Uses up the token, sets the password, signs the account out everywhere and mails a
    notice. 400 when the token is unknown, expired or used."""
    await recovery_service.reset(session, ctx, data.token, data.new_password)


@router.post(
    "/email/confirm",
    status_code=204,
    summary="Confirm a new email address with the mailed token",
    responses=problem_responses(400, 409),
)
async def confirm_email(data: TokenRequest, session: SessionDep, ctx: AccountsContextDep) -> None:
    """The new address replaces the old one, which receives a notice."""
    await profile_service.confirm_email_change(session, ctx, data.token)


@router.get(
    "/security-events",
    summary="The security audit log (administrators)",
    responses=problem_responses(400, 401, 403),
)
async def security_events(
    _auditor: AuditorPrincipal,
    session: ReadSessionDep,
    listing: CursorSliceDep,
    user_id: Annotated[uuid.UUID | None, Query(description="Events of one user.")] = None,
    kind: Annotated[EventKind | None, Query(description="Events of one kind.")] = None,
) -> CursorPage[SecurityEventView]:
    """Newest first, keyset-paginated (`limit`, `cursor`, `Link: rel="next"`)."""
    items, next_cursor = await audit_service.page(session, listing, user_id=user_id, kind=kind)
    return listing.respond(items, next_cursor)
