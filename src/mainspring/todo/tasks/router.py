"""``/api/v1/tasks``: the task list, tasks, moves, bulk changes and history. Thin handlers."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from mainspring.core.auth import CurrentPrincipal
from mainspring.core.conditional import NOT_MODIFIED, ConditionalDep
from mainspring.core.deps import DatabaseDep, ReadSessionDep, SessionDep
from mainspring.core.errors import problem_responses
from mainspring.core.idempotency import IdempotencyDep, IdempotentRoute
from mainspring.core.pagination import CursorSliceDep, PageSliceDep
from mainspring.core.schemas import CursorPage, Page
from mainspring.todo.tasks.filters import TaskFilters, task_filters
from mainspring.todo.tasks.schemas import (
    Activity,
    Task,
    TaskBulkMove,
    TaskBulkUpdate,
    TaskCreate,
    TaskDetail,
    TaskList,
    TaskMove,
    TaskUpdate,
)
from mainspring.todo.tasks.service import task_etag, task_service

router = APIRouter(prefix="/tasks", tags=["task manager: tasks"], route_class=IdempotentRoute)


@router.get("", summary="List tasks", responses=problem_responses(401))
async def list_tasks(
    database: DatabaseDep,
    principal: CurrentPrincipal,
    filters: Annotated[TaskFilters, Depends(task_filters)],
    listing: PageSliceDep,
) -> Page[Task]:
    """Tasks of the projects you are a member of, filtered and sorted, a page at a time with
    the total count. Several values of one filter mean *any of* (labels: *all of*)."""
    async with database.read_connection() as connection:
        items, total = await task_service.page(connection, principal.user_id, filters, listing)
    return listing.respond(items, total)


@router.post(
    "",
    status_code=201,
    summary="Create a task",
    responses=problem_responses(401, 403, 404, 409),
)
async def create_task(
    data: TaskCreate,
    request: Request,
    response: Response,
    session: SessionDep,
    principal: CurrentPrincipal,
    idempotency: IdempotencyDep,
    conditional: ConditionalDep,
) -> TaskDetail:
    """Create a task in a project where you are owner or editor (default: your inbox), last
    in its column unless `position` says where. Honours `Idempotency-Key`."""
    task = await task_service.create(session, principal.user_id, data)
    conditional.stamp(task_etag(task.version))
    response.headers["Location"] = str(request.app.url_path_for("get_task", task_id=task.id))
    return task


@router.post(
    "/bulk-update",
    summary="Change several tasks",
    responses=problem_responses(401, 403, 404, 409),
)
async def bulk_update_tasks(
    data: TaskBulkUpdate, session: SessionDep, principal: CurrentPrincipal
) -> TaskList:
    """Apply one change to up to 100 tasks, all or nothing: every task must be in a project
    where you are owner or editor."""
    return TaskList(items=await task_service.bulk_update(session, principal.user_id, data))


@router.post(
    "/bulk-move",
    summary="Move several tasks",
    responses=problem_responses(401, 403, 404, 409),
)
async def bulk_move_tasks(
    data: TaskBulkMove, session: SessionDep, principal: CurrentPrincipal
) -> TaskList:
    """Move up to 100 tasks to a column (status), a project and a position, all or nothing;
    they land next to each other in the order given. Positions stay consistent."""
    return TaskList(items=await task_service.bulk_move(session, principal.user_id, data))


@router.get(
    "/{task_id}",
    response_model=TaskDetail,
    summary="Get a task",
    responses={**NOT_MODIFIED, **problem_responses(401, 404)},
)
async def get_task(
    task_id: uuid.UUID,
    session: ReadSessionDep,
    principal: CurrentPrincipal,
    conditional: ConditionalDep,
) -> TaskDetail | Response:
    """A task with its description and checklist, and its version as `ETag`
    (`If-None-Match` answers 304 while it is current)."""
    task = await task_service.get(session, principal.user_id, task_id)
    if conditional.fresh(task_etag(task.version)):
        return conditional.not_modified()
    return task


@router.patch(
    "/{task_id}",
    summary="Change a task",
    responses=problem_responses(401, 403, 404, 409, 412, 428),
)
async def update_task(
    task_id: uuid.UUID,
    data: TaskUpdate,
    session: SessionDep,
    principal: CurrentPrincipal,
    conditional: ConditionalDep,
) -> TaskDetail:
    """Merge-patch a task. `If-Match` is required (428 without it): send the ETag you read,
    and a 412 tells you someone changed the task meanwhile (`If-Match: *` overwrites
    regardless)."""
    task = await task_service.update(session, principal.user_id, task_id, data, conditional)
    conditional.stamp(task_etag(task.version))
    return task


@router.delete(
    "/{task_id}",
    status_code=204,
    summary="Delete a task",
    responses=problem_responses(401, 403, 404, 409, 412),
)
async def delete_task(
    task_id: uuid.UUID,
    session: SessionDep,
    principal: CurrentPrincipal,
    conditional: ConditionalDep,
) -> None:
    """Delete a task with its checklist, comments and history (`If-Match` honoured)."""
    await task_service.delete(session, principal.user_id, task_id, conditional)


@router.post(
    "/{task_id}/move",
    summary="Move a task",
    responses=problem_responses(401, 403, 404, 409, 412),
)
async def move_task(
    task_id: uuid.UUID,
    data: TaskMove,
    session: SessionDep,
    principal: CurrentPrincipal,
    conditional: ConditionalDep,
) -> TaskDetail:
    """Move a task to another place in its column, another column (status) or another
    project; the other tasks' positions close and open around it (`If-Match` honoured)."""
    task = await task_service.move(session, principal.user_id, task_id, data, conditional)
    conditional.stamp(task_etag(task.version))
    return task


@router.get(
    "/{task_id}/activity",
    summary="A task's history",
    responses=problem_responses(400, 401, 404),
)
async def task_activity(
    task_id: uuid.UUID,
    session: ReadSessionDep,
    principal: CurrentPrincipal,
    listing: CursorSliceDep,
) -> CursorPage[Activity]:
    """Who changed what and when, newest first."""
    items, next_cursor = await task_service.activity(session, principal.user_id, task_id, listing)
    return listing.respond(items, next_cursor)
