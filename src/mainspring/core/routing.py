"""Route lookup by path prefix: a request is matched against the few routes that can match it.

FastAPI (Starlette) routes a request by trying every route in order until one matches. With a
few hundred routes that is most of what a cheap request costs, and a miss (a 404) tries them
all, twice: once more with a slash added or removed, for ``redirect_slashes``. Routers
included with ``include_router`` add their own walk: this FastAPI matches an included
router's routes once to see whether the router matches, and once more to pick the route.

``RouteIndex`` replaces that walk for HTTP requests, without changing what matches:

- At the first request it flattens the app's routes, included ones with their prefixes, into
  *leaves* (the full template, its regular expression, its methods, and the ASGI app FastAPI
  built for it), and files each leaf in a tree under the static segments its template starts
  with: ``/api/v1/articles/{slug}/comments`` under ``api`` -> ``v1`` -> ``articles``.
- A request walks the tree along its own path's segments as far as they go; the routes that
  can match it are the ones filed on that walk (a template matches only paths that start with
  its static segments): a handful instead of hundreds.
- A concrete path is matched before a templated one, as OpenAPI says a path is matched
  (OpenAPI 3.1, "Path Templating Matching"): ``/api/v1/projects/inbox`` is the inbox's path
  only, not also ``/api/v1/projects/{project_id}`` with ``project_id="inbox"``. Among the
  routes whose template matches a path, only the most concrete ones serve it (a static segment
  beats a parameter, compared from the left); among those, the first declared that serves the
  method wins, as in Starlette. So ``PATCH /api/v1/projects/inbox`` answers 405 (the inbox is
  read-only), not a 422 about a project id, and what the server serves at a path is exactly
  what the OpenAPI document lists under it.
- A path that no route matches answers 404 at once (after the same slash-toggled retry, also
  through the tree); one that routes match for other methods only answers 405 with an
  ``Allow`` header listing *every* method served at that path (RFC 9110 section 15.5.6):
  Starlette lists the first matching route's methods only, so a path with ``GET`` and
  ``POST`` on two routes answered ``Allow: GET``.
- ``scope["route"]`` is the route in its included context (FastAPI's ``RouteContext``), whose
  ``path_format`` is the full template (``/api/v1/articles/{slug}``, not the included
  router's ``/articles/{slug}``): metrics and rate-limit keys name the route a client called.

A route class with its own ``handle`` (``RealWorldRoute``) is entered through that method, with
the included context in the scope as FastAPI's dispatch leaves it; a route class with its own
``matches`` (the shortener's ``/{code}``, which refuses reserved words) is asked too, once its
template matched. What the index does not
understand it leaves to FastAPI: WebSocket and lifespan scopes, and any
request that a mount, a host route or a frontend route could answer, go through the router's
own ``app``. Routes are read once: the index rebuilds when routes are added to the app's
router (tests add some after ``create_app``), but a router must be complete before it is
included, as FastAPI's OpenAPI document also assumes.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from re import Pattern
from typing import Any

import structlog
from fastapi import FastAPI
from fastapi.routing import APIRoute, APIRouter, iter_route_contexts
from starlette.convertors import Convertor
from starlette.datastructures import URL
from starlette.exceptions import HTTPException
from starlette.responses import RedirectResponse
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from mainspring.core.errors import send_not_found

logger = structlog.get_logger("mainspring.routing")

METHOD_ORDER = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT")
"""The order in which ``Allow`` lists methods (then any other, alphabetically)."""


@dataclass(frozen=True, slots=True)
class Leaf:
    """One HTTP route, flattened: what to match and what to run."""

    order: int
    template: str
    concreteness: tuple[int, ...]
    """Per segment of the template, 1 if it is static and 0 if it holds a parameter: of two
    templates matching one path, the greater tuple is the more concrete (see ``_settle``)."""
    regex: Pattern[str]
    convertors: dict[str, Convertor[Any]]
    methods: frozenset[str] | None
    app: ASGIApp
    endpoint: Any
    route: Any
    """What ``scope["route"]`` becomes: the route, or the included route in its context."""
    guard: Any = None
    """For a route class with its own ``matches``: asked once the template matched; a
    ``Match.NONE`` from it means the route does not match this request at all."""


@dataclass(slots=True)
class Node:
    """The routes whose template starts with this node's static segments, or an ancestor's."""

    children: dict[str, Node] = field(default_factory=dict)
    own: list[Leaf] = field(default_factory=list)
    candidates: tuple[Leaf, ...] = ()
    delegate: bool = False
    """A route FastAPI must route itself (a mount...) may answer here: leave it to FastAPI."""


RESOLVED = "mainspring.resolved"
"""The scope key under which ``RouteFirst`` leaves its ``Resolution`` for the index."""


@dataclass(frozen=True, slots=True)
class Resolution:
    """What the index made of one request: the route that serves it (``leaf``, with the path
    parameters converted), the routes that serve its path with other methods only
    (``partial``: a 405), ``forward`` when FastAPI's own router must decide (a mount, a host,
    a frontend route could answer), or none of these: a miss (a 404, or the slash redirect)."""

    path: str
    leaf: Leaf | None = None
    params: dict[str, Any] | None = None
    partial: list[Leaf] | None = None
    forward: bool = False


class RouteIndex:
    """The app router's request dispatch, by path prefix (see the module docstring)."""

    def __init__(self, router: APIRouter) -> None:
        self.router = router
        self._stock = router.app
        self._built_for = -1
        self._root = Node()
        self._miss_delegates = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        router = self.router
        if scope["type"] != "http":
            await self._stock(scope, receive, send)
            return
        if "router" not in scope:
            scope["router"] = router
        found: Resolution | None = scope.pop(RESOLVED, None)
        if found is None or found.path != _route_path(scope):
            found = self.resolve(scope)
        if found.forward:
            await self._stock(scope, receive, send)
            return
        leaf = found.leaf
        if leaf is not None:
            scope["endpoint"] = leaf.endpoint
            scope["path_params"] = found.params
            scope["route"] = leaf.route
            await leaf.app(scope, receive, send)
            return
        if found.partial:
            scope["route"] = found.partial[0].route
            raise HTTPException(405, headers={"Allow": allow_header(found.partial)})
        if self.has_slash_twin(found.path):
            path = found.path
            redirect_scope = dict(scope)
            redirect_scope["path"] = (
                scope["path"].rstrip("/") if path.endswith("/") else scope["path"] + "/"
            )
            await RedirectResponse(url=str(URL(scope=redirect_scope)))(scope, receive, send)
            return
        await send_not_found(scope, send)

    def resolve(self, scope: Scope) -> Resolution:
        """What serves this HTTP request (see ``Resolution``); nothing in the scope changes."""
        if len(self.router.routes) != self._built_for:
            self.rebuild()
        path = _route_path(scope)
        node = self._lookup(path)
        if node.delegate:
            return Resolution(path, forward=True)
        method = scope["method"]
        partial: list[Leaf] = []
        served_by: tuple[int, ...] | None = None
        for leaf in node.candidates:
            if served_by is not None and leaf.concreteness != served_by:
                break  # a more concrete template matched this path: it alone serves it
            match = leaf.regex.match(path)
            if match is None or (leaf.guard is not None and not leaf.guard(scope)):
                continue
            served_by = leaf.concreteness
            if leaf.methods is not None and method not in leaf.methods:
                partial.append(leaf)
                continue
            params = match.groupdict()
            for key, value in params.items():
                params[key] = leaf.convertors[key].convert(value)
            return Resolution(path, leaf, params)
        if partial:
            return Resolution(path, partial=partial)
        return Resolution(path, forward=self._miss_delegates)

    def has_slash_twin(self, path: str) -> bool:
        """Whether a route serves ``path`` with its trailing slash added or removed (then the
        router redirects there, as Starlette's ``redirect_slashes`` does)."""
        if not self.router.redirect_slashes or path == "/":
            return False
        other = path.rstrip("/") if path.endswith("/") else path + "/"
        return any(leaf.regex.match(other) for leaf in self._lookup(other).candidates)

    def _lookup(self, path: str) -> Node:
        node = self._root
        for segment in path.split("/")[1:]:
            child = node.children.get(segment)
            if child is None:
                break
            node = child
        return node

    def rebuild(self) -> None:
        """Read the router's routes again (done by itself when routes are added)."""
        root = Node()
        leaves = 0
        for order, context in enumerate(iter_route_contexts(self.router.routes)):
            original = context.original_route
            template = context.path_format or context.path or ""
            node = root
            for segment in static_segments(template):
                node = node.children.setdefault(segment, Node())
            if isinstance(original, Route):  # APIRoute is one; Mount, Host, WebSocket are not
                app: ASGIApp = context.app
                if type(original).handle not in (APIRoute.handle, Route.handle):
                    # A route class with its own ``handle`` (RealWorldRoute rewrites headers and
                    # installs its error handlers there) is entered through it, as FastAPI does.
                    app = functools.partial(
                        _through_handle, original, getattr(context, "_route_context", None)
                    )
                guard = None
                if type(original).matches not in (APIRoute.matches, Route.matches):
                    # A route class that refuses some paths its template matches (the
                    # shortener's /{code} refuses reserved words) is asked, as FastAPI would.
                    guard = functools.partial(
                        _own_match, original, getattr(context, "_route_context", None)
                    )
                node.own.append(
                    Leaf(
                        order=order,
                        template=template,
                        concreteness=concreteness(template),
                        regex=context.path_regex,
                        convertors=context.param_convertors,
                        methods=frozenset(context.methods) if context.methods else None,
                        app=app,
                        endpoint=context.endpoint,
                        # The route itself, unless its inclusion prefixed its template.
                        route=original
                        if getattr(original, "path_format", None) == template
                        else context,
                        guard=guard,
                    )
                )
                leaves += 1
            elif not _websocket_only(original):
                node.delegate = True
        _settle(root, (), False)
        self._root = root
        self._miss_delegates = bool(getattr(self.router, "_low_priority_routes", ()))
        self._built_for = len(self.router.routes)
        logger.debug("route_index_built", routes=leaves)


