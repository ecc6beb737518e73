"""``/api/v1/projects``: projects and their members. Thin handlers: parse, call the service,
answer."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from mainspring.core.auth import CurrentPrincipal
from mainspring.core.deps import ReadSessionDep, SessionDep, SettingsDep
from mainspring.core.errors import problem_responses
from mainspring.core.idempotency import IdempotencyDep, IdempotentRoute
from mainspring.core.pagination import PageSliceDep
from mainspring.core.schemas import Page
from mainspring.todo.deps import InviteLimit
from mainspring.todo.invitations.schemas import Invitation, InvitationCreate
from mainspring.todo.invitations.service import invitation_service
from mainspring.todo.projects.schemas import (
    Member,
    MemberInvite,
    MemberUpdate,
    Project,
    ProjectCreate,
    ProjectUpdate,
)
from mainspring.todo.projects.service import project_service

router = APIRouter(prefix="/projects", tags=["task manager: projects"], route_class=IdempotentRoute)


@router.get("", summary="List your projects", responses=problem_responses(401))
async def list_projects(
    session: SessionDep,
    principal: CurrentPrincipal,
    listing: PageSliceDep,
    archived: Annotated[bool, Query(description="List archived projects instead.")] = False,
) -> Page[Project]:
    """The projects you are a member of, with your role in each: your inbox first (created on
    first use), then by name."""
    items, total = await project_service.page(
        session, principal.user_id, archived=archived, listing=listing
    )
    return listing.respond(items, total)


@router.post("", status_code=201, summary="Create a project", responses=problem_responses(401, 409))
async def create_project(
    data: ProjectCreate,
    request: Request,
    response: Response,
    session: SessionDep,
    principal: CurrentPrincipal,
    idempotency: IdempotencyDep,
) -> Project:
    """Create a project; you are its owner. Honours `Idempotency-Key`."""
    project = await project_service.create(session, principal.user_id, data)
    response.headers["Location"] = str(
        request.app.url_path_for("get_project", project_id=project.id)
    )
    return project


@router.get("/inbox", summary="Your inbox", responses=problem_responses(401))
async def get_inbox(session: SessionDep, principal: CurrentPrincipal) -> Project:
    """Your personal inbox project: where tasks created without a project go. It is created on
    first use and cannot be shared, archived or deleted."""
    inbox = await project_service.inbox(session, principal.user_id)
    return await project_service.get(session, principal.user_id, inbox.id)


@router.get("/{project_id}", summary="Get a project", responses=problem_responses(401, 404))
async def get_project(
    project_id: uuid.UUID, session: ReadSessionDep, principal: CurrentPrincipal
) -> Project:
    """A project you are a member of (404 for anyone else)."""
    return await project_service.get(session, principal.user_id, project_id)


@router.patch(
    "/{project_id}",
    summary="Change a project",
    responses=problem_responses(401, 403, 404, 409),
)
async def update_project(
    project_id: uuid.UUID, data: ProjectUpdate, session: SessionDep, principal: CurrentPrincipal
) -> Project:
    """Rename, describe, archive or unarchive a project (owners only; merge semantics). The
    tasks of an archived project are read-only."""
    return await project_service.update(session, principal.user_id, project_id, data)


@router.delete(
    "/{project_id}",
    status_code=204,
    summary="Delete a project",
    responses=problem_responses(401, 403, 404, 409),
)
async def delete_project(
    project_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal
) -> None:
    """Delete a project with all its tasks (owners only; not your inbox)."""
    await project_service.delete(session, principal.user_id, project_id)


@router.get(
    "/{project_id}/members",
    summary="List a project's members",
    responses=problem_responses(401, 404),
)
async def list_members(
    project_id: uuid.UUID,
    session: ReadSessionDep,
    principal: CurrentPrincipal,
    listing: PageSliceDep,
) -> Page[Member]:
    """The members of a project and their roles, by username."""
    items, total = await project_service.members(session, principal.user_id, project_id, listing)
    return listing.respond(items, total)


@router.post(
    "/{project_id}/members",
    status_code=201,
    response_model=Member | Invitation,
    summary="Add a member, or invite an address",
    responses={
        202: {"model": Invitation, "description": "An e-mail address was invited."},
        **problem_responses(401, 403, 404, 409, 429),
    },
    dependencies=[InviteLimit],
)
async def add_member(
    project_id: uuid.UUID,
    data: MemberInvite,
    request: Request,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentPrincipal,
) -> Member | Invitation:
    """Owners only. By `username`: the user becomes a member now (201, told by mail). By
    `email`: the address is invited (202 with the invitation, exactly as `POST
    /projects/{id}/invitations`), whether or not it has an account: the answer never says, and
    names no username until the person accepts. At most 30 a minute."""
    if data.email is not None:
        invitation = await invitation_service.invite(
            session,
            settings,
            principal.user_id,
            project_id,
            InvitationCreate(email=data.email, role=data.role),
        )
        response.status_code = 202
        response.headers["Location"] = str(
            request.app.url_path_for(
                "get_invitation", project_id=project_id, invitation_id=invitation.id
            )
        )
        return invitation
    member = await project_service.add_member(session, principal.user_id, project_id, data)
    response.headers["Location"] = str(
        request.app.url_path_for("get_member", project_id=project_id, user_id=member.user_id)
    )
    return member


@router.get(
    "/{project_id}/members/{user_id}",
    summary="Get a member",
    responses=problem_responses(401, 404),
)
async def get_member(
    project_id: uuid.UUID, user_id: uuid.UUID, session: ReadSessionDep, principal: CurrentPrincipal
) -> Member:
    """One member of a project and their role."""
    return await project_service.member(session, principal.user_id, project_id, user_id)


@router.patch(
    "/{project_id}/members/{user_id}",
    summary="Change a member's role",
    responses=problem_responses(401, 403, 404, 409),
)
async def update_member(
    project_id: uuid.UUID,
    user_id: uuid.UUID,
    data: MemberUpdate,
    session: SessionDep,
    principal: CurrentPrincipal,
) -> Member:
    """Make a member owner, editor or viewer (owners only). The last owner stays owner."""
    return await project_service.change_role(session, principal.user_id, project_id, user_id, data)


@router.delete(
    "/{project_id}/members/{user_id}",
    status_code=204,
    summary="Remove a member, or leave",
    responses=problem_responses(401, 403, 404, 409),
)
async def remove_member(
    project_id: uuid.UUID, user_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal
) -> None:
    """Owners remove anyone; every member may remove themselves (leave), except the last
    owner. The member's tasks in the project are unassigned."""
    await project_service.remove_member(session, principal.user_id, project_id, user_id)
