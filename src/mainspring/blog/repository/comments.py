"""The comments' queries: one comment, or the article's comments thread by thread, each as
a reader sees it (one statement)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Row, Select, select

from mainspring.blog import schemas
from mainspring.blog.models import Comment
from mainspring.blog.repository.authors import AUTHOR_COLUMNS, author_fields, following, with_author
from mainspring.core.pagination import CursorSlice, SortKey, keyset_page
from mainspring.core.repository import RepositoryBase

THREAD_ORDER = (
    SortKey(Comment.thread_number, descending=False),
    SortKey(Comment.number, descending=False),
)


_COMMENT_COLUMNS: tuple[Any, ...] = (
    Comment.id,
    Comment.number,
    Comment.parent_id,
    Comment.body,
    Comment.body_html,
    Comment.created_at,
    Comment.updated_at,
)


def _comment(row: Row[Any]) -> schemas.Comment:
    return schemas.Comment.model_validate(
        {
            "id": row.id,
            "number": row.number,
            "parent_id": row.parent_id,
            "body": row.body,
            "body_html": row.body_html,
            "created_at": row.created_at,
            "updated_at": row.updated_at,
            "author": author_fields(row),
        }
    )


class CommentRepository(RepositoryBase[Comment]):
    model = Comment
    not_found = "The comment does not exist."

    def _select(self, viewer_id: uuid.UUID | None) -> Select[Any]:
        stmt = select(
            *_COMMENT_COLUMNS,
            Comment.thread_number,
            *AUTHOR_COLUMNS,
            following(viewer_id, Comment.author_id).label("following"),
        )
        return with_author(stmt, Comment.author_id)

    async def in_article(self, article_id: uuid.UUID, comment_id: uuid.UUID) -> Comment | None:
        comment: Comment | None = await self.session.scalar(
            select(Comment).where(Comment.article_id == article_id, Comment.id == comment_id)
        )
        return comment

    async def by_number(self, article_id: uuid.UUID, number: int) -> Comment | None:
        comment: Comment | None = await self.session.scalar(
            select(Comment).where(Comment.article_id == article_id, Comment.number == number)
        )
        return comment

    async def comment(self, comment_id: uuid.UUID, viewer_id: uuid.UUID | None) -> schemas.Comment:
        """One comment as ``viewer_id`` sees it (one statement)."""
        stmt = self._select(viewer_id).where(Comment.id == comment_id)
        return _comment((await self.session.execute(stmt)).one())

    async def threads(
        self, article_id: uuid.UUID, *, listing: CursorSlice, viewer_id: uuid.UUID | None
    ) -> tuple[list[schemas.Comment], str | None]:
        """A slice of the article's comments, thread by thread, oldest first (one statement)."""
        rows, next_cursor = await keyset_page(
            self.session,
            self._select(viewer_id).where(Comment.article_id == article_id),
            THREAD_ORDER,
            listing,
            key_of=lambda row: [row.thread_number, row.number],
            scalars=False,
        )
        return [_comment(row) for row in rows], next_cursor

    async def latest(
        self, article_id: uuid.UUID, *, limit: int, viewer_id: uuid.UUID | None
    ) -> list[schemas.Comment]:
        """The article's ``limit`` latest comments, newest first, replies among them."""
        stmt = (
            self._select(viewer_id)
            .where(Comment.article_id == article_id)
            .order_by(Comment.number.desc())
            .limit(limit)
        )
        return [_comment(row) for row in (await self.session.execute(stmt)).all()]
