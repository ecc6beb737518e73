"""``/api/v1/tasks/{task_id}/comments``: the conversation on a task."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response

from mainspring.core.auth import CurrentPrincipal
from mainspring.core.deps import ReadSessionDep, SessionDep
from mainspring.core.errors import problem_responses
from mainspring.core.idempotency import IdempotencyDep, IdempotentRoute
from mainspring.core.pagination import CursorSliceDep
from mainspring.core.schemas import CursorPage
from mainspring.todo.comments.schemas import Comment, CommentCreate, CommentUpdate
from mainspring.todo.comments.service import comment_service

router = APIRouter(
    prefix="/tasks/{task_id}/comments", tags=["task manager: tasks"], route_class=IdempotentRoute
)
WRITE_PROBLEMS = problem_responses(401, 403, 404, 409)


@router.get("", summary="List a task's comments", responses=problem_responses(400, 401, 404))
async def list_comments(
    task_id: uuid.UUID,
    session: ReadSessionDep,
    principal: CurrentPrincipal,
    listing: CursorSliceDep,
) -> CursorPage[Comment]:
    """The comments on a task, oldest first."""
    items, next_cursor = await comment_service.page(session, principal.user_id, task_id, listing)
    return listing.respond(items, next_cursor)


@router.post("", status_code=201, summary="Comment on a task", responses=WRITE_PROBLEMS)
async def create_comment(
    task_id: uuid.UUID,
    data: CommentCreate,
    request: Request,
    response: Response,
    session: SessionDep,
    principal: CurrentPrincipal,
    idempotency: IdempotencyDep,
) -> Comment:
    """Add a comment (Markdown) to a task of a project where you are owner or editor. Honours
    `Idempotency-Key`."""
    comment = await comment_service.create(session, principal.user_id, task_id, data)
    response.headers["Location"] = str(
        request.app.url_path_for("get_comment", task_id=task_id, comment_id=comment.id)
    )
    return comment


@router.get("/{comment_id}", summary="Get a comment", responses=problem_responses(401, 404))
async def get_comment(
    task_id: uuid.UUID, comment_id: uuid.UUID, session: ReadSessionDep, principal: CurrentPrincipal
) -> Comment:
    """One comment of a task."""
    return await comment_service.get(session, principal.user_id, task_id, comment_id)


@router.patch("/{comment_id}", summary="Edit a comment", responses=WRITE_PROBLEMS)
async def update_comment(
    task_id: uuid.UUID,
    comment_id: uuid.UUID,
    data: CommentUpdate,
    session: SessionDep,
    principal: CurrentPrincipal,
) -> Comment:
    """Edit your own comment."""
    return await comment_service.update(session, principal.user_id, task_id, comment_id, data)


@router.delete(
    "/{comment_id}", status_code=204, summary="Delete a comment", responses=WRITE_PROBLEMS
)
async def delete_comment(
    task_id: uuid.UUID, comment_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal
) -> None:
    """Delete your own comment, or any comment of a project you own."""
    await comment_service.delete(session, principal.user_id, task_id, comment_id)
