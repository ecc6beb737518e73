"""The accounts routes: ``/auth`` (sign-in and recovery) and ``/users`` (me and admin)."""

from __future__ import annotations

from fastapi import APIRouter

from mainspring.accounts.routers.auth import router as auth_router
from mainspring.accounts.routers.users import router as users_router

router = APIRouter()
router.include_router(auth_router)
router.include_router(users_router)

__all__ = ["router"]
