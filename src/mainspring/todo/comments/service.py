"""Comments on tasks: members read them, owners and editors write them, authors edit their
own, and authors or project owners delete them. Writing one adds a history entry to the task
but leaves the task's version alone: a comment is not part of the task's representation."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from mainspring.core.markdown import render_markdown
from mainspring.core.pagination import CursorCodec, CursorParams
from mainspring.todo.comments import schemas
from mainspring.todo.comments.repository import CommentRepository
from mainspring.todo.errors import NotFoundInTask, ProjectArchived, RoleForbids, TaskNotFound
from mainspring.todo.models import Comment
from mainspring.todo.roles import Role, require_task_editor
from mainspring.todo.tasks import history
from mainspring.todo.tasks.repository import TaskAccess, TaskRepository
from mainspring.todo.tasks.schemas import UserRef

EXCERPT = 80


class CommentService:
    async def page(
        self,
        session: AsyncSession,
        user_id: uuid.UUID,
        task_id: uuid.UUID,
        params: CursorParams,
        codec: CursorCodec,
    ) -> tuple[list[schemas.Comment], str | None]:
        """A task's comments, oldest first, a keyset slice at a time."""
        await _access(session, user_id, task_id)
        rows, next_cursor = await CommentRepository(session).page(task_id, params, codec)
        return [_out(comment, username) for comment, username in rows], next_cursor

    async def get(
        self, session: AsyncSession, user_id: uuid.UUID, task_id: uuid.UUID, comment_id: uuid.UUID
    ) -> schemas.Comment:
        await _access(session, user_id, task_id)
        comment, username = await _find(session, task_id, comment_id)
        return _out(comment, username)

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
        comment, username = await _find(session, task_id, comment.id)
        return _out(comment, username)

    async def update(
        self,
        session: AsyncSession,
        user_id: uuid.UUID,
        task_id: uuid.UUID,
        comment_id: uuid.UUID,
        data: schemas.CommentUpdate,
    ) -> schemas.Comment:
        _writable(await _access(session, user_id, task_id))
        comment, username = await _find(session, task_id, comment_id)
        if comment.author_id != user_id:
            raise RoleForbids("Only its author can edit a comment.")
        comment.body = data.body
        comment.body_html = render_markdown(data.body)
        await session.flush()
        return _out(comment, username)

    async def delete(
        self, session: AsyncSession, user_id: uuid.UUID, task_id: uuid.UUID, comment_id: uuid.UUID
    ) -> None:
        access = await _access(session, user_id, task_id)
        _writable(access)
        comment, _ = await _find(session, task_id, comment_id)
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


async def _find(
    session: AsyncSession, task_id: uuid.UUID, comment_id: uuid.UUID
) -> tuple[Comment, str | None]:
    found = await CommentRepository(session).find(task_id, comment_id)
    if found is None:
        raise NotFoundInTask("The task has no such comment.")
    return found


def _out(comment: Comment, username: str | None) -> schemas.Comment:
    author = None
    if comment.author_id is not None and username is not None:
        author = UserRef(id=comment.author_id, username=username)
    return schemas.Comment(
        id=comment.id,
        task_id=comment.task_id,
        author=author,
        body=comment.body,
        body_html=comment.body_html,
        created_at=comment.created_at,
        updated_at=comment.updated_at,
    )


comment_service = CommentService()
