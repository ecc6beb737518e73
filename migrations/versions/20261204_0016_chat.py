"""Chat: rooms, members, bans, messages (sequenced, deduplicated), reactions, presence.

Revision ID: 0016_chat
Revises: 0015_shop
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import mainspring.core.db

revision: str = "0016_chat"
down_revision: str | None = "0015_shop"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "chat_presence",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("instance_id", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("expires_at", mainspring.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ('online', 'away')", name=op.f("ck_chat_presence_status")),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_chat_presence_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "instance_id", name=op.f("pk_chat_presence")),
    )
    with op.batch_alter_table("chat_presence", schema=None) as batch_op:
        batch_op.create_index("ix_chat_presence_instance_id", ["instance_id"], unique=False)

    op.create_table(
        "chat_rooms",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("topic", sa.String(length=300), nullable=False),
        sa.Column("direct_key", sa.String(length=80), nullable=True),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("created_by_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", mainspring.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", mainspring.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('public', 'private', 'direct', 'group')", name=op.f("ck_chat_rooms_kind")
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_chat_rooms_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_rooms")),
        sa.UniqueConstraint("direct_key", name=op.f("uq_chat_rooms_direct_key")),
    )
    with op.batch_alter_table("chat_rooms", schema=None) as batch_op:
        batch_op.create_index("ix_chat_rooms_kind_name", ["kind", "name"], unique=False)

    op.create_table(
        "chat_bans",
        sa.Column("room_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("banned_by_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", mainspring.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["banned_by_id"],
            ["users.id"],
            name=op.f("fk_chat_bans_banned_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["room_id"],
            ["chat_rooms.id"],
            name=op.f("fk_chat_bans_room_id_chat_rooms"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_chat_bans_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("room_id", "user_id", name=op.f("pk_chat_bans")),
    )
    op.create_table(
        "chat_members",
        sa.Column("room_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("last_read_seq", sa.Integer(), nullable=False),
        sa.Column("joined_at", mainspring.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "role IN ('owner', 'moderator', 'member')", name=op.f("ck_chat_members_role")
        ),
        sa.ForeignKeyConstraint(
            ["room_id"],
            ["chat_rooms.id"],
            name=op.f("fk_chat_members_room_id_chat_rooms"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_chat_members_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("room_id", "user_id", name=op.f("pk_chat_members")),
    )
    with op.batch_alter_table("chat_members", schema=None) as batch_op:
        batch_op.create_index("ix_chat_members_user", ["user_id", "room_id"], unique=False)

    op.create_table(
        "chat_messages",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("room_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("sender_id", sa.Uuid(), nullable=True),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=False),
        sa.Column("reply_to_id", sa.Uuid(), nullable=True),
        sa.Column("attachments", mainspring.core.db.JSONDocument, nullable=False),
        sa.Column("mentions", mainspring.core.db.JSONDocument, nullable=False),
        sa.Column("created_at", mainspring.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("edited_at", mainspring.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", mainspring.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["reply_to_id"],
            ["chat_messages.id"],
            name=op.f("fk_chat_messages_reply_to_id_chat_messages"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["room_id"],
            ["chat_rooms.id"],
            name=op.f("fk_chat_messages_room_id_chat_rooms"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["sender_id"],
            ["users.id"],
            name=op.f("fk_chat_messages_sender_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_messages")),
        sa.UniqueConstraint(
            "room_id",
            "sender_id",
            "client_id",
            name=op.f("uq_chat_messages_room_id_sender_id_client_id"),
        ),
        sa.UniqueConstraint("room_id", "seq", name=op.f("uq_chat_messages_room_id_seq")),
    )
    op.create_table(
        "chat_reactions",
        sa.Column("message_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("emoji", sa.String(length=32), nullable=False),
        sa.Column("created_at", mainspring.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["chat_messages.id"],
            name=op.f("fk_chat_reactions_message_id_chat_messages"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_chat_reactions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("message_id", "user_id", "emoji", name=op.f("pk_chat_reactions")),
    )


def downgrade() -> None:
    op.drop_table("chat_reactions")
    op.drop_table("chat_messages")
    with op.batch_alter_table("chat_members", schema=None) as batch_op:
        batch_op.drop_index("ix_chat_members_user")

    op.drop_table("chat_members")
    op.drop_table("chat_bans")
    with op.batch_alter_table("chat_rooms", schema=None) as batch_op:
        batch_op.drop_index("ix_chat_rooms_kind_name")

    op.drop_table("chat_rooms")
    with op.batch_alter_table("chat_presence", schema=None) as batch_op:
        batch_op.drop_index("ix_chat_presence_instance_id")

    op.drop_table("chat_presence")