async def _through_handle(
    route: Route, effective: Any, scope: Scope, receive: Receive, send: Send
) -> None:
    """Run ``route`` through its own ``handle``, with the included context FastAPI's
    ``APIRoute.handle`` looks for in the scope (what FastAPI's own dispatch puts there)."""
    if effective is not None:
        scope.setdefault("fastapi", {})["effective_route_context"] = effective
    await route.handle(scope, receive, send)


def _own_match(route: Route, effective: Any, scope: Scope) -> bool:
    """Whether ``route``'s own ``matches`` accepts the request (in its included context, on a
    copy of the scope: a refusal leaves the request's scope as it was)."""
    probe = {**scope, "fastapi": {**scope.get("fastapi", {}), "effective_route_context": effective}}
    return route.matches(probe)[0] is not Match.NONE


def _settle(node: Node, inherited: tuple[Leaf, ...], delegate: bool) -> None:
    """Each node's candidates: its own leaves and its ancestors', the most concrete templates
    first, then in declaration order. The dispatch stops at the first template less concrete
    than the first one that matched the path."""
    node.candidates = tuple(
        sorted(
            (*inherited, *node.own),
            key=lambda leaf: ([-flag for flag in leaf.concreteness], leaf.order),
        )
    )
    node.delegate = node.delegate or delegate
    for child in node.children.values():
        _settle(child, node.candidates, node.delegate)


