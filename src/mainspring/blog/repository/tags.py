"""The tags' queries."""

from __future__ import annotations

from typing import Any

from sqlalchemy import desc, exists, func, select

from mainspring.blog import schemas
from mainspring.blog.models import Article, ArticleStatus, ArticleTag, Tag
from mainspring.core.pagination import PageSlice, offset_page
from mainspring.core.repository import RepositoryBase


class TagRepository(RepositoryBase[Tag]):
    model = Tag

    async def usage(self, listing: PageSlice) -> tuple[list[schemas.TagUsage], int]:
        """Tags of published articles, the most used first, with their counts."""
        columns: tuple[Any, ...] = (
            Tag.name,
            func.count(ArticleTag.article_id).label("articles_count"),
        )
        stmt = (
            select(*columns)
            .join(ArticleTag, ArticleTag.tag_id == Tag.id)
            .join(Article, Article.id == ArticleTag.article_id)
            .where(Article.status == ArticleStatus.PUBLISHED)
            .group_by(Tag.id, Tag.name)
            .order_by(desc("articles_count"), Tag.name)
        )
        rows, total = await offset_page(self.session, stmt, listing, scalars=False)
        return [schemas.TagUsage.model_validate(row, from_attributes=True) for row in rows], total

    async def exists(self, name: str) -> bool:
        return bool(await self.session.scalar(select(exists().where(Tag.name == name))))
