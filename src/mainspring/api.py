"""The versioned API: every module's routers, included by ``app.py`` under ``/api/v1``.

Each module's own routers are included here one by one, never through a router that itself
includes them, and this router is included under its prefix: when a router that includes
other routers is itself included without a prefix, FastAPI (0.165) builds every nested
route's analysis (its dependants, its parameters' and response's validators) again, and keeps
it. With the modules' aggregator routers, an idle worker held about 8 MiB more
(docs/performance.md, "Start-up and memory"; ``tests/core/test_startup.py`` counts them).
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter

from mainspring.accounts.routers import routers as accounts_routers
from mainspring.blog.router import router as blog_router
from mainspring.chat.router import routers as chat_routers
from mainspring.shop.router import PREFIX as SHOP_PREFIX
from mainspring.shop.router import routers as shop_routers
from mainspring.shortener.router import router as shortener_router
from mainspring.social.router import routers as social_routers
from mainspring.todo.router import routers as todo_routers

API_PREFIX = "/api/v1"

MODULES: tuple[tuple[str, Sequence[APIRouter]], ...] = (
    ("", accounts_routers),
    ("", (blog_router,)),
    (SHOP_PREFIX, shop_routers),
    ("", social_routers),
    ("", todo_routers),
    ("", chat_routers),
    ("", (shortener_router,)),
)
"""Each module's routers, with the prefix they take under ``API_PREFIX``, in the order they
are matched. A new module adds its line here."""

router = APIRouter()
for prefix, module_routers in MODULES:
    for module_router in module_routers:
        router.include_router(module_router, prefix=prefix)
