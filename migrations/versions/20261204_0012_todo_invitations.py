"""Task manager: invitations of e-mail addresses into projects (token stored hashed).

Revision ID: 0012_todo
Revises: 0011_todo
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import mainspring.core.db

revision: str = "0012_todo"
down_revision: str | None = "0011_todo"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "todo_project_invitations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("invited_by_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", mainspring.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", mainspring.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sends", sa.Integer(), nullable=False),
        sa.Column("expires_at", mainspring.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("accepted_at", mainspring.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("accepted_by_id", sa.Uuid(), nullable=True),
        sa.Column("revoked_at", mainspring.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "role IN ('owner', 'editor', 'viewer')",
            name=op.f("ck_todo_project_invitations_role"),
        ),
        sa.ForeignKeyConstraint(
            ["accepted_by_id"],
            ["users.id"],
            name=op.f("fk_todo_project_invitations_accepted_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["invited_by_id"],
            ["users.id"],
            name=op.f("fk_todo_project_invitations_invited_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["todo_projects.id"],
            name=op.f("fk_todo_project_invitations_project_id_todo_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_todo_project_invitations")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_todo_project_invitations_token_hash")),
    )
    with op.batch_alter_table("todo_project_invitations", schema=None) as batch_op:
        batch_op.create_index(
            "ix_todo_project_invitations_email", ["project_id", "email"], unique=False
        )
        batch_op.create_index(
            "ix_todo_project_invitations_project", ["project_id", "created_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("todo_project_invitations", schema=None) as batch_op:
        batch_op.drop_index("ix_todo_project_invitations_project")
        batch_op.drop_index("ix_todo_project_invitations_email")
    op.drop_table("todo_project_invitations")
