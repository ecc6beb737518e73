"""The versioned API: every module's router is included here under ``/api/v1``."""

from __future__ import annotations

from fastapi import APIRouter

API_PREFIX = "/api/v1"

router = APIRouter(prefix=API_PREFIX)
# Modules add their routers here, e.g. ``router.include_router(accounts_router)``.
