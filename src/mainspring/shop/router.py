"""The shop's routes under ``/api/v1/shop``: the catalogue, carts, checkout and orders,
payments and reports. ``mainspring/api.py`` includes each of
``routers`` under ``PREFIX``."""

from __future__ import annotations

from fastapi import APIRouter

from mainspring.shop.cart.router import router as cart_router
from mainspring.shop.catalog.router import router as catalog_router
from mainspring.shop.coupons.router import router as coupons_router
from mainspring.shop.orders.router import router as orders_router
from mainspring.shop.payments.router import router as payments_router
from mainspring.shop.reports.router import router as reports_router

PREFIX = "/shop"
routers: tuple[APIRouter, ...] = (
    catalog_router,
    cart_router,
    orders_router,
    payments_router,
    coupons_router,
    reports_router,
)
"""In the order ``mainspring/api.py`` includes them, each under ``PREFIX`` (see there)."""
