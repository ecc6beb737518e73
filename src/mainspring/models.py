"""Every model of the kernel and the modules, imported so that ``Base.metadata`` is complete.

Alembic's autogenerate and the migration-drift test read ``metadata`` from here.
"""

from __future__ import annotations

from mainspring.core import models as core_models
from mainspring.core.db import Base

metadata = Base.metadata

__all__ = ["Base", "core_models", "metadata"]
