"""Kernel tables: background jobs, schedule runs, idempotency keys.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 04:44:15.706532+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import mainspring.core.db

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "kernel_idempotency_keys",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("principal", sa.String(length=100), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("method", sa.String(length=10), nullable=False),
        sa.Column("path", sa.String(length=2048), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("response_headers", mainspring.core.db.JSONDocument, nullable=True),
        sa.Column("response_body", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", mainspring.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", mainspring.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kernel_idempotency_keys")),
        sa.UniqueConstraint(
            "principal", "key", name=op.f("uq_kernel_idempotency_keys_principal_key")
        ),
    )
    with op.batch_alter_table("kernel_idempotency_keys", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_kernel_idempotency_keys_expires_at"), ["expires_at"], unique=False
        )

    op.create_table(
        "kernel_jobs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("queue", sa.String(length=64), nullable=False),
        sa.Column("task_name", sa.String(length=200), nullable=False),
        sa.Column("payload", mainspring.core.db.JSONDocument, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("run_at", mainspring.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("locked_until", mainspring.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("locked_by", sa.String(length=100), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("finished_at", mainspring.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", mainspring.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", mainspring.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kernel_jobs")),
    )
    with op.batch_alter_table("kernel_jobs", schema=None) as batch_op:
        batch_op.create_index("ix_kernel_jobs_claim", ["queue", "status", "run_at"], unique=False)

    op.create_table(
        "kernel_schedule_runs",
        sa.Column("schedule", sa.String(length=200), nullable=False),
        sa.Column("slot", mainspring.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", mainspring.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("schedule", "slot", name=op.f("pk_kernel_schedule_runs")),
    )


def downgrade() -> None:

    op.drop_table("kernel_schedule_runs")
    with op.batch_alter_table("kernel_jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_kernel_jobs_claim")

    op.drop_table("kernel_jobs")
    with op.batch_alter_table("kernel_idempotency_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_kernel_idempotency_keys_expires_at"))

    op.drop_table("kernel_idempotency_keys")
