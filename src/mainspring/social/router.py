"""The social module's routes, included under ``/api/v1`` by ``mainspring/api.py``."""

from __future__ import annotations

from fastapi import APIRouter

from mainspring.social.notifications.router import router as notifications_router
from mainspring.social.posts.router import router as posts_router
from mainspring.social.profiles.router import router as profiles_router
from mainspring.social.timelines.router import router as timelines_router

router = APIRouter()
router.include_router(profiles_router)
router.include_router(timelines_router)
router.include_router(posts_router)
router.include_router(notifications_router)
