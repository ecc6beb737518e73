"""Blog: the published-articles index carries author_id, so the feed filters in the index.

Revision ID: 0017_feed_index
Revises: 0016_chat
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0017_feed_index"
down_revision: str | None = "0016_chat"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.create_index(
            "ix_articles_status_published_author",
            ["status", "published_at", "id", "author_id"],
            unique=False,
        )
        batch_op.drop_index("ix_articles_status_published")


def downgrade() -> None:
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.create_index(
            "ix_articles_status_published", ["status", "published_at", "id"], unique=False
        )
        batch_op.drop_index("ix_articles_status_published_author")
