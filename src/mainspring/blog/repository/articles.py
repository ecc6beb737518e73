"""The articles' queries: one article or a page of them as a reader sees them (two
statements whatever the page size), tags, favorites, scheduled publishing, comment numbers."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    Integer,
    Row,
    Select,
    bindparam,
    delete,
    exists,
    false,
    func,
    literal,
    select,
    tuple_,
    union_all,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from mainspring.accounts.models import User
from mainspring.blog import schemas, search
from mainspring.blog.filters import ArticleFilter
from mainspring.blog.models import Article, ArticleStatus, ArticleTag, Favorite, Tag
from mainspring.blog.repository.authors import (
    AUTHOR_COLUMNS,
    author_fields,
    following,
    username_key,
    with_author,
)
from mainspring.blog.tags import normalize_tag
from mainspring.core.db import Reader, dialect_of, utcnow, uuid7
from mainspring.core.pagination import CursorSlice, SortKey, keyset_page
from mainspring.core.repository import RepositoryBase
from mainspring.core.sql import dialect_insert, one_of
from mainspring.social.models import Follow

NEWEST_FIRST = (SortKey(Article.published_at), SortKey(Article.id))
"""The order of published articles: the index ``(status, published_at, id)`` read backwards."""
NEWEST_DRAFTS_FIRST = (SortKey(Article.created_at), SortKey(Article.id))
"""The order of an author's drafts and scheduled articles (they have no ``published_at``)."""

SummaryT = TypeVar("SummaryT", bound=schemas.ArticleSummary)


def _insert(session: AsyncSession) -> Any:
    """The dialect's INSERT, which has ``on_conflict_do_nothing`` on SQLite and PostgreSQL."""
    return functools.partial(dialect_insert, dialect_of(session))


_SUMMARY_COLUMNS: tuple[Any, ...] = (
    Article.id,
    Article.author_id,
    Article.version,
    Article.slug,
    Article.title,
    Article.description,
    Article.status,
    Article.publish_at,
    Article.published_at,
    Article.created_at,
    Article.updated_at,
    Article.favorites_count,
)
_BODY_COLUMNS: tuple[Any, ...] = (Article.body, Article.body_html)


def _favorited(viewer_id: Any) -> ColumnElement[bool]:
    if viewer_id is None:
        return false()
    return exists().where(Favorite.user_id == viewer_id, Favorite.article_id == Article.id)


VIEWER = bindparam("viewer_id", type_=Article.author_id.type)
"""The reader, a bound parameter of the statements built once below."""


@functools.cache
def _one_article(signed_in: bool, by_slug: bool) -> Select[Any]:
    """One article's statement, built once per form (anonymous or signed-in reader, by slug or
    by id): every value is a bound parameter (``viewer_id``, ``slug`` or ``article_id``), so a
    request neither builds the statement nor has SQLAlchemy compute its cache key again (both
    cost more CPU than SQLite spends answering it)."""
    viewer = VIEWER if signed_in else None
    stmt = with_author(
        select(
            *_SUMMARY_COLUMNS,
            *_BODY_COLUMNS,
            *AUTHOR_COLUMNS,
            _favorited(viewer).label("favorited"),
            following(viewer, Article.author_id).label("following"),
        ),
        Article.author_id,
    )
    if by_slug:
        return stmt.where(Article.slug == bindparam("slug", type_=Article.slug.type))
    return stmt.where(Article.id == bindparam("article_id", type_=Article.id.type))


@functools.cache
def _feed(after: bool) -> Select[Any]:
    """The feed's statement (published articles by the authors the reader follows, newest
    first), built once per form (first slice, or after a cursor) as ``_one_article`` is:
    every value is a bound parameter (``viewer_id``, ``size``, ``after_published_at``,
    ``after_id``). It walks ``ix_articles_status_published_author`` backwards and keeps the
    entries whose author the reader follows."""
    followees = select(Follow.followee_id).where(Follow.follower_id == VIEWER)
    stmt = with_author(
        select(
            *_SUMMARY_COLUMNS,
            *AUTHOR_COLUMNS,
            _favorited(VIEWER).label("favorited"),
            following(VIEWER, Article.author_id).label("following"),
        ),
        Article.author_id,
    ).where(Article.author_id.in_(followees), Article.status == ArticleStatus.PUBLISHED)
    if after:
        cursor = tuple_(
            bindparam("after_published_at", type_=Article.published_at.type),
            bindparam("after_id", type_=Article.id.type),
        )
        stmt = stmt.where(tuple_(Article.published_at, Article.id) < cursor)
    return stmt.order_by(Article.published_at.desc(), Article.id.desc()).limit(
        bindparam("size", type_=Integer)
    )


@functools.cache
def _tags_of(dialect: str) -> Select[uuid.UUID, str]:
    """The tags of a page of articles, each in its author's order (built once per dialect)."""
    return (
        select(ArticleTag.article_id, Tag.name)
        .join(Tag, Tag.id == ArticleTag.tag_id)
        .where(one_of(ArticleTag.article_id, "article_ids", dialect))
        .order_by(ArticleTag.article_id, ArticleTag.position)
    )


