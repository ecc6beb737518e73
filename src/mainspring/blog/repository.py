"""Every query of the blog.

A page of articles costs two statements whatever its size: one SELECT returns each article with
its author's profile and the reader's ``favorited`` and ``following`` flags (as ``EXISTS``
subqueries, each an index probe), and one more returns the tags of all the page's articles.
Counters (favorites, comment numbers) change with ``UPDATE ... SET n = n + 1``: the database
does the arithmetic under its row lock, so concurrent favorites are never lost.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Row,
    Select,
    delete,
    desc,
    exists,
    false,
    func,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from mainspring.accounts.models import User
from mainspring.blog import search
from mainspring.blog.filters import ArticleFilter
from mainspring.blog.models import Article, ArticleStatus, ArticleTag, Comment, Favorite, Tag
from mainspring.blog.records import ArticleRecord, AuthorRecord, CommentRecord, TagRecord
from mainspring.blog.tags import normalize_tag
from mainspring.core.db import utcnow, uuid7
from mainspring.core.pagination import (
    CursorCodec,
    CursorParams,
    PageParams,
    SortKey,
    keyset_page,
    offset_page,
)
from mainspring.core.repository import RepositoryBase
from mainspring.social.models import Follow, ProfileDetails

NEWEST_FIRST = (SortKey(Article.published_at), SortKey(Article.id))
"""The order of published articles: the index ``(status, published_at, id)`` read backwards."""
NEWEST_DRAFTS_FIRST = (SortKey(Article.created_at), SortKey(Article.id))
"""The order of an author's drafts and scheduled articles (they have no ``published_at``)."""
THREAD_ORDER = (
    SortKey(Comment.thread_number, descending=False),
    SortKey(Comment.number, descending=False),
)


def _insert(session: AsyncSession) -> Any:
    """The dialect's INSERT, which has ``on_conflict_do_nothing`` on SQLite and PostgreSQL."""
    dialect = session.get_bind().dialect.name
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


# --- what a reader sees -------------------------------------------------------------------------


def username_key(username: str) -> str:
    """How ``users.username_key`` stores a username: usernames are unique whatever the case."""
    return username.lower()


def _author_columns() -> tuple[Any, ...]:
    """The author's profile: the account's names and the social module's bio and image."""
    return (User.id, User.username, User.display_name, ProfileDetails.bio, ProfileDetails.image)


def _with_authors(stmt: Select[Any], author_id: Any) -> Select[Any]:
    return stmt.join(User, User.id == author_id).outerjoin(
        ProfileDetails, ProfileDetails.user_id == User.id
    )


def _following(viewer_id: uuid.UUID | None, author_id: Any) -> ColumnElement[bool]:
    if viewer_id is None:
        return false()
    return exists().where(Follow.follower_id == viewer_id, Follow.followee_id == author_id)


def _favorited(viewer_id: uuid.UUID | None) -> ColumnElement[bool]:
    if viewer_id is None:
        return false()
    return exists().where(Favorite.user_id == viewer_id, Favorite.article_id == Article.id)


def _author(row: Row[Any]) -> AuthorRecord:
    return AuthorRecord(
        id=row.id,
        username=row.username,
        display_name=row.display_name,
        bio=row.bio,
        image=row.image,
        following=bool(row.following),
    )


