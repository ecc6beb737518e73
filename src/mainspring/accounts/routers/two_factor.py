"""``/api/v1/users/me/two-factor``: my authenticator app and recovery codes; and
``/api/v1/users/{user_id}/two-factor`` for administrators.

The life of a second factor, for a signed-in user:

1. ``POST /me/two-factor/enrolment`` with the password: a new secret, its ``otpauth://`` URI
   and a QR code (show it; the app scans it). Again to start over while it is pending.
2. ``POST /me/two-factor/confirm`` with the first code the app shows: two-factor sign-in is
   on, and the answer holds ten recovery codes, the only time they are shown.
3. From now on ``/auth/login`` answers ``mfa-required`` and ``/auth/login/two-factor`` finishes.
4. ``POST /me/two-factor/recovery-codes`` with a code: ten new codes, the old ones retired.
5. ``DELETE /me/two-factor`` with the password and a code: off, secret and codes deleted.

Secrets and recovery codes are answered with ``Cache-Control: no-store``. The sign-in step
itself lives with the other sign-in routes (``routers/auth.py``).
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response

from mainspring.accounts.deps import AccountsContextDep, AdminPrincipal, CurrentUser
from mainspring.accounts.schemas import (
    PasswordConfirmation,
    RecoveryCodes,
    SecondFactor,
    TwoFactorAdminView,
    TwoFactorConfirmRequest,
    TwoFactorDisableRequest,
    TwoFactorEnrolment,
    TwoFactorStatusView,
)
from mainspring.accounts.service.two_factor import two_factor_service
from mainspring.core.auth import CurrentPrincipal, Principal, require_permission
from mainspring.core.deps import ReadSessionDep, SessionDep
from mainspring.core.errors import problem_responses

MY_TWO_FACTOR = "/api/v1/users/me/two-factor"

router = APIRouter(prefix="/users", tags=["two-factor"])
UserReader = Annotated[Principal, Depends(require_permission("users:read"))]


def _no_store(response: Response) -> None:
    response.headers["Cache-Control"] = "no-store"


@router.get(
    "/me/two-factor",
    summary="My two-factor sign-in: on or off, recovery codes left",
    responses=problem_responses(401),
)
async def my_two_factor(
    principal: CurrentPrincipal, session: ReadSessionDep
) -> TwoFactorStatusView:
    """On, pending (enrolled, not confirmed yet) or off; since when; recovery codes left."""
    return await two_factor_service.status(session, principal.user_id)


@router.post(
    "/me/two-factor/enrolment",
    status_code=201,
    summary="Start adding an authenticator app",
    responses=problem_responses(401, 403, 409, 429),
)
async def enrol(
    data: PasswordConfirmation,
    principal: CurrentPrincipal,
    response: Response,
    session: SessionDep,
    ctx: AccountsContextDep,
) -> TwoFactorEnrolment:
    """Needs the password (403 when wrong). Answers a new secret, its `otpauth://` URI and a
    QR code of it; nothing changes at sign-in until a first code confirms it
    (`POST /me/two-factor/confirm`). Calling it again replaces a pending enrolment; 409 when
    two-factor sign-in is already on."""
    enrolment = await two_factor_service.enrol(session, ctx, principal.user_id, data.password)
    _no_store(response)
    response.headers["Location"] = MY_TWO_FACTOR
    return enrolment


@router.post(
    "/me/two-factor/confirm",
    summary="Turn two-factor sign-in on with a first code",
    responses=problem_responses(401, 403, 409, 429),
)
async def confirm(
    data: TwoFactorConfirmRequest,
    user: CurrentUser,
    response: Response,
    session: SessionDep,
    ctx: AccountsContextDep,
) -> RecoveryCodes:
    """The first code the app shows proves it holds the secret. Answers ten single-use
    recovery codes: keep them somewhere safe, they are never shown again. 403 for a wrong
    code, 409 without a pending enrolment, 429 after too many wrong codes."""
    codes = await two_factor_service.confirm(session, ctx, user, data.code)
    _no_store(response)
    return RecoveryCodes(recovery_codes=codes)


@router.post(
    "/me/two-factor/recovery-codes",
    summary="Replace my recovery codes",
    responses=problem_responses(401, 403, 409, 429),
)
async def regenerate_recovery_codes(
    data: SecondFactor,
    user: CurrentUser,
    response: Response,
    session: SessionDep,
    ctx: AccountsContextDep,
) -> RecoveryCodes:
    """Needs a `code` from the app (or a `recovery_code`). Ten new codes; every older one
    stops working. 403 for a wrong code, 409 when two-factor sign-in is off."""
    codes = await two_factor_service.regenerate_recovery_codes(
        session, ctx, user, code=data.code, recovery_code=data.recovery_code
    )
    _no_store(response)
    return RecoveryCodes(recovery_codes=codes)


@router.delete(
    "/me/two-factor",
    status_code=204,
    summary="Turn two-factor sign-in off",
    responses=problem_responses(401, 403, 409, 429),
)
async def disable(
    data: TwoFactorDisableRequest,
    principal: CurrentPrincipal,
    session: SessionDep,
    ctx: AccountsContextDep,
) -> None:
    """Needs the password and a `code` from the app (or a `recovery_code`); 403 when either is
    wrong. The secret and the recovery codes are deleted, and a notice is mailed."""
    await two_factor_service.disable(
        session,
        ctx,
        principal.user_id,
        data.password,
        code=data.code,
        recovery_code=data.recovery_code,
    )


@router.get(
    "/{user_id}/two-factor",
    summary="Whether a user has two-factor sign-in (administrators)",
    responses=problem_responses(401, 403, 404),
)
async def user_two_factor(
    user_id: uuid.UUID, _reader: UserReader, session: ReadSessionDep
) -> TwoFactorAdminView:
    """On or off, nothing more: administrators never see a secret or a recovery code."""
    return await two_factor_service.admin_view(session, user_id)


@router.delete(
    "/{user_id}/two-factor",
    status_code=204,
    summary="Remove a user's second factor (administrators)",
    responses=problem_responses(401, 403, 404, 409),
)
async def remove_user_two_factor(
    user_id: uuid.UUID, admin: AdminPrincipal, session: SessionDep, ctx: AccountsContextDep
) -> None:
    """For a support case (a lost phone and lost recovery codes), once the person's identity
    is established by other means: the authenticator and recovery codes are deleted, the user
    signs in with the password alone until they enrol again, is told by mail, and the removal
    is in the audit log with the administrator's id. 409 when the user has none."""
    await two_factor_service.remove(session, ctx, admin, user_id)