def static_segments(template: str) -> list[str]:
    """The segments a template starts with before its first parameter:
    ``/api/v1/articles/{slug}`` -> ``["api", "v1", "articles"]``."""
    segments = []
    for segment in template.split("/")[1:]:
        if "{" in segment:
            break
        segments.append(segment)
    return segments


def concreteness(template: str) -> tuple[int, ...]:
    """1 per static segment, 0 per segment with a parameter: ``/api/v1/projects/inbox`` ->
    ``(1, 1, 1, 1)``, ``/api/v1/projects/{id}`` -> ``(1, 1, 1, 0)``."""
    return tuple(0 if "{" in segment else 1 for segment in template.split("/")[1:])


def allow_header(leaves: list[Leaf]) -> str:
    """Every method of ``leaves``, in the usual order: ``GET, HEAD, POST``."""
    methods = set().union(*(leaf.methods or () for leaf in leaves))
    known = [method for method in METHOD_ORDER if method in methods]
    return ", ".join(known + sorted(methods.difference(METHOD_ORDER)))


def _route_path(scope: Scope) -> str:
    """The path the routes see: the request's, without the app's ``root_path`` (Starlette's
    ``get_route_path``)."""
    path: str = scope["path"]
    root_path = scope.get("root_path", "")
    if not root_path or not path.startswith(root_path):
        return path
    if path == root_path:
        return ""
    if path[len(root_path)] == "/":
        return path[len(root_path) :]
    return path


def _websocket_only(route: Any) -> bool:
    from starlette.routing import WebSocketRoute

    return isinstance(route, WebSocketRoute)


def install_route_index(app: FastAPI) -> RouteIndex | None:
    """Make ``app``'s router dispatch through a ``RouteIndex``; returns it. Left alone (None)
    when the router has its own middleware or form limits, which the index would skip."""
    router = app.router
    if router.middleware_stack != router.app or _has_form_limits(router):
        logger.warning("route_index_not_installed", reason="router middleware or form limits")
        return None
    index = RouteIndex(router)
    router.middleware_stack = index
    return index


class RouteFirst:
    """Routes an HTTP request before Starlette's exception layers and FastAPI's router, and
    answers a miss at once.

    It sits innermost of the app's middleware, inside the kernel's (which it never bypasses:
    the security headers, request id, metrics and access line of a 404 are those of any
    answer). A request that a route serves, or that answers 405 or a slash redirect, goes on
    with its ``Resolution`` in the scope, where the index takes it instead of matching again;
    a path no route serves is answered 404 here: the exception middleware, FastAPI's exit
    stack and the router around the index were half of a miss's time in the app
    (docs/performance.md, "A miss answered before the exception layers").
    """

    def __init__(self, app: ASGIApp, *, index: RouteIndex) -> None:
        self.app = app
        self.index = index

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            found = self.index.resolve(scope)
            if (
                found.leaf is None
                and not found.partial
                and not found.forward
                and not self.index.has_slash_twin(found.path)
            ):
                await send_not_found(scope, send)
                return
            scope[RESOLVED] = found
        await self.app(scope, receive, send)


def _has_form_limits(router: Any, seen: set[int] | None = None) -> bool:
    seen = seen if seen is not None else set()
    if id(router) in seen:
        return False
    seen.add(id(router))
    if getattr(router, "form_limits", None):
        return True
    return any(
        _has_form_limits(route.original_router, seen)
        for route in router.routes
        if hasattr(route, "original_router")
    )
