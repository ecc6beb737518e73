"""The blog's tables: articles, their tags, comments and favorites.

Every list the API offers reads an index in its own order (see ``__table_args__``): the global
list ``(status, published_at, id)``, an author's list and the follow feed
``(author_id, status, published_at, id)``, a tag's list ``article_tags (tag_id, article_id)``,
a user's favorites ``article_favorites (user_id, created_at)``, an article's comments
``(article_id, thread_number, number)`` and the scheduler's ``(status, publish_at)``.

Full-text search is not a model: ``articles_fts`` (SQLite FTS5, kept in sync by triggers) and
``ix_articles_search`` (a PostgreSQL GIN expression index) are created by the migration and
registered as unmanaged so that autogenerate leaves them alone.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from mainspring.core.db import Base, IdMixin, TimestampMixin, register_unmanaged, utcnow

register_unmanaged("articles_fts", "ix_articles_search")

TITLE_MAX = 200
DESCRIPTION_MAX = 500
BODY_MAX = 100_000
SLUG_MAX = 120
TAG_MAX = 40
TAGS_PER_ARTICLE_MAX = 10
COMMENT_MAX = 10_000


class ArticleStatus(StrEnum):
    """Where an article is in its life: only ``published`` articles are shown to readers."""

    DRAFT = "draft"
    SCHEDULED = "scheduled"  # published by the background schedule at ``publish_at``
    PUBLISHED = "published"


class Article(IdMixin, TimestampMixin, Base):
    """A Markdown article. ``body_html`` is rendered once per change of ``body``, never per read.

    ``favorites_count`` is a counter cache, changed by the same transaction that adds or removes
    a favorite. ``comment_seq`` numbers the article's comments (the RealWorld API's integer
    comment ids). ``version`` is SQLAlchemy's optimistic lock and part of the ETag.
    """

    __tablename__ = "articles"
    __table_args__ = (
        CheckConstraint("status IN ('draft', 'scheduled', 'published')", name="status"),
        # author_id last: the feed (newest articles of the authors one follows) walks this
        # index newest first and checks each entry's author in the index, not in the row.
        Index("ix_articles_status_published_author", "status", "published_at", "id", "author_id"),
        Index("ix_articles_author_status_published", "author_id", "status", "published_at", "id"),
        Index("ix_articles_author_status_created", "author_id", "status", "created_at", "id"),
        Index("ix_articles_status_publish_at", "status", "publish_at"),
    )

    author_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    slug: Mapped[str] = mapped_column(String(SLUG_MAX), unique=True)
    title: Mapped[str] = mapped_column(String(TITLE_MAX))
    description: Mapped[str] = mapped_column(String(DESCRIPTION_MAX))
    body: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=ArticleStatus.DRAFT)
    publish_at: Mapped[datetime | None] = mapped_column(default=None)
    published_at: Mapped[datetime | None] = mapped_column(default=None)
    favorites_count: Mapped[int] = mapped_column(Integer, default=0)
    comment_seq: Mapped[int] = mapped_column(Integer, default=0)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy reads it


class Tag(IdMixin, Base):
    """A tag name, shared by every article that uses it."""

    __tablename__ = "blog_tags"

    name: Mapped[str] = mapped_column(String(TAG_MAX), unique=True)


class ArticleTag(Base):
    """An article's tag, with its ``position``: tags are listed in the order the author gave."""

    __tablename__ = "article_tags"
    __table_args__ = (Index("ix_article_tags_tag_article", "tag_id", "article_id"),)

    article_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )
    tag_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("blog_tags.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer)


class Favorite(Base):
    """A user's favorite article (at most one per pair: the primary key)."""

    __tablename__ = "article_favorites"
    __table_args__ = (
        Index("ix_article_favorites_user_created", "user_id", "created_at"),
        Index("ix_article_favorites_article_id", "article_id"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    article_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Comment(IdMixin, TimestampMixin, Base):
    """A comment on an article, or a reply to one (one level: a reply's parent is top-level).

    ``number`` is the comment's integer id within its article, taken from
    ``Article.comment_seq`` (the RealWorld API shows it). ``thread_number`` is the number of the
    thread's top-level comment (its own number for a top-level comment), so
    ``ORDER BY thread_number, number`` lists threads oldest first, each with its replies right
    under it, and a keyset over that pair paginates threads without gaps or repeats.
    """

    __tablename__ = "article_comments"
    __table_args__ = (
        UniqueConstraint("article_id", "number"),
        Index("ix_article_comments_thread", "article_id", "thread_number", "number"),
    )

    article_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    author_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    parent_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("article_comments.id", ondelete="CASCADE"), index=True, default=None
    )
    number: Mapped[int] = mapped_column(Integer)
    thread_number: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)


__all__ = ["Article", "ArticleStatus", "ArticleTag", "Comment", "Favorite", "Tag"]
