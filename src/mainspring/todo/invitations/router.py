"""``/api/v1/projects/{project_id}/invitations`` (owners) and
``/api/v1/projects/invitations/accept`` (the invited person). Thin handlers."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response

from mainspring.core.auth import CurrentPrincipal
from mainspring.core.deps import ReadSessionDep, SessionDep, SettingsDep
from mainspring.core.errors import problem_responses
from mainspring.core.idempotency import IdempotencyDep, IdempotentRoute
from mainspring.core.pagination import PageSliceDep
from mainspring.core.schemas import Page
from mainspring.todo.deps import InviteLimit, ResendLimit
from mainspring.todo.invitations.schemas import Invitation, InvitationAccept, InvitationCreate
from mainspring.todo.invitations.service import invitation_service
from mainspring.todo.projects.schemas import Project

router = APIRouter(
    prefix="/projects", tags=["task manager: invitations"], route_class=IdempotentRoute
)


@router.post(
    "/invitations/accept",
    summary="Accept an invitation",
    responses=problem_responses(401, 404, 409, 410, 422),
)
async def accept_invitation(
    data: InvitationAccept, session: SessionDep, principal: CurrentPrincipal
) -> Project:
    """Join the project of the invitation mailed to you, with its role, signed in with any
    account (register first if you have none). An invitation works once: accepting it again
    answers 409 `invitation-accepted`, after a revocation 410 `invitation-revoked`, past its
    expiry 410 `invitation-expired`."""
    return await invitation_service.accept(session, principal.user_id, data.token)


@router.post(
    "/{project_id}/invitations",
    status_code=201,
    summary="Invite an e-mail address",
    responses=problem_responses(401, 403, 404, 409, 429),
    dependencies=[InviteLimit],
)
async def create_invitation(
    project_id: uuid.UUID,
    data: InvitationCreate,
    request: Request,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentPrincipal,
    idempotency: IdempotencyDep,
) -> Invitation:
    """Mail a single-use link that lets its reader join the project with `role` (owners
    only). The answer is the same whether or not the address has an account, and names no
    account. At most 30 invitations or additions a minute."""
    invitation = await invitation_service.invite(
        session, settings, principal.user_id, project_id, data
    )
    response.headers["Location"] = str(
        request.app.url_path_for(
            "get_invitation", project_id=project_id, invitation_id=invitation.id
        )
    )
    return invitation


@router.get(
    "/{project_id}/invitations",
    summary="List open invitations",
    responses=problem_responses(401, 403, 404),
)
async def list_invitations(
    project_id: uuid.UUID,
    session: ReadSessionDep,
    principal: CurrentPrincipal,
    listing: PageSliceDep,
) -> Page[Invitation]:
    """The project's invitations neither accepted nor revoked, newest first, `pending` or
    `expired` (owners only)."""
    items, total = await invitation_service.open_page(
        session, principal.user_id, project_id, listing
    )
    return listing.respond(items, total)


@router.get(
    "/{project_id}/invitations/{invitation_id}",
    summary="Get an invitation",
    responses=problem_responses(401, 403, 404),
)
async def get_invitation(
    project_id: uuid.UUID,
    invitation_id: uuid.UUID,
    session: ReadSessionDep,
    principal: CurrentPrincipal,
) -> Invitation:
    """One invitation of the project and its status (owners only)."""
    return await invitation_service.get(session, principal.user_id, project_id, invitation_id)


@router.post(
    "/{project_id}/invitations/{invitation_id}/resend",
    summary="Resend an invitation",
    responses=problem_responses(401, 403, 404, 409, 410, 429),
    dependencies=[ResendLimit],
)
async def resend_invitation(
    project_id: uuid.UUID,
    invitation_id: uuid.UUID,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentPrincipal,
) -> Invitation:
    """Mail a new link (the previous one stops working) valid for another 7 days (owners
    only). An invitation is resent at most once every 10 minutes (429 `resend-too-soon` with
    `Retry-After`), and an owner resends at most 20 an hour."""
    return await invitation_service.resend(
        session, settings, principal.user_id, project_id, invitation_id
    )


@router.delete(
    "/{project_id}/invitations/{invitation_id}",
    status_code=204,
    summary="Revoke an invitation",
    responses=problem_responses(401, 403, 404, 409),
)
async def revoke_invitation(
    project_id: uuid.UUID,
    invitation_id: uuid.UUID,
    session: SessionDep,
    principal: CurrentPrincipal,
) -> None:
    """Its link stops working: following it answers 410 `invitation-revoked` (owners only;
    an accepted invitation answers 409: remove the member instead)."""
    await invitation_service.revoke(session, principal.user_id, project_id, invitation_id)
