"""The dialect's INSERT: ``on_conflict_do_nothing`` / ``on_conflict_do_update`` exist on both
SQLite and PostgreSQL, with the same meaning."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from mainspring.core.db import dialect_of
from mainspring.core.sql import dialect_insert


def upsert(session: AsyncSession, model: Any) -> Any:
    """``INSERT INTO model`` in the session's dialect, with its ``ON CONFLICT`` clauses."""
    return dialect_insert(dialect_of(session), model)
