"""The accounts routes: ``/auth`` (sign-in and recovery) and ``/users`` (me and admin)."""

from __future__ import annotations

from fastapi import APIRouter

from mainspring.accounts.routers.auth import router as auth_router
from mainspring.accounts.routers.oidc import identities_router
from mainspring.accounts.routers.oidc import router as oidc_router
from mainspring.accounts.routers.two_factor import router as two_factor_router
from mainspring.accounts.routers.users import router as users_router

routers: tuple[APIRouter, ...] = (
    auth_router,
    users_router,
    two_factor_router,
    oidc_router,
    identities_router,
)
"""In the order ``mainspring/api.py`` includes them (each one itself: see there)."""

__all__ = ["routers"]