class ArticleRepository(RepositoryBase[Article]):
    model = Article
    not_found = "The article does not exist."

    # --- rows ---

    async def by_slug(self, slug: str) -> Article | None:
        article: Article | None = await self.session.scalar(
            select(Article).where(Article.slug == slug)
        )
        return article

    async def slug_taken(self, slug: str) -> bool:
        return bool(await self.session.scalar(select(exists().where(Article.slug == slug))))

    async def author(self, username: str) -> tuple[uuid.UUID, str] | None:
        """The id and exact spelling of the user called ``username`` (any case)."""
        row = (
            await self.session.execute(
                select(User.id, User.username).where(User.username_key == username_key(username))
            )
        ).first()
        return (row.id, row.username) if row else None

    # --- records ---

    def _reader_select(self, viewer_id: uuid.UUID | None) -> Select[Any]:
        stmt = select(
            Article,
            *_author_columns(),
            _favorited(viewer_id).label("favorited"),
            _following(viewer_id, Article.author_id).label("following"),
        )
        return _with_authors(stmt, Article.author_id)

    async def _tags_of(self, article_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[str]]:
        if not article_ids:
            return {}
        rows = await self.session.execute(
            select(ArticleTag.article_id, Tag.name)
            .join(Tag, Tag.id == ArticleTag.tag_id)
            .where(ArticleTag.article_id.in_(article_ids))
            .order_by(ArticleTag.article_id, ArticleTag.position)
        )
        tags: dict[uuid.UUID, list[str]] = {}
        for article_id, name in rows:
            tags.setdefault(article_id, []).append(name)
        return tags

    async def _records(self, rows: Sequence[Row[Any]]) -> list[ArticleRecord]:
        tags = await self._tags_of([row.Article.id for row in rows])
        return [_article_record(row, tags.get(row.Article.id, [])) for row in rows]

    async def record(self, article_id: uuid.UUID, viewer_id: uuid.UUID | None) -> ArticleRecord:
        """One article as ``viewer_id`` sees it, read afresh (counters may just have moved)."""
        stmt = (
            self._reader_select(viewer_id)
            .where(Article.id == article_id)
            .execution_options(populate_existing=True)
        )
        row = (await self.session.execute(stmt)).one()
        return (await self._records([row]))[0]

    def conditions(self, filters: ArticleFilter) -> list[ColumnElement[bool]]:
        """The WHERE conditions of ``filters`` (the status condition is the caller's)."""
        where: list[ColumnElement[bool]] = []
        if filters.author is not None:
            author_id = (
                select(User.id)
                .where(User.username_key == username_key(filters.author))
                .scalar_subquery()
            )
            where.append(Article.author_id == author_id)
        if filters.tag is not None:
            tagged = (
                select(ArticleTag.article_id)
                .join(Tag, Tag.id == ArticleTag.tag_id)
                .where(Tag.name == normalize_tag(filters.tag))
            )
            where.append(Article.id.in_(tagged))
        if filters.favorited_by is not None:
            favorites = (
                select(Favorite.article_id)
                .join(User, User.id == Favorite.user_id)
                .where(User.username_key == username_key(filters.favorited_by))
            )
            where.append(Article.id.in_(favorites))
        if filters.followed_by is not None:
            followees = select(Follow.followee_id).where(Follow.follower_id == filters.followed_by)
            where.append(Article.author_id.in_(followees))
        if filters.query:
            where.append(search.matches(self.session.get_bind().dialect.name, filters.query))
        return where

    async def keyset(
        self,
        where: Sequence[ColumnElement[bool]],
        *,
        keys: Sequence[SortKey],
        params: CursorParams,
        codec: CursorCodec,
        viewer_id: uuid.UUID | None,
    ) -> tuple[list[ArticleRecord], str | None]:
        """A slice of the articles matching ``where`` in the order of ``keys``."""
        rows, next_cursor = await keyset_page(
            self.session,
            self._reader_select(viewer_id).where(*where),
            keys,
            params,
            codec,
            key_of=lambda row: [getattr(row.Article, key.name) for key in keys],
            scalars=False,
        )
        return await self._records(rows), next_cursor

    async def latest(
        self, where: Sequence[ColumnElement[bool]], *, limit: int
    ) -> list[ArticleRecord]:
        """The ``limit`` newest published articles matching ``where``, as anyone sees them."""
        stmt = (
            self._reader_select(None)
            .where(*where)
            .order_by(Article.published_at.desc(), Article.id.desc())
            .limit(limit)
        )
        return await self._records(list((await self.session.execute(stmt)).all()))

    async def window(
        self,
        where: Sequence[ColumnElement[bool]],
        *,
        offset: int,
        limit: int,
        viewer_id: uuid.UUID | None,
    ) -> tuple[list[ArticleRecord], int]:
        """Articles ``offset`` to ``offset + limit`` matching ``where``, newest first, and how
        many match in all (the RealWorld API's offset pagination)."""
        total = await self.session.scalar(select(func.count(Article.id)).where(*where))
        stmt = (
            self._reader_select(viewer_id)
            .where(*where)
            .order_by(Article.published_at.desc(), Article.id.desc())
            .offset(offset)
            .limit(limit)
        )
        rows = list((await self.session.execute(stmt)).all())
        return await self._records(rows), int(total or 0)

    # --- tags ---

    async def set_tags(self, article_id: uuid.UUID, names: Sequence[str]) -> None:
        """Replace the article's tags with ``names``, in this order; new names become tags.

        ``ON CONFLICT DO NOTHING`` lets two articles introduce the same new tag at once.
        """
        await self.session.execute(delete(ArticleTag).where(ArticleTag.article_id == article_id))
        if not names:
            return
        insert = _insert(self.session)
        await self.session.execute(
            insert(Tag)
            .values([{"id": uuid7(), "name": name} for name in names])
            .on_conflict_do_nothing(index_elements=["name"])
        )
        ids = dict(
            (await self.session.execute(select(Tag.name, Tag.id).where(Tag.name.in_(names)))).all()
        )
        await self.session.execute(
            insert(ArticleTag).values(
                [
                    {"article_id": article_id, "tag_id": ids[name], "position": position}
                    for position, name in enumerate(names)
                ]
            )
        )

    # --- favorites ---

    async def add_favorite(self, user_id: uuid.UUID, article_id: uuid.UUID) -> None:
        """Favorite once: a second favorite changes nothing, the count included."""
        insert = _insert(self.session)
        result: Any = await self.session.execute(
            insert(Favorite)
            .values(user_id=user_id, article_id=article_id, created_at=utcnow())
            .on_conflict_do_nothing(index_elements=["user_id", "article_id"])
        )
        if result.rowcount:
            await self._count_favorites(article_id, +1)

    async def remove_favorite(self, user_id: uuid.UUID, article_id: uuid.UUID) -> None:
        result: Any = await self.session.execute(
            delete(Favorite).where(Favorite.user_id == user_id, Favorite.article_id == article_id)
        )
        if result.rowcount:
            await self._count_favorites(article_id, -1)

    async def _count_favorites(self, article_id: uuid.UUID, step: int) -> None:
        await self.session.execute(
            update(Article)
            .where(Article.id == article_id)
            # Naming updated_at keeps its on-update default off: a favorite is not an edit.
            .values(favorites_count=Article.favorites_count + step, updated_at=Article.updated_at)
            .execution_options(synchronize_session=False)
        )

    # --- scheduling ---

    async def publish_due(self, now: datetime) -> int:
        """Publish every scheduled article whose time has come; how many were."""
        result: Any = await self.session.execute(
            update(Article)
            .where(Article.status == ArticleStatus.SCHEDULED, Article.publish_at <= now)
            .values(
                status=ArticleStatus.PUBLISHED,
                published_at=Article.publish_at,  # SET reads the row as it was: both see it
                publish_at=None,
                version=Article.version + 1,
            )
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount or 0)

    # --- comments ---

    async def next_comment_number(self, article_id: uuid.UUID) -> int:
        """Take the article's next comment number; the row lock orders concurrent commenters."""
        number = await self.session.scalar(
            update(Article)
            .where(Article.id == article_id)
            .values(comment_seq=Article.comment_seq + 1, updated_at=Article.updated_at)
            .returning(Article.comment_seq)
            .execution_options(synchronize_session=False)
        )
        return int(number or 0)


