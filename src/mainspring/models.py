"""Every model of the kernel and the modules, imported so that ``Base.metadata`` is complete.

Alembic's autogenerate and the migration-drift test read ``metadata`` from here.
"""

from __future__ import annotations

from mainspring.accounts import models as accounts_models
from mainspring.blog import models as blog_models
from mainspring.chat import models as chat_models
from mainspring.core import models as core_models
from mainspring.core.db import Base
from mainspring.shop import models as shop_models
from mainspring.shortener import models as shortener_models
from mainspring.social import models as social_models
from mainspring.todo import models as todo_models

metadata = Base.metadata

__all__ = [
    "Base",
    "accounts_models",
    "blog_models",
    "chat_models",
    "core_models",
    "metadata",
    "shop_models",
    "shortener_models",
    "social_models",
    "todo_models",
]
