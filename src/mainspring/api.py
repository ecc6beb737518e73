"""The versioned API: every module's router is included here under ``/api/v1``."""

from __future__ import annotations

from fastapi import APIRouter

from mainspring.accounts.routers import router as accounts_router
from mainspring.blog.router import router as blog_router
from mainspring.chat.router import router as chat_router
from mainspring.shop.router import router as shop_router
from mainspring.shortener.router import router as shortener_router
from mainspring.social.router import router as social_router
from mainspring.todo.router import router as todo_router

API_PREFIX = "/api/v1"

router = APIRouter(prefix=API_PREFIX)
# Modules add their routers here, e.g. ``router.include_router(accounts_router)``.
router.include_router(accounts_router)
router.include_router(blog_router)
router.include_router(shop_router)
router.include_router(social_router)
router.include_router(todo_router)
router.include_router(chat_router)
router.include_router(shortener_router)