def _article_record(row: Row[Any], tags: list[str]) -> ArticleRecord:
    article: Article = row.Article
    return ArticleRecord(
        id=article.id,
        author_id=article.author_id,
        slug=article.slug,
        title=article.title,
        description=article.description,
        body=article.body,
        body_html=article.body_html,
        status=article.status,
        publish_at=article.publish_at,
        published_at=article.published_at,
        created_at=article.created_at,
        updated_at=article.updated_at,
        favorites_count=article.favorites_count,
        version=article.version,
        tags=tags,
        favorited=bool(row.favorited),
        author=_author(row),
    )


class CommentRepository(RepositoryBase[Comment]):
    model = Comment
    not_found = "The comment does not exist."

    def _reader_select(self, viewer_id: uuid.UUID | None) -> Select[Any]:
        stmt = select(
            Comment, *_author_columns(), _following(viewer_id, Comment.author_id).label("following")
        )
        return _with_authors(stmt, Comment.author_id)

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

    async def record(self, comment_id: uuid.UUID, viewer_id: uuid.UUID | None) -> CommentRecord:
        stmt = (
            self._reader_select(viewer_id)
            .where(Comment.id == comment_id)
            .execution_options(populate_existing=True)
        )
        return _comment_record((await self.session.execute(stmt)).one())

    async def threads(
        self,
        article_id: uuid.UUID,
        *,
        params: CursorParams,
        codec: CursorCodec,
        viewer_id: uuid.UUID | None,
    ) -> tuple[list[CommentRecord], str | None]:
        """A slice of the article's comments, thread by thread, oldest first."""
        rows, next_cursor = await keyset_page(
            self.session,
            self._reader_select(viewer_id).where(Comment.article_id == article_id),
            THREAD_ORDER,
            params,
            codec,
            key_of=lambda row: [row.Comment.thread_number, row.Comment.number],
            scalars=False,
        )
        return [_comment_record(row) for row in rows], next_cursor

    async def latest(
        self, article_id: uuid.UUID, *, limit: int, viewer_id: uuid.UUID | None
    ) -> list[CommentRecord]:
        """The article's ``limit`` latest comments, newest first, replies among them."""
        stmt = (
            self._reader_select(viewer_id)
            .where(Comment.article_id == article_id)
            .order_by(Comment.number.desc())
            .limit(limit)
        )
        return [_comment_record(row) for row in (await self.session.execute(stmt)).all()]


def _comment_record(row: Row[Any]) -> CommentRecord:
    comment: Comment = row.Comment
    return CommentRecord(
        id=comment.id,
        article_id=comment.article_id,
        parent_id=comment.parent_id,
        number=comment.number,
        thread_number=comment.thread_number,
        body=comment.body,
        body_html=comment.body_html,
        created_at=comment.created_at,
        updated_at=comment.updated_at,
        author=_author(row),
    )


class TagRepository(RepositoryBase[Tag]):
    model = Tag

    async def usage(self, params: PageParams) -> tuple[list[TagRecord], int]:
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
        rows, total = await offset_page(self.session, stmt, params, scalars=False)
        return [TagRecord(name=row.name, articles_count=row.articles_count) for row in rows], total

    async def exists(self, name: str) -> bool:
        return bool(await self.session.scalar(select(exists().where(Tag.name == name))))
