"""``/api/v1/tasks``: the task list, tasks, moves, bulk changes and history. Thin handlers."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response

from mainspring.core.deps import CursorSliceDep, ReadSessionDep, SessionDep
from mainspring.core.errors import problem_responses
from mainspring.core.idempotency import IdempotencyDep, IdempotentRoute
from mainspring.core.pagination import (
    PageParams,
    page_params,
    set_page_links,
)
from mainspring.core.schemas import CursorPage, Page
from mainspring.todo.conditional import if_none_match_hits, task_etag
from mainspring.todo.deps import Caller, IfMatch, IfNoneMatch
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
from mainspring.todo.tasks.service import task_service

router = APIRouter(prefix="/tasks", tags=["task manager: tasks"], route_class=IdempotentRoute)
NOT_MODIFIED: dict[int | str, dict[str, Any]] = {
    304: {"description": "Your copy (If-None-Match) is current."}
}


def _etag(response: Response, task: TaskDetail) -> None:
    response.headers["ETag"] = task_etag(task.version)


@router.get("", summary="List tasks", responses=problem_responses(401))
async def list_tasks(
    request: Request,
    response: Response,
    session: ReadSessionDep,
    caller: Caller,
    filters: Annotated[TaskFilters, Depends(task_filters)],
    params: Annotated[PageParams, Depends(page_params)],
) -> Page[Task]:
    """Tasks of the projects you are a member of, filtered and sorted, a page at a time with
    the total count. Several values of one filter mean *any of* (labels: *all of*)."""
    items, total = await task_service.page(session, caller.user_id, filters, params)
    set_page_links(request, response, params, total)
    return Page(items=items, total=total, page=params.page, page_size=params.page_size)


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
    caller: Caller,
    idempotency: IdempotencyDep,
) -> TaskDetail:
    """Create a task in a project where you are owner or editor (default: your inbox), last
    in its column unless `position` says where. Honours `Idempotency-Key`."""
    task = await task_service.create(session, caller.user_id, data)
    _etag(response, task)
    response.headers["Location"] = str(request.app.url_path_for("get_task", task_id=task.id))
    return task


@router.post(
    "/bulk-update",
    summary="Change several tasks",
    responses=problem_responses(401, 403, 404, 409),
)
async def bulk_update_tasks(data: TaskBulkUpdate, session: SessionDep, caller: Caller) -> TaskList:
    """Apply one change to up to 100 tasks, all or nothing: every task must be in a project
    where you are owner or editor."""
    return TaskList(items=await task_service.bulk_update(session, caller.user_id, data))


@router.post(
    "/bulk-move",
    summary="Move several tasks",
    responses=problem_responses(401, 403, 404, 409),
)
async def bulk_move_tasks(data: TaskBulkMove, session: SessionDep, caller: Caller) -> TaskList:
    """Move up to 100 tasks to a column (status), a project and a position, all or nothing;
    they land next to each other in the order given. Positions stay consistent."""
    return TaskList(items=await task_service.bulk_move(session, caller.user_id, data))


@router.get(
    "/{task_id}",
    response_model=TaskDetail,
    summary="Get a task",
    responses={**NOT_MODIFIED, **problem_responses(401, 404)},
)
async def get_task(
    task_id: uuid.UUID,
    response: Response,
    session: ReadSessionDep,
    caller: Caller,
    if_none_match: IfNoneMatch = None,
) -> TaskDetail | Response:
    """A task with its description and checklist, and its version as `ETag`."""
    task = await task_service.get(session, caller.user_id, task_id)
    etag = task_etag(task.version)
    if if_none_match_hits(if_none_match, etag):
        return Response(status_code=304, headers={"ETag": etag})
    _etag(response, task)
    return task


@router.patch(
    "/{task_id}",
    summary="Change a task",
    responses=problem_responses(401, 403, 404, 409, 412, 428),
)
async def update_task(
    task_id: uuid.UUID,
    data: TaskUpdate,
    response: Response,
    session: SessionDep,
    caller: Caller,
    if_match: IfMatch = None,
) -> TaskDetail:
    """Merge-patch a task. `If-Match` is required: send the ETag you read, and a 412 tells you
    someone changed the task meanwhile (`If-Match: *` overwrites regardless)."""
    task = await task_service.update(session, caller.user_id, task_id, data, if_match=if_match)
    _etag(response, task)
    return task


@router.delete(
    "/{task_id}",
    status_code=204,
    summary="Delete a task",
    responses=problem_responses(401, 403, 404, 409, 412),
)
async def delete_task(
    task_id: uuid.UUID, session: SessionDep, caller: Caller, if_match: IfMatch = None
) -> None:
    """Delete a task with its checklist, comments and history (`If-Match` honoured)."""
    await task_service.delete(session, caller.user_id, task_id, if_match=if_match)


@router.post(
    "/{task_id}/move",
    summary="Move a task",
    responses=problem_responses(401, 403, 404, 409, 412),
)
async def move_task(
    task_id: uuid.UUID,
    data: TaskMove,
    response: Response,
    session: SessionDep,
    caller: Caller,
    if_match: IfMatch = None,
) -> TaskDetail:
    """Move a task to another place in its column, another column (status) or another
    project; the other tasks' positions close and open around it (`If-Match` honoured)."""
    task = await task_service.move(session, caller.user_id, task_id, data, if_match=if_match)
    _etag(response, task)
    return task


@router.get(
    "/{task_id}/activity",
    summary="A task's history",
    responses=problem_responses(400, 401, 404),
)
async def task_activity(
    task_id: uuid.UUID,
    session: ReadSessionDep,
    caller: Caller,
    listing: CursorSliceDep,
) -> CursorPage[Activity]:
    """Who changed what and when, newest first."""
    items, next_cursor = await task_service.activity(
        session, caller.user_id, task_id, listing.params, listing.codec
    )
    return listing.page(items, next_cursor)
