"""Every query about comments: each read selects the columns of ``schemas.Comment`` with its
author's username (one statement) and returns the schema."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Select, select

from mainspring.accounts.models import User
from mainspring.core.pagination import CursorSlice, SortKey, keyset_page
from mainspring.core.repository import RepositoryBase
from mainspring.todo.comments import schemas
from mainspring.todo.models import Comment


def _comments() -> Select[Any]:
    columns: tuple[Any, ...] = (
        Comment.id,
        Comment.task_id,
        Comment.author_id,
        User.username,
        Comment.body,
        Comment.body_html,
        Comment.created_at,
        Comment.updated_at,
    )
    return select(*columns).outerjoin(User, User.id == Comment.author_id)


def _comment(row: Any) -> schemas.Comment:
    author = None
    if row.author_id is not None and row.username is not None:
        author = {"id": row.author_id, "username": row.username}
    return schemas.Comment.model_validate(
        {
            "id": row.id,
            "task_id": row.task_id,
            "author": author,
            "body": row.body,
            "body_html": row.body_html,
            "created_at": row.created_at,
            "updated_at": row.updated_at,
        }
    )


class CommentRepository(RepositoryBase[Comment]):
    model = Comment

    async def page(
        self, task_id: uuid.UUID, listing: CursorSlice
    ) -> tuple[list[schemas.Comment], str | None]:
        """A slice of the task's comments, oldest first (ids are time-ordered UUIDv7)."""
        rows, next_cursor = await keyset_page(
            self.session,
            _comments().where(Comment.task_id == task_id),
            [SortKey(Comment.id, descending=False)],
            listing,
            key_of=lambda row: [row.id],
            scalars=False,
        )
        return [_comment(row) for row in rows], next_cursor

    async def read(self, task_id: uuid.UUID, comment_id: uuid.UUID) -> schemas.Comment | None:
        row = (
            await self.session.execute(
                _comments().where(Comment.id == comment_id, Comment.task_id == task_id)
            )
        ).first()
        return None if row is None else _comment(row)

    async def load(self, task_id: uuid.UUID, comment_id: uuid.UUID) -> Comment | None:
        """The comment entity, to change it."""
        comment: Comment | None = await self.session.scalar(
            select(Comment).where(Comment.id == comment_id, Comment.task_id == task_id)
        )
        return comment
