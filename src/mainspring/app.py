"""``create_app(settings)``: the FastAPI application, its middleware, error handlers and routers.

One middleware of our own, ``KernelMiddleware`` (core/middleware.py): trusted proxy headers,
CORS, the request context (request id, access log, metrics, last-resort 500), the body limit
(413) and the response headers (security, cache privacy), in one pure ASGI layer. Inside it,
two fast paths answer before routing (``/healthz``, core/health.py; a cached short link,
shortener/redirects.py); then the routers, through ``RouteIndex`` (core/routing.py): route
lookup by path prefix.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import structlog
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from mainspring import __version__
from mainspring.accounts.service import states as account_states
from mainspring.api import API_PREFIX
from mainspring.api import router as api_router
from mainspring.chat.live import hub as chat_hub
from mainspring.chat.router import page_router as chat_page_router
from mainspring.core import background, cache, http, mail, pubsub, ratelimit, security
from mainspring.core.config import Settings, get_settings
from mainspring.core.database_faults import install_database_error_handlers
from mainspring.core.db import Database
from mainspring.core.edge_cache import EdgeCache
from mainspring.core.errors import PROBLEM_JSON, PROBLEM_SCHEMA, install_error_handlers
from mainspring.core.health import LivenessFastPath, ReadinessProbe
from mainspring.core.health import router as health_router
from mainspring.core.middleware import KernelMiddleware
from mainspring.core.observability import configure_logging, track_database, untrack_database
from mainspring.core.pagination import CursorCodec
from mainspring.core.routing import RouteFirst, install_route_index
from mainspring.core.schemas import without_null
from mainspring.realworld.router import router as realworld_router
from mainspring.shortener import redirects as shortener_redirects

Hook = Callable[[], Awaitable[None]]
logger = structlog.get_logger("mainspring.app")

DESCRIPTION = """
Mainspring implements every system of the backend-development roadmap as modules of one
service with one shared kernel. Errors are RFC 9457 `application/problem+json`; lists are
paginated; every request carries an `X-Request-ID`.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings)
    database = Database(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        track_database(database)
        try:
            for start in app.state.startup_hooks:
                await start()
            with collector_tuned_for_serving():
                yield
        finally:
            for stop in reversed(app.state.shutdown_hooks):
                try:
                    await stop()
                except Exception:
                    logger.exception("shutdown_hook_failed", hook=getattr(stop, "__qualname__", ""))
            untrack_database(database)
            await database.dispose()

    app = FastAPI(
        title="Mainspring",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url="/docs" if settings.docs_enabled else None,
        redoc_url="/redoc" if settings.docs_enabled else None,
        openapi_url="/openapi.json" if settings.docs_enabled else None,
        # FastAPI's own OpenTelemetry: off (metrics are Prometheus, core/observability.py). On,
        # it asks the OpenTelemetry providers on every request whether anyone listens.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    app.state.db = database
    app.state.cursor_codec = CursorCodec(settings.secret_key.get_secret_value())
    app.state.readiness = ReadinessProbe(
        reuse_seconds=settings.readiness_cache_seconds,
        timeout=settings.readiness_timeout_seconds,
    )
    app.state.readiness.add("database", database.ping)
    app.state.startup_hooks = []
    app.state.shutdown_hooks = []
    install_kernel_services(app, settings)
    security.install(app, settings)  # password hasher, JWT keys, /.well-known/jwks.json
    account_states.install(app, settings)  # the session-state check of core/auth.py
    chat_hub.install(app)  # the chat's live fan-out and presence of this instance

    install_error_handlers(app)
    install_database_error_handlers(app)  # 503 + Retry-After when the database cannot serve
    app.include_router(health_router)
    app.include_router(api_router, prefix=API_PREFIX)
    app.include_router(realworld_router, prefix=settings.realworld_prefix)
    app.include_router(chat_page_router)  # the web client at /chat
    # Shortener: the /{code} redirect routes, last (they shadow no route). Keep it here.
    shortener_redirects.install(app, settings)
    index = install_route_index(app)  # route lookup by path prefix, 405s that list every method

    # The middleware, innermost first: each one added wraps those added before it. The fast
    # paths answer inside the kernel's layer, never around it (security headers, request id,
    # metrics and the access line are every answer's).
    if index is not None:
        app.add_middleware(RouteFirst, index=index)  # routed once; a miss answered at once
    app.add_middleware(shortener_redirects.RedirectFastPath, shortener=app.state.shortener)
    app.add_middleware(EdgeCache, cache=app.state.cache)  # shared answers replayed
    app.add_middleware(LivenessFastPath)  # /healthz
    app.add_middleware(KernelMiddleware, settings=settings)

    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


YOUNG_COLLECTION_THRESHOLD = 10_000
"""Allocations (net of frees) between two collections of the youngest objects; Python's
default is 700."""


@contextmanager
def collector_tuned_for_serving() -> Iterator[None]:
    """The garbage collector set for a server, while the app serves (docs/performance.md, "The
    garbage collector"):

    - everything that exists once the app has started (the imported code, the app, its routes
      and schemas: about 300,000 objects) lives as long as the process: frozen
      (``gc.freeze``), it is left out of the collector's full collections, which walked it all,
      150-190 ms of a worker's only CPU about every 0.7 s under load;
    - the youngest objects are collected after 10,000 allocations instead of 700: at 700, a
      collection ran every 35 requests or so, and each walked everything the requests in
      flight held (about 2 ms with 64 of them): 5-6 % of the CPU. Nearly all of a request's
      objects are freed by their reference count anyway, when it ends.

    Both are undone when the app stops, so that a process that builds several apps (the tests)
    collects the stopped ones."""
    threshold = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()


def install_kernel_services(app: FastAPI, settings: Settings) -> None:
    """Each kernel service's ``install(app, settings)`` puts its client on ``app.state``,
    registers its readiness check and appends its start/stop hooks (run by the lifespan)."""
    # One line per kernel service, in dependency order.
    ratelimit.install(app, settings)
    cache.install(app, settings)
    mail.install(app, settings)
    pubsub.install(app, settings)
    http.install(app, settings)
    background.install(app, settings)  # last: its in-process worker uses the services above


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document, with FastAPI's validation-error schema replaced by our problems.

    Every operation documents the problems any request can meet: 422 and 400 when it takes
    parameters or a body, 413 when it takes a body, and 500, all as ``application/problem+json``.
    """
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title,
        version=app.version,
        openapi_version=app.openapi_version,
        description=app.description,
        routes=app.routes,
    )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    components["Problem"] = PROBLEM_SCHEMA
    problem = {"content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}}
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            # A parameter is sent as a string or not at all: it has no ``null`` (FastAPI
            # documents ``str | None`` as "or null", and a client generator then sends the
            # text ``null``); being optional is its ``required: false``.
            for parameter in operation.get("parameters", ()):
                without_null(parameter["schema"])
            responses = operation["responses"]
            common = ["500"]
            if operation.get("parameters") or "requestBody" in operation:
                # 422: a value its schema refuses. 400: a value no schema can refuse but the
                # database cannot take (a NUL character in text: PostgreSQL refuses it in any
                # parameter it compares or stores), or a body that is not JSON.
                common += ["422", "400"]
            if "requestBody" in operation:
                common.append("413")
            for status in common:
                described = responses.get(status, {}).get("description")
                responses[status] = {"description": described or _phrase(status), **problem}
    app.openapi_schema = schema
    return schema


def _phrase(status: str) -> str:
    from http import HTTPStatus

    return HTTPStatus(int(status)).phrase
