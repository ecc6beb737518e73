"""``/api/v1/users``: my account (``/me``...) and the administration of users.

Administrators (permission ``users:read`` to look, ``users:manage`` to change) see emails;
nobody else ever sees another user's email from these endpoints.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from mainspring.accounts.deps import AccountsContextDep, AdminPrincipal, CurrentUser
from mainspring.accounts.routers.auth import MAIL_ACCEPTED, clear_cookies
from mainspring.accounts.schemas import (
    Accepted,
    AdminUser,
    ChangeEmailRequest,
    ChangePasswordRequest,
    Me,
    PasswordConfirmation,
    ProfileUpdate,
    RoleChange,
    SecurityEventView,
    SessionView,
)
from mainspring.accounts.service.admin import admin_service
from mainspring.accounts.service.audit import audit_service
from mainspring.accounts.service.profile import profile_service
from mainspring.accounts.service.sessions import session_service
from mainspring.core.auth import CurrentPrincipal, Principal, Role, require_permission
from mainspring.core.deps import CursorSliceDep, ReadSessionDep, SessionDep
from mainspring.core.errors import problem_responses
from mainspring.core.pagination import PageSliceDep
from mainspring.core.schemas import CursorPage, Page

router = APIRouter(prefix="/users", tags=["users"])
UserReader = Annotated[Principal, Depends(require_permission("users:read"))]


# --- me -----------------------------------------------------------------------------------------


@router.get("/me", summary="My account", responses=problem_responses(401))
async def get_me(principal: CurrentPrincipal, session: ReadSessionDep) -> Me:
    """Your account, with whether signing in asks for a second factor."""
    return await profile_service.me(session, principal.user_id)


@router.patch("/me", summary="Update my profile", responses=problem_responses(401, 422))
async def update_me(data: ProfileUpdate, user: CurrentUser, session: SessionDep) -> Me:
    """Merge semantics: only `display_name` can be changed here."""
    return await profile_service.update(session, user, data)


@router.delete(
    "/me",
    status_code=204,
    summary="Delete my account",
    responses=problem_responses(401, 403, 409, 429),
)
async def delete_me(
    data: PasswordConfirmation,
    principal: CurrentPrincipal,
    response: Response,
    session: SessionDep,
    ctx: AccountsContextDep,
) -> None:
    """Needs the password (in the body). Personal data is erased and every session ends; the
    last administrator cannot delete their account (409)."""
    await profile_service.delete(session, ctx, principal.user_id, data.password)
    clear_cookies(response)


@router.post(
    "/me/password",
    status_code=204,
    summary="Change my password",
    responses=problem_responses(401, 403, 429),
)
async def change_password(
    data: ChangePasswordRequest,
    principal: CurrentPrincipal,
    session: SessionDep,
    ctx: AccountsContextDep,
) -> None:
    """Needs the current password (403 when wrong). Every other session ends; a notice is
    mailed."""
    await profile_service.change_password(
        session, ctx, principal, data.current_password, data.new_password
    )


@router.post(
    "/me/email",
    status_code=202,
    summary="Change my email address",
    responses=problem_responses(401, 403, 429),
)
async def change_email(
    data: ChangeEmailRequest,
    principal: CurrentPrincipal,
    session: SessionDep,
    ctx: AccountsContextDep,
) -> Accepted:
    """Needs the password. A link is mailed to the new address; the change takes effect when
    it is confirmed (`POST /api/v1/auth/email/confirm`), and the old address is then told."""
    await profile_service.request_email_change(
        session, ctx, principal.user_id, data.new_email, data.password
    )
    return Accepted(detail=MAIL_ACCEPTED)


@router.get(
    "/me/sessions",
    summary="My sessions (signed-in devices)",
    responses=problem_responses(400, 401),
)
async def list_sessions(
    principal: CurrentPrincipal,
    session: ReadSessionDep,
    listing: CursorSliceDep,
) -> CursorPage[SessionView]:
    """Live sessions, newest first, with the address and browser last seen; `current` marks
    the one this request comes from."""
    items, next_cursor = await session_service.page(session, listing, principal)
    return listing.respond(items, next_cursor)


@router.post(
    "/me/sessions/revoke-others",
    status_code=204,
    summary="Sign out everywhere else",
    responses=problem_responses(401),
)
async def revoke_other_sessions(
    principal: CurrentPrincipal, session: SessionDep, ctx: AccountsContextDep
) -> None:
    """Ends every session but the current one."""
    await session_service.revoke_others(session, ctx, principal)


@router.delete(
    "/me/sessions/{session_id}",
    status_code=204,
    summary="Sign out one session",
    responses=problem_responses(401, 404),
)
async def revoke_session(
    session_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: SessionDep,
    ctx: AccountsContextDep,
) -> None:
    """Its access and refresh tokens stop working at once. 404 for a session that is not
    yours or has already ended."""
    await session_service.revoke_one(session, ctx, principal, session_id)


@router.get(
    "/me/security-events",
    summary="My account's security events",
    responses=problem_responses(400, 401),
)
async def my_security_events(
    principal: CurrentPrincipal,
    session: ReadSessionDep,
    listing: CursorSliceDep,
) -> CursorPage[SecurityEventView]:
    """Sign-ins, failures, password and email changes of your account, newest first."""
    items, next_cursor = await audit_service.page(session, listing, user_id=principal.user_id)
    return listing.respond(items, next_cursor)


# --- administration -----------------------------------------------------------------------------


@router.get("", summary="List and search users", responses=problem_responses(401, 403))
async def list_users(
    _reader: UserReader,
    session: ReadSessionDep,
    listing: PageSliceDep,
    q: Annotated[
        str | None,
        Query(max_length=100, description="Prefix of the username or email.", examples=["ada"]),
    ] = None,
    role: Annotated[Role | None, Query(description="Only users with this role.")] = None,
) -> Page[AdminUser]:
    """Newest first, paginated (`page`, `page_size`, with the total and `Link` headers)."""
    items, total = await admin_service.search(session, listing, query=q, role=role)
    return listing.respond(items, total)


@router.get("/{user_id}", summary="One user", responses=problem_responses(401, 403, 404))
async def get_user(user_id: uuid.UUID, _reader: UserReader, session: ReadSessionDep) -> AdminUser:
    """With the email, the role and whether the account is verified or disabled."""
    return await admin_service.view(session, user_id)


@router.post(
    "/{user_id}/disable",
    summary="Disable a user",
    responses=problem_responses(401, 403, 404, 409),
)
async def disable_user(
    user_id: uuid.UUID, admin: AdminPrincipal, session: SessionDep, ctx: AccountsContextDep
) -> AdminUser:
    """The user's sessions end at once and they cannot sign in until enabled again. The last
    administrator cannot be disabled (409)."""
    return await admin_service.disable(session, ctx, admin, user_id)


@router.post(
    "/{user_id}/enable",
    summary="Enable a disabled user",
    responses=problem_responses(401, 403, 404),
)
async def enable_user(
    user_id: uuid.UUID, admin: AdminPrincipal, session: SessionDep, ctx: AccountsContextDep
) -> AdminUser:
    return await admin_service.enable(session, ctx, admin, user_id)


@router.put(
    "/{user_id}/role",
    summary="Change a user's role",
    responses=problem_responses(401, 403, 404, 409),
)
async def set_role(
    user_id: uuid.UUID,
    data: RoleChange,
    admin: AdminPrincipal,
    session: SessionDep,
    ctx: AccountsContextDep,
) -> AdminUser:
    """`user`, `moderator` or `admin`. The user's sessions end, so the new role applies at
    once. The last administrator cannot be demoted (409)."""
    return await admin_service.set_role(session, ctx, admin, user_id, data.role)
