"""Shortener: links, their tags and their clicks.

Revision ID: 0013_shortener
Revises: 0012_todo
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import mainspring.core.db

revision: str = "0013_shortener"
down_revision: str | None = "0012_todo"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "short_links",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("code_key", sa.String(length=64), nullable=False),
        sa.Column("target_url", sa.Text(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=True),
        sa.Column("redirect_type", sa.Integer(), nullable=False),
        sa.Column("expires_at", mainspring.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("max_clicks", sa.Integer(), nullable=True),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("clicks", sa.Integer(), nullable=False),
        sa.Column("last_clicked_at", mainspring.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("preview_title", sa.String(length=300), nullable=True),
        sa.Column("preview_status", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", mainspring.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", mainspring.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "max_clicks IS NULL OR max_clicks >= 1", name=op.f("ck_short_links_max_clicks")
        ),
        sa.CheckConstraint(
            "redirect_type IN (301, 302, 307, 308)", name=op.f("ck_short_links_redirect_type")
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
            name=op.f("fk_short_links_owner_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_short_links")),
        sa.UniqueConstraint("code_key", name=op.f("uq_short_links_code_key")),
    )
    with op.batch_alter_table("short_links", schema=None) as batch_op:
        batch_op.create_index(
            "ix_short_links_owner_clicks", ["owner_id", "clicks", "id"], unique=False
        )
        batch_op.create_index(
            "ix_short_links_owner_created", ["owner_id", "created_at", "id"], unique=False
        )

    op.create_table(
        "short_link_clicks",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("link_id", sa.Uuid(), nullable=False),
        sa.Column("clicked_at", mainspring.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("referrer_host", sa.String(length=255), nullable=True),
        sa.Column("browser", sa.String(length=32), nullable=False),
        sa.Column("device", sa.String(length=16), nullable=False),
        sa.Column("visitor", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["link_id"],
            ["short_links.id"],
            name=op.f("fk_short_link_clicks_link_id_short_links"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_short_link_clicks")),
    )
    with op.batch_alter_table("short_link_clicks", schema=None) as batch_op:
        batch_op.create_index("ix_short_link_clicks_link_day", ["link_id", "day"], unique=False)

    op.create_table(
        "short_link_tags",
        sa.Column("link_id", sa.Uuid(), nullable=False),
        sa.Column("tag", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["link_id"],
            ["short_links.id"],
            name=op.f("fk_short_link_tags_link_id_short_links"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("link_id", "tag", name=op.f("pk_short_link_tags")),
    )
    with op.batch_alter_table("short_link_tags", schema=None) as batch_op:
        batch_op.create_index("ix_short_link_tags_tag", ["tag", "link_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("short_link_tags", schema=None) as batch_op:
        batch_op.drop_index("ix_short_link_tags_tag")

    op.drop_table("short_link_tags")
    with op.batch_alter_table("short_link_clicks", schema=None) as batch_op:
        batch_op.drop_index("ix_short_link_clicks_link_day")

    op.drop_table("short_link_clicks")
    with op.batch_alter_table("short_links", schema=None) as batch_op:
        batch_op.drop_index("ix_short_links_owner_created")
        batch_op.drop_index("ix_short_links_owner_clicks")

    op.drop_table("short_links")
