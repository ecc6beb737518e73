"""Merge the module branches: blog (0004), social (0005) and task manager (0006).

The three modules were written in parallel, each branching off accounts (0003). From here the
history is linear again: a new migration revises this one.

Revision ID: 0007
Revises: 0004, 0005, 0006
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0007"
down_revision: str | tuple[str, ...] | None = ("0004", "0005", "0006")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
