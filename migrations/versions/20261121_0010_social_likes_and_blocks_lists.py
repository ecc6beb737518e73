"""Social: indexes for the list of who liked a post and the list of the users one blocked.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("post_likes", schema=None) as batch_op:
        batch_op.create_index(
            "ix_post_likes_post_id_created_at", ["post_id", "created_at", "user_id"], unique=False
        )
    with op.batch_alter_table("blocks", schema=None) as batch_op:
        batch_op.create_index(
            "ix_blocks_blocker_id_created_at",
            ["blocker_id", "created_at", "blocked_id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("blocks", schema=None) as batch_op:
        batch_op.drop_index("ix_blocks_blocker_id_created_at")
    with op.batch_alter_table("post_likes", schema=None) as batch_op:
        batch_op.drop_index("ix_post_likes_post_id_created_at")
