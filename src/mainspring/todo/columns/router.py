"""``/api/v1/projects/{project_id}/columns``: a project's board columns. Members read them;
owners create, change (rename, recolour, WIP limit, done flag, position, archive) and delete
them. Thin handlers."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from mainspring.core.auth import CurrentPrincipal
from mainspring.core.conditional import NOT_MODIFIED, ConditionalDep
from mainspring.core.deps import ReadSessionDep, SessionDep
from mainspring.core.errors import problem_responses
from mainspring.core.idempotency import IdempotencyDep, IdempotentRoute
from mainspring.core.pagination import PageSliceDep
from mainspring.core.schemas import Page
from mainspring.todo.columns.schemas import Column, ColumnCreate, ColumnUpdate
from mainspring.todo.columns.service import column_etag, column_service

router = APIRouter(
    prefix="/projects/{project_id}/columns",
    tags=["task manager: board columns"],
    route_class=IdempotentRoute,
)


@router.get("", summary="List a project's columns", responses=problem_responses(401, 404))
async def list_columns(
    project_id: uuid.UUID,
    session: ReadSessionDep,
    principal: CurrentPrincipal,
    listing: PageSliceDep,
) -> Page[Column]:
    """The board's columns in order, archived ones included (`archived_at` set), each with
    its task count (members)."""
    items, total = await column_service.page(session, principal.user_id, project_id, listing)
    return listing.respond(items, total)


@router.post(
    "",
    status_code=201,
    summary="Add a column",
    responses=problem_responses(401, 403, 404, 409),
)
async def create_column(
    project_id: uuid.UUID,
    data: ColumnCreate,
    request: Request,
    response: Response,
    session: SessionDep,
    principal: CurrentPrincipal,
    idempotency: IdempotencyDep,
) -> Column:
    """Add a column to the board, last unless `position` says where (owners only; at most
    50 columns). Honours `Idempotency-Key`."""
    column = await column_service.create(session, principal.user_id, project_id, data)
    response.headers["Location"] = str(
        request.app.url_path_for("get_column", project_id=project_id, column_id=column.id)
    )
    return column


@router.get(
    "/{column_id}",
    response_model=Column,
    summary="Get a column",
    responses={**NOT_MODIFIED, **problem_responses(401, 404)},
)
async def get_column(
    project_id: uuid.UUID,
    column_id: uuid.UUID,
    session: ReadSessionDep,
    principal: CurrentPrincipal,
    conditional: ConditionalDep,
) -> Column | Response:
    """One column with its task count and an `ETag` (`If-None-Match` answers 304)."""
    column = await column_service.get(session, principal.user_id, project_id, column_id)
    if conditional.fresh(column_etag(column)):
        return conditional.not_modified()
    return column


@router.patch(
    "/{column_id}",
    summary="Change a column",
    responses=problem_responses(401, 403, 404, 409, 412),
)
async def update_column(
    project_id: uuid.UUID,
    column_id: uuid.UUID,
    data: ColumnUpdate,
    session: SessionDep,
    principal: CurrentPrincipal,
    conditional: ConditionalDep,
) -> Column:
    """Merge-patch a column (owners only): rename, recolour, set or clear (`null`) the WIP
    limit, flag it as a done column (its tasks' `completed_at` follow), move it on the board
    (`position`: the others close up), archive or restore it. A board keeps at least one
    column that is not archived (409 `last-column`). `If-Match` honoured when sent."""
    column = await column_service.update(
        session, principal.user_id, project_id, column_id, data, conditional
    )
    conditional.stamp(column_etag(column))
    return column


@router.delete(
    "/{column_id}",
    status_code=204,
    summary="Delete a column",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def delete_column(
    project_id: uuid.UUID,
    column_id: uuid.UUID,
    session: SessionDep,
    principal: CurrentPrincipal,
    move_tasks_to: Annotated[
        uuid.UUID | None,
        Query(description="Another column of the project: the tasks go to its end, in order."),
    ] = None,
) -> None:
    """Delete a column (owners only). If it holds tasks, `move_tasks_to` names where they go
    (409 `column-not-empty` without it; 409 `wip-limit-reached` if they do not fit)."""
    await column_service.delete(session, principal.user_id, project_id, column_id, move_tasks_to)