FAVORITE, FOLLOW = 0, 1


@functools.cache
def _reader_flags(dialect: str) -> Any:
    """Which of some articles a reader favorited and which of some authors they follow: one
    statement, each half answered by a primary key that starts with the reader (built once per
    dialect: the id lists are one parameter each on PostgreSQL, ``core.sql.one_of``)."""
    return union_all(
        select(literal(FAVORITE).label("kind"), Favorite.article_id.label("id")).where(
            Favorite.user_id == VIEWER, one_of(Favorite.article_id, "article_ids", dialect)
        ),
        select(literal(FOLLOW), Follow.followee_id).where(
            Follow.follower_id == VIEWER, one_of(Follow.followee_id, "author_ids", dialect)
        ),
    )


_READER_FLAGS_OF_ONE = union_all(
    select(literal(FAVORITE).label("kind"), Favorite.article_id.label("id")).where(
        Favorite.user_id == VIEWER, Favorite.article_id == bindparam("article_id")
    ),
    select(literal(FOLLOW), Follow.followee_id).where(
        Follow.follower_id == VIEWER, Follow.followee_id == bindparam("author_id")
    ),
)
"""The same for one article: plain parameters, where an expanding ``IN`` is rewritten by
SQLAlchemy on every execution (about 5 % of a signed-in single-article read's CPU)."""


async def reader_flags(
    connection: AsyncConnection,
    reader_id: uuid.UUID,
    article_ids: Sequence[uuid.UUID],
    author_ids: Sequence[uuid.UUID],
) -> tuple[set[uuid.UUID], set[uuid.UUID]]:
    """Which of ``article_ids`` the reader favorited, and which of ``author_ids`` they follow:
    the reader's own part of articles everyone else sees alike. One statement (none for no
    articles), on a read connection: the reader's part of a shared answer (``caching.flags``)."""
    if not article_ids:
        return set(), set()
    authors = list(set(author_ids))
    values: dict[str, Any] = {"viewer_id": reader_id}
    if len(article_ids) == 1 and len(authors) == 1:
        statement = _READER_FLAGS_OF_ONE
        values.update(article_id=article_ids[0], author_id=authors[0])
    else:
        statement = _reader_flags(connection.dialect.name)
        values.update(article_ids=list(article_ids), author_ids=authors)
    rows = await connection.execute(statement, values)
    favorited: set[uuid.UUID] = set()
    followed: set[uuid.UUID] = set()
    for kind, row_id in rows:
        (favorited if kind == FAVORITE else followed).add(row_id)
    return favorited, followed


def _article_fields(row: Row[Any], tags: list[str]) -> dict[str, Any]:
    return {
        "id": row.id,
        "slug": row.slug,
        "title": row.title,
        "description": row.description,
        "tags": tags,
        "status": row.status,
        "publish_at": row.publish_at,
        "published_at": row.published_at,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
        "favorites_count": row.favorites_count,
        "favorited": bool(row.favorited),
        "author": author_fields(row),
    }


async def tags_of(reader: Reader, article_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[str]]:
    """The tags of every article of a page, in one statement, each in the author's order."""
    if not article_ids:
        return {}
    rows = await reader.execute(_tags_of(dialect_of(reader)), {"article_ids": list(article_ids)})
    tags: dict[uuid.UUID, list[str]] = {}
    for article_id, name in rows:
        tags.setdefault(article_id, []).append(name)
    return tags


async def build(reader: Reader, rows: Sequence[Row[Any]], schema: type[SummaryT]) -> list[SummaryT]:
    """The response schemas of ``rows``, with their tags (one more statement)."""
    tags = await tags_of(reader, [row.id for row in rows])
    built = []
    for row in rows:
        fields = _article_fields(row, tags.get(row.id, []))
        if schema is schemas.Article:
            fields["body"], fields["body_html"] = row.body, row.body_html
        built.append(schema.of_row(fields, author_id=row.author_id, version=row.version))
    return built


async def feed(
    reader: Reader, viewer_id: uuid.UUID, listing: CursorSlice
) -> tuple[list[schemas.ArticleSummary], str | None]:
    """A slice of the reader's feed (``_feed``): two statements, the slice and its tags."""
    parameters = listing.bound("after_published_at", "after_id")
    stmt = _feed("after_id" in parameters)
    rows = list((await reader.execute(stmt, {**parameters, "viewer_id": viewer_id})).all())
    next_cursor = None
    if len(rows) > listing.limit:
        rows = rows[: listing.limit]
        next_cursor = listing.cursor_for([rows[-1].published_at, rows[-1].id])
    return await build(reader, rows, schemas.ArticleSummary), next_cursor


