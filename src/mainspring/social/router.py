"""The social module's routes, each included under ``/api/v1`` by ``mainspring/api.py``."""

from __future__ import annotations

from fastapi import APIRouter

from mainspring.social.notifications.router import router as notifications_router
from mainspring.social.posts.router import router as posts_router
from mainspring.social.profiles.router import router as profiles_router
from mainspring.social.timelines.router import router as timelines_router

routers: tuple[APIRouter, ...] = (
    profiles_router,
    timelines_router,
    posts_router,
    notifications_router,
)
"""In the order ``mainspring/api.py`` includes them (each one itself: see there)."""
