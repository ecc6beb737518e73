"""Comments on tasks: members read them, owners and editors write them, authors edit their
own, and authors or project owners delete them. Writing one adds a history entry to the task
but leaves the task's version alone: a comment is not part of the task's representation."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from mainspring.core.markdown import render_markdown
from mainspring.core.pagination import CursorSlice
from mainspring.todo.comments import schemas
from mainspring.todo.comments.repository import CommentRepository
from mainspring.todo.errors import NotFoundInTask, ProjectArchived, RoleForbids, TaskNotFound
from mainspring.todo.models import Comment
from mainspring.todo.roles import Role, require_task_editor
from mainspring.todo.tasks import history
from mainspring.todo.tasks.repository import TaskAccess, TaskRepository

EXCERPT = 80


class CommentService:
    async def page(
        self,
        session: AsyncSession,
        user_id: uuid.UUID,
        task_id: uuid.UUID,
        listing: CursorSlice,
    ) -> tuple[list[schemas.Comment], str | None]:
        """A task's comments, oldest first, a keyset slice at a time."""
        await _access(session, user_id, task_id)
        return await CommentRepository(session).page(task_id, listing)

    async def get(
        self, session: AsyncSession, user_id: uuid.UUID, task_id: uuid.UUID, comment_id: uuid.UUID
    ) -> schemas.Comment:
        await _access(session, user_id, task_id)
        return await _read(session, task_id, comment_id)

    async def create(
        self,
        session: AsyncSession,
        user_id: uuid.UUID,
        task_id: uuid.UUID,
        data: schemas.CommentCreate,
    ) -> schemas.Comment:
        _writable(await _access(session, user_id, task_id))
        comment = Comment(
            task_id=task_id, author_id=user_id, body=data.body, body_html=render_markdown(data.body)
        )
        session.add(comment)
        await session.flush()
        change = {"field": "comment", "old": None, "new": data.body[:EXCERPT]}
        history.record(session, task_id, user_id, "commented", [change])
        return await _read(session, task_id, comment.id)

    async def update(
        self,
        session: AsyncSession,
        user_id: uuid.UUID,
        task_id: uuid.UUID,
        comment_id: uuid.UUID,
        data: schemas.CommentUpdate,
    ) -> schemas.Comment:
        _writable(await _access(session, user_id, task_id))
        comment = await _find(session, task_id, comment_id)
        if comment.author_id != user_id:
            raise RoleForbids("Only its author can edit a comment.")
        comment.body = data.body
        comment.body_html = render_markdown(data.body)
        await session.flush()
        return await _read(session, task_id, comment_id)

    async def delete(
        self, session: AsyncSession, user_id: uuid.UUID, task_id: uuid.UUID, comment_id: uuid.UUID
    ) -> None:
        access = await _access(session, user_id, task_id)
        _writable(access)
        comment = await _find(session, task_id, comment_id)
        if comment.author_id != user_id and access.role != Role.OWNER:
            raise RoleForbids("Only its author or a project owner can delete a comment.")
        await session.delete(comment)
        await session.flush()


async def _access(session: AsyncSession, user_id: uuid.UUID, task_id: uuid.UUID) -> TaskAccess:
    access = await TaskRepository(session).access(task_id, user_id)
    if access is None:
        raise TaskNotFound()
    return access


def _writable(access: TaskAccess) -> None:
    require_task_editor(access.role)
    if access.archived:
        raise ProjectArchived()


async def _find(session: AsyncSession, task_id: uuid.UUID, comment_id: uuid.UUID) -> Comment:
    found = await CommentRepository(session).load(task_id, comment_id)
    if found is None:
        raise NotFoundInTask("The task has no such comment.")
    return found


async def _read(
    session: AsyncSession, task_id: uuid.UUID, comment_id: uuid.UUID
) -> schemas.Comment:
    """The comment as ``GET`` shows it: every path ends with this read."""
    found = await CommentRepository(session).read(task_id, comment_id)
    if found is None:
        raise NotFoundInTask("The task has no such comment.")
    return found


comment_service = CommentService()
