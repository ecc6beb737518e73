"""Every query about comments: each comes with its author's username (one statement)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Select, select

from mainspring.accounts.models import User
from mainspring.core.pagination import CursorCodec, CursorParams, SortKey, keyset_page
from mainspring.core.repository import RepositoryBase
from mainspring.todo.models import Comment

CommentRow = tuple[Comment, str | None]


def _with_author() -> Select[Any]:
    columns: tuple[Any, ...] = (Comment, User.username)
    return select(*columns).outerjoin(User, User.id == Comment.author_id)


class CommentRepository(RepositoryBase[Comment]):
    model = Comment

    async def page(
        self, task_id: uuid.UUID, params: CursorParams, codec: CursorCodec
    ) -> tuple[list[CommentRow], str | None]:
        """A slice of the task's comments, oldest first (ids are time-ordered UUIDv7)."""
        rows, next_cursor = await keyset_page(
            self.session,
            _with_author().where(Comment.task_id == task_id),
            [SortKey(Comment.id, descending=False)],
            params,
            codec,
            key_of=lambda row: [row[0].id],
            scalars=False,
        )
        return [(row[0], row[1]) for row in rows], next_cursor

    async def find(self, task_id: uuid.UUID, comment_id: uuid.UUID) -> CommentRow | None:
        row = (
            await self.session.execute(
                _with_author().where(Comment.id == comment_id, Comment.task_id == task_id)
            )
        ).first()
        return (row[0], row[1]) if row else None
