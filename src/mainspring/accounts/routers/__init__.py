"""The accounts routes: ``/auth`` (sign-in and recovery) and ``/users`` (me and admin)."""

from __future__ import annotations

from fastapi import APIRouter

from mainspring.accounts.routers.auth import router as auth_router
from mainspring.accounts.routers.oidc import identities_router
from mainspring.accounts.routers.oidc import router as oidc_router
from mainspring.accounts.routers.two_factor import router as two_factor_router
from mainspring.accounts.routers.users import router as users_router

router = APIRouter()
router.include_router(auth_router)
router.include_router(users_router)
router.include_router(two_factor_router)
router.include_router(oidc_router)
router.include_router(identities_router)

__all__ = ["router"]
