"""Blog: articles, tags, comments, favorites, and full-text search over articles.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21 05:09:13.648358+00:00

Full-text search is made here by hand, for each database (the models cannot declare it, and
``mainspring.blog.models`` registers these names as unmanaged so that autogenerate ignores them):

- SQLite: ``articles_fts``, a *contentless* FTS5 table (it indexes the words without keeping a
  second copy of the text) with the porter stemmer. FTS5 rows are addressed by integer rowids
  while articles have UUID keys, so ``articles_fts_keys`` gives each article a stable rowid, with
  a unique index on the UUID: the triggers find an article's row without a scan. A contentless
  table forgets a row only when told the exact words it indexed, which the triggers have
  (``old.title``...). Caution: a later batch migration that rebuilds ``articles`` on SQLite
  drops its triggers with it; such a migration must create them again.
- PostgreSQL: a GIN index over the ``tsvector`` of title, description and body. Queries repeat
  the indexed expression exactly (``mainspring.blog.search``), which is what lets the planner
  use it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import mainspring.core.db

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "blog_tags",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_blog_tags")),
        sa.UniqueConstraint("name", name=op.f("uq_blog_tags_name")),
    )
    op.create_table(
        "articles",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("author_id", sa.Uuid(), nullable=False),
        sa.Column("slug", sa.String(length=120), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("publish_at", mainspring.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("published_at", mainspring.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("favorites_count", sa.Integer(), nullable=False),
        sa.Column("comment_seq", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", mainspring.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", mainspring.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('draft', 'scheduled', 'published')", name=op.f("ck_articles_status")
        ),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["users.id"],
            name=op.f("fk_articles_author_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_articles")),
        sa.UniqueConstraint("slug", name=op.f("uq_articles_slug")),
    )
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.create_index(
            "ix_articles_author_status_created",
            ["author_id", "status", "created_at", "id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_articles_author_status_published",
            ["author_id", "status", "published_at", "id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_articles_status_publish_at", ["status", "publish_at"], unique=False
        )
        batch_op.create_index(
            "ix_articles_status_published", ["status", "published_at", "id"], unique=False
        )

    op.create_table(
        "article_comments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("article_id", sa.Uuid(), nullable=False),
        sa.Column("author_id", sa.Uuid(), nullable=False),
        sa.Column("parent_id", sa.Uuid(), nullable=True),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("thread_number", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=False),
        sa.Column("created_at", mainspring.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", mainspring.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
            name=op.f("fk_article_comments_article_id_articles"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["users.id"],
            name=op.f("fk_article_comments_author_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["article_comments.id"],
            name=op.f("fk_article_comments_parent_id_article_comments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_article_comments")),
        sa.UniqueConstraint(
            "article_id", "number", name=op.f("uq_article_comments_article_id_number")
        ),
    )
    with op.batch_alter_table("article_comments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_article_comments_author_id"), ["author_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_article_comments_parent_id"), ["parent_id"], unique=False
        )
        batch_op.create_index(
            "ix_article_comments_thread", ["article_id", "thread_number", "number"], unique=False
        )

    op.create_table(
        "article_favorites",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("article_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", mainspring.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
            name=op.f("fk_article_favorites_article_id_articles"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_article_favorites_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "article_id", name=op.f("pk_article_favorites")),
    )
    with op.batch_alter_table("article_favorites", schema=None) as batch_op:
        batch_op.create_index("ix_article_favorites_article_id", ["article_id"], unique=False)
        batch_op.create_index(
            "ix_article_favorites_user_created", ["user_id", "created_at"], unique=False
        )

    op.create_table(
        "article_tags",
        sa.Column("article_id", sa.Uuid(), nullable=False),
        sa.Column("tag_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
            name=op.f("fk_article_tags_article_id_articles"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tag_id"],
            ["blog_tags.id"],
            name=op.f("fk_article_tags_tag_id_blog_tags"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("article_id", "tag_id", name=op.f("pk_article_tags")),
    )
    with op.batch_alter_table("article_tags", schema=None) as batch_op:
        batch_op.create_index("ix_article_tags_tag_article", ["tag_id", "article_id"], unique=False)

    _create_search()


def downgrade() -> None:
    _drop_search()
    with op.batch_alter_table("article_tags", schema=None) as batch_op:
        batch_op.drop_index("ix_article_tags_tag_article")

    op.drop_table("article_tags")
    with op.batch_alter_table("article_favorites", schema=None) as batch_op:
        batch_op.drop_index("ix_article_favorites_user_created")
        batch_op.drop_index("ix_article_favorites_article_id")

    op.drop_table("article_favorites")
    with op.batch_alter_table("article_comments", schema=None) as batch_op:
        batch_op.drop_index("ix_article_comments_thread")
        batch_op.drop_index(batch_op.f("ix_article_comments_parent_id"))
        batch_op.drop_index(batch_op.f("ix_article_comments_author_id"))

    op.drop_table("article_comments")
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.drop_index("ix_articles_status_published")
        batch_op.drop_index("ix_articles_status_publish_at")
        batch_op.drop_index("ix_articles_author_status_published")
        batch_op.drop_index("ix_articles_author_status_created")

    op.drop_table("articles")
    op.drop_table("blog_tags")


# SQLite's triggers keep ``articles_fts`` in step with ``articles`` inside each transaction.
SQLITE_SEARCH = (
    "CREATE TABLE articles_fts_keys ("
    " rowid INTEGER PRIMARY KEY, article_id CHAR(32) NOT NULL UNIQUE)",
    "CREATE VIRTUAL TABLE articles_fts USING fts5("
    " title, description, body, content='', tokenize='porter unicode61 remove_diacritics 2')",
    """CREATE TRIGGER articles_fts_insert AFTER INSERT ON articles BEGIN
        INSERT INTO articles_fts_keys (article_id) VALUES (new.id);
        INSERT INTO articles_fts (rowid, title, description, body) VALUES (
            (SELECT rowid FROM articles_fts_keys WHERE article_id = new.id),
            new.title, new.description, new.body);
    END""",
    """CREATE TRIGGER articles_fts_update AFTER UPDATE OF title, description, body ON articles
    BEGIN
        INSERT INTO articles_fts (articles_fts, rowid, title, description, body) VALUES (
            'delete', (SELECT rowid FROM articles_fts_keys WHERE article_id = old.id),
            old.title, old.description, old.body);
        INSERT INTO articles_fts (rowid, title, description, body) VALUES (
            (SELECT rowid FROM articles_fts_keys WHERE article_id = new.id),
            new.title, new.description, new.body);
    END""",
    """CREATE TRIGGER articles_fts_delete AFTER DELETE ON articles BEGIN
        INSERT INTO articles_fts (articles_fts, rowid, title, description, body) VALUES (
            'delete', (SELECT rowid FROM articles_fts_keys WHERE article_id = old.id),
            old.title, old.description, old.body);
        DELETE FROM articles_fts_keys WHERE article_id = old.id;
    END""",
)
SQLITE_SEARCH_DROP = (
    "DROP TRIGGER IF EXISTS articles_fts_delete",
    "DROP TRIGGER IF EXISTS articles_fts_update",
    "DROP TRIGGER IF EXISTS articles_fts_insert",
    "DROP TABLE IF EXISTS articles_fts",
    "DROP TABLE IF EXISTS articles_fts_keys",
)
# The very expression of mainspring.blog.search.PG_DOCUMENT.
POSTGRES_SEARCH = (
    "CREATE INDEX ix_articles_search ON articles USING gin ("
    "to_tsvector('english'::regconfig, title || ' ' || description || ' ' || body))",
)
POSTGRES_SEARCH_DROP = ("DROP INDEX IF EXISTS ix_articles_search",)


def _create_search() -> None:
    dialect = op.get_bind().dialect.name
    for statement in SQLITE_SEARCH if dialect == "sqlite" else POSTGRES_SEARCH:
        op.execute(statement)


def _drop_search() -> None:
    dialect = op.get_bind().dialect.name
    for statement in SQLITE_SEARCH_DROP if dialect == "sqlite" else POSTGRES_SEARCH_DROP:
        op.execute(statement)
