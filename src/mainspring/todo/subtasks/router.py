"""``/api/v1/tasks/{task_id}/subtasks``: a task's checklist. Each change bumps the task's
version, so a client holding the task's ETag sees it is stale."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response

from mainspring.core.auth import CurrentPrincipal
from mainspring.core.deps import ReadSessionDep, SessionDep
from mainspring.core.errors import problem_responses
from mainspring.core.idempotency import IdempotencyDep, IdempotentRoute
from mainspring.todo.subtasks.service import subtask_service
from mainspring.todo.tasks.schemas import Subtask, SubtaskCreate, SubtaskUpdate

router = APIRouter(
    prefix="/tasks/{task_id}/subtasks", tags=["task manager: tasks"], route_class=IdempotentRoute
)
WRITE_PROBLEMS = problem_responses(401, 403, 404, 409)


@router.post("", status_code=201, summary="Add a subtask", responses=WRITE_PROBLEMS)
async def add_subtask(
    task_id: uuid.UUID,
    data: SubtaskCreate,
    request: Request,
    response: Response,
    session: SessionDep,
    principal: CurrentPrincipal,
    idempotency: IdempotencyDep,
) -> Subtask:
    """Add a checklist item at the end (a task has at most 100). Honours `Idempotency-Key`."""
    subtask = await subtask_service.add(session, principal.user_id, task_id, data)
    response.headers["Location"] = str(
        request.app.url_path_for("get_subtask", task_id=task_id, subtask_id=subtask.id)
    )
    return subtask


@router.get("/{subtask_id}", summary="Get a subtask", responses=problem_responses(401, 404))
async def get_subtask(
    task_id: uuid.UUID, subtask_id: uuid.UUID, session: ReadSessionDep, principal: CurrentPrincipal
) -> Subtask:
    """One checklist item (the task's representation lists them all)."""
    return await subtask_service.get(session, principal.user_id, task_id, subtask_id)


@router.patch("/{subtask_id}", summary="Change a subtask", responses=WRITE_PROBLEMS)
async def update_subtask(
    task_id: uuid.UUID,
    subtask_id: uuid.UUID,
    data: SubtaskUpdate,
    session: SessionDep,
    principal: CurrentPrincipal,
) -> Subtask:
    """Rename, tick or untick, or reorder a checklist item (merge semantics)."""
    return await subtask_service.update(session, principal.user_id, task_id, subtask_id, data)


@router.delete(
    "/{subtask_id}", status_code=204, summary="Remove a subtask", responses=WRITE_PROBLEMS
)
async def remove_subtask(
    task_id: uuid.UUID, subtask_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal
) -> None:
    """Remove a checklist item; the others close the gap."""
    await subtask_service.remove(session, principal.user_id, task_id, subtask_id)