class ArticleRepository(RepositoryBase[Article]):
    model = Article
    not_found = "The article does not exist."

    # --- rows (the write side) ---

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

    # --- reads: response schemas ---

    def _select(self, viewer_id: uuid.UUID | None, *, body: bool) -> Select[Any]:
        stmt = select(
            *_SUMMARY_COLUMNS,
            *(_BODY_COLUMNS if body else ()),
            *AUTHOR_COLUMNS,
            _favorited(viewer_id).label("favorited"),
            following(viewer_id, Article.author_id).label("following"),
        )
        return with_author(stmt, Article.author_id)

    async def article(
        self,
        viewer_id: uuid.UUID | None,
        *,
        slug: str | None = None,
        article_id: uuid.UUID | None = None,
    ) -> schemas.Article | None:
        """One article (by ``slug`` or ``article_id``), whatever its status, as ``viewer_id``
        sees it; None when there is none. Two statements: the row, its tags."""
        stmt = _one_article(viewer_id is not None, slug is not None)
        parameters: dict[str, Any] = (
            {"slug": slug} if slug is not None else {"article_id": article_id}
        )
        if viewer_id is not None:
            parameters["viewer_id"] = viewer_id
        row = (await self.session.execute(stmt, parameters)).first()
        if row is None:
            return None
        return (await build(self.session, [row], schemas.Article))[0]

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
            where.append(search.matches(dialect_of(self.session), filters.query))
        return where

    async def keyset(
        self,
        where: Sequence[ColumnElement[bool]],
        *,
        keys: Sequence[SortKey],
        listing: CursorSlice,
        viewer_id: uuid.UUID | None,
    ) -> tuple[list[schemas.ArticleSummary], str | None]:
        """A slice of the articles matching ``where`` in the order of ``keys``."""
        rows, next_cursor = await keyset_page(
            self.session,
            self._select(viewer_id, body=False).where(*where),
            keys,
            listing,
            key_of=lambda row: [getattr(row, key.name) for key in keys],
            scalars=False,
        )
        return await build(self.session, rows, schemas.ArticleSummary), next_cursor

    async def latest(
        self, where: Sequence[ColumnElement[bool]], *, limit: int
    ) -> list[schemas.Article]:
        """The ``limit`` newest published articles matching ``where``, as anyone sees them."""
        stmt = (
            self._select(None, body=True)
            .where(*where)
            .order_by(Article.published_at.desc(), Article.id.desc())
            .limit(limit)
        )
        return await build(
            self.session, list((await self.session.execute(stmt)).all()), schemas.Article
        )

    async def window(
        self,
        where: Sequence[ColumnElement[bool]],
        *,
        offset: int,
        limit: int,
        viewer_id: uuid.UUID | None,
        body: bool = False,
    ) -> tuple[list[schemas.ArticleSummary], int]:
        """Articles ``offset`` to ``offset + limit`` matching ``where``, newest first, and how
        many match in all (the RealWorld API's offset pagination): three statements."""
        total = await self.session.scalar(select(func.count(Article.id)).where(*where))
        stmt = (
            self._select(viewer_id, body=False)
            .where(*where)
            .order_by(Article.published_at.desc(), Article.id.desc())
            .offset(offset)
            .limit(limit)
        )
        rows = list((await self.session.execute(stmt)).all())
        return await build(self.session, rows, schemas.ArticleSummary), int(total or 0)

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

    async def add_favorite(self, user_id: uuid.UUID, article_id: uuid.UUID) -> bool:
        """Favorite once: a second favorite changes nothing, the count included. Whether the
        favorite is new."""
        insert = _insert(self.session)
        result: Any = await self.session.execute(
            insert(Favorite)
            .values(user_id=user_id, article_id=article_id, created_at=utcnow())
            .on_conflict_do_nothing(index_elements=["user_id", "article_id"])
        )
        if result.rowcount:
            await self._count_favorites(article_id, +1)
        return bool(result.rowcount)

    async def remove_favorite(self, user_id: uuid.UUID, article_id: uuid.UUID) -> bool:
        result: Any = await self.session.execute(
            delete(Favorite).where(Favorite.user_id == user_id, Favorite.article_id == article_id)
        )
        if result.rowcount:
            await self._count_favorites(article_id, -1)
        return bool(result.rowcount)

    async def _count_favorites(self, article_id: uuid.UUID, step: int) -> None:
        await self.session.execute(
            update(Article)
            .where(Article.id == article_id)
            # Naming updated_at keeps its on-update default off: a favorite is not an edit.
            .values(favorites_count=Article.favorites_count + step, updated_at=Article.updated_at)
            .execution_options(synchronize_session=False)
        )

    # --- scheduling ---

    async def publish_due(self, now: datetime) -> list[str]:
        """Publish every scheduled article whose time has come; the slugs of those published."""
        result = await self.session.execute(
            update(Article)
            .where(Article.status == ArticleStatus.SCHEDULED, Article.publish_at <= now)
            .values(
                status=ArticleStatus.PUBLISHED,
                published_at=Article.publish_at,  # SET reads the row as it was: both see it
                publish_at=None,
                version=Article.version + 1,
            )
            .returning(Article.slug)
            .execution_options(synchronize_session=False)
        )
        return list(result.scalars().all())

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
