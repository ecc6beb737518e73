"""The redirect fast path, and how the shortener plugs into the app.

``RedirectFastPath`` is a plain ASGI callable wrapping the router. For ``GET`` or ``HEAD`` of
``<prefix>/<code>`` (a bare code: ``[A-Za-z0-9_-]{3,64}``) whose link is in this process's
LRU, it answers the redirect itself: no routing, no dependency, no database, no await before
the response but the ``send`` calls. It records the click in the buffer first (GET only) and
labels the request with the route template ``/{code}`` (``scope["route"]``), so that the
kernel's middleware around it, which it never bypasses, writes the same security headers,
metrics and access-log line as for any route. Anything else (a miss, a password, a click
limit, an unknown code, another path) goes on to the router unchanged, where
``router.follow_link`` applies every rule and fills the LRU.

Reserved words need no check here: they never enter the LRU (``visits.RedirectService``
refuses them before any lookup).
"""

from __future__ import annotations

import re

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from starlette.types import ASGIApp, Receive, Scope, Send

from mainspring.core.config import Settings
from mainspring.core.observability import RouteLabel
from mainspring.shortener.models import CODE_MAX, CODE_MIN
from mainspring.shortener.router import redirect_router
from mainspring.shortener.runtime import Shortener
from mainspring.shortener.settings import load_settings

_CODE = re.compile(rf"[A-Za-z0-9_-]{{{CODE_MIN},{CODE_MAX}}}")
_EMPTY_BODY = {"type": "http.response.body", "body": b""}


class RedirectFastPath:
    """See the module docstring."""

    def __init__(self, app: ASGIApp, shortener: Shortener) -> None:
        self.app = app
        self.lru = shortener.lru
        self.clicks = shortener.clicks
        self.prefix = shortener.prefix + "/"
        self.route = RouteLabel(self.prefix + "{code}", "follow_link")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD"):
            path: str = scope["path"]
            if path.startswith(self.prefix):
                code = path[len(self.prefix) :]
                if _CODE.fullmatch(code) and (entry := self.lru.get(code.lower())) is not None:
                    scope["route"] = self.route
                    if scope["method"] == "GET":
                        self._record(scope, entry.link_id)
                    await send(
                        {
                            "type": "http.response.start",
                            "status": entry.status,
                            "headers": list(entry.headers),
                        }
                    )
                    await send(_EMPTY_BODY)
                    return
        await self.app(scope, receive, send)

    def _record(self, scope: Scope, link_id: str) -> None:
        user_agent = referrer = ""
        for name, value in scope["headers"]:
            if name == b"user-agent":
                user_agent = value.decode("latin-1")
            elif name == b"referer":
                referrer = value.decode("latin-1")
        client = scope.get("client")
        self.clicks.add(link_id, client[0] if client else "", user_agent, referrer)


def install(app: FastAPI, settings: Settings) -> None:
    """Mount the shortener's public side on ``app``; call it after every other router is
    included:

    - ``app.state.shortener``, started and stopped with the app (the click flusher, the
      invalidation listener; the last clicks are flushed on shutdown);
    - the redirect routes (``<prefix>/{code}``), included last so that they shadow no route,
      and every top-level route segment reserved, so that no code can shadow one either.

    The app adds ``RedirectFastPath`` with the rest of its middleware (``mainspring.app``),
    inside the security headers, request context and metrics of the kernel's layer.
    """
    shortener = Shortener(app, settings, load_settings())
    app.state.shortener = shortener
    shortener.reserve(*(_first_segment(route) for route in iter_route_contexts(app.routes)))
    app.include_router(redirect_router, prefix=shortener.prefix)
    app.state.startup_hooks.append(shortener.start)
    app.state.shutdown_hooks.append(shortener.stop)


def _first_segment(route: object) -> str:
    path = str(getattr(route, "path", ""))
    first = path.strip("/").split("/", 1)[0]
    return "" if "{" in first else first.lower()
