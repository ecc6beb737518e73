"""Every module's models, imported so that ``Base.metadata`` is complete (for Alembic)."""

from __future__ import annotations

from mainspring.core.db import Base

metadata = Base.metadata

__all__ = ["Base", "metadata"]
