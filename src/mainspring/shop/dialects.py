"""The dialect's INSERT: ``on_conflict_do_nothing`` / ``on_conflict_do_update`` exist on both
SQLite and PostgreSQL, with the same meaning."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def upsert(session: AsyncSession, model: Any) -> Any:
    """``INSERT INTO model`` in the session's dialect, with its ``ON CONFLICT`` clauses."""
    dialect = session.get_bind().dialect.name
    module: Any = postgresql if dialect == "postgresql" else sqlite
    return module.insert(model)
