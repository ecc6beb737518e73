"""The kernel's HTTP middleware: one pure ASGI layer that does the work of five.

``KernelMiddleware`` sits inside Starlette's error middleware and outside the routers. For each
HTTP request, in one pass over its headers and one over the response's, it:

1. takes the client's address and scheme from ``X-Forwarded-For`` / ``-Proto`` when the peer
   is a trusted proxy (``MAINSPRING_TRUSTED_PROXIES``; uvicorn's logic);
2. answers CORS (allow-list, ``MAINSPRING_CORS_ORIGINS``) through Starlette's middleware, but
   only for requests that carry an ``Origin``: the others never enter it;
3. takes or makes the request id (``X-Request-ID``), counts the SQL statements, times the
   request, and writes the metrics and one access-log line (``core/observability.py``);
4. refuses bodies over ``MAINSPRING_MAX_BODY_BYTES`` with 413, by ``Content-Length`` or while
   a chunked body streams in;
5. adds the security headers (built once, not per response), ``X-Request-ID``, in development
   ``X-DB-Statements``, and ``Cache-Control: private`` on responses that depend on the caller
   (see ``caller_cache_headers``);
6. renders any unexpected exception as a 500 problem, logged with its traceback.

One layer instead of five saves four calls, four ``send`` wrappers and four header scans per
request; what each step costs is in docs/architecture.md ("The request lifecycle").
"""

from __future__ import annotations

import os
import time
from typing import Any, cast

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from mainspring.core.config import Settings
from mainspring.core.db import StatementCounter, statement_counter
from mainspring.core.errors import PayloadTooLarge, problem_body, problem_response
from mainspring.core.observability import (
    REQUEST_METRICS,
    AccessLog,
    incoming_request_id,
    log_unhandled,
    request_id_var,
    route_template,
)

# An API answers JSON: nothing in it may load, frame or run anything.
API_CSP = b"default-src 'none'; frame-ancestors 'none'"
# The interactive docs (Swagger UI, ReDoc) load their script and style from a CDN.
DOCS_CSP = (
    b"default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    b"style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
    b"img-src 'self' data: https://fastapi.tiangolo.com https://cdn.redoc.ly; "
    b"font-src 'self' https://fonts.gstatic.com; worker-src 'self' blob:; "
    b"connect-src 'self'; frame-ancestors 'none'"
)
DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc"})
HSTS = (b"strict-transport-security", b"max-age=63072000; includeSubDomains")

CORS_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
CORS_HEADERS = [
    "Authorization",
    "Content-Type",
    "Idempotency-Key",
    "If-Match",
    "If-None-Match",
    "X-Request-ID",
    "X-CSRF-Token",
]
EXPOSED_HEADERS = [
    "Link",
    "ETag",
    "Location",
    "Retry-After",
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
    "X-Request-ID",
    "Idempotent-Replayed",
]

PRIVATE_NO_STORE = (b"cache-control", b"private, no-store")
PRIVATE_NO_CACHE = (b"cache-control", b"private, no-cache")

BODYLESS_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
"""Methods whose requests, without Content-Length or Transfer-Encoding, have no body at all
(HTTP/1.1): their receive channel is not wrapped to count a body."""

# What the request-header pass looks for, by header name.
_REQUEST_ID, _LENGTH, _CHUNKED, _ORIGIN, _FORWARDED, _AUTHORIZATION, _COOKIE = range(7)
_INTERESTING = {
    b"x-request-id": _REQUEST_ID,
    b"content-length": _LENGTH,
    b"transfer-encoding": _CHUNKED,
    b"origin": _ORIGIN,
    b"x-forwarded-for": _FORWARDED,
    b"x-forwarded-proto": _FORWARDED,
    b"authorization": _AUTHORIZATION,
    b"cookie": _COOKIE,
}


def security_headers(csp: bytes, https: bool) -> tuple[tuple[bytes, bytes], ...]:
    """nosniff, frame denial, referrer policy, opener policy, a CSP, and HSTS over HTTPS."""
    headers = (
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"no-referrer"),
        (b"cross-origin-opener-policy", b"same-origin"),
        (b"content-security-policy", csp),
    )
    return (*headers, HSTS) if https else headers


# Built once: (docs page?, HTTPS?) -> the headers every response of that kind gets.
SECURITY_HEADERS = {
    (docs, https): security_headers(DOCS_CSP if docs else API_CSP, https)
    for docs in (False, True)
    for https in (False, True)
}
SECURITY_HEADER_NAMES = frozenset(name for name, _ in SECURITY_HEADERS[False, True])


def caller_cache_headers(
    headers: list[tuple[bytes, bytes]], present: set[bytes], credentials: list[bytes]
) -> None:
    """``Cache-Control`` for a response that depends on who asked.

    A request with credentials (``credentials``: the names of its ``Authorization`` and
    ``Cookie`` headers), or a response that sets a cookie, is about one caller: a shared cache
    (a CDN, a corporate proxy) must not keep it for the next one. Unless the handler chose its
    own ``Cache-Control``, such a response gets ``private, no-store``; one with an ``ETag``
    gets ``private, no-cache`` instead (the caller's own cache may keep it and revalidate with
    ``If-None-Match``), and ``Vary`` names the credential headers. Anonymous responses keep
    whatever caching their handler gave them.
    """
    if b"cache-control" in present or not (credentials or b"set-cookie" in present):
        return
    if b"etag" not in present:
        headers.append(PRIVATE_NO_STORE)
        return
    headers.append(PRIVATE_NO_CACHE)
    if not credentials:
        return
    names = b", ".join(credentials)
    for position, (name, value) in enumerate(headers):
        if name.lower() == b"vary":
            listed = {part.strip().lower() for part in value.split(b",")}
            missing = [c for c in credentials if c.lower() not in listed and b"*" not in listed]
            if missing:
                headers[position] = (name, value + b", " + b", ".join(missing))
            return
    headers.append((b"vary", names))


class KernelMiddleware:
    """Proxy headers, CORS, request context, body limit, response headers: see the module."""

    def __init__(self, app: ASGIApp, *, settings: Settings) -> None:
        self.app = app
        self.max_body_bytes = settings.max_body_bytes
        self.expose_statement_count = settings.env != "production"
        # uvicorn's middleware in front of an app that does nothing: calling it rewrites the
        # scope's client and scheme, exactly as uvicorn does, and returns.
        self.proxy = cast(
            ASGIApp,
            ProxyHeadersMiddleware(cast(Any, _done), trusted_hosts=settings.trusted_proxies),
        )
        self.cors = CORSMiddleware(
            app,
            allow_origins=settings.cors_origins,
            allow_credentials=True,
            allow_methods=CORS_METHODS,
            allow_headers=CORS_HEADERS,
            expose_headers=EXPOSED_HEADERS,
            max_age=600,
        )
        self.metrics = REQUEST_METRICS
        self.access_log = AccessLog(settings.log_as_json)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind != "http":
            if kind == "websocket":
                await self.proxy(scope, receive, send)  # client and scheme, nothing else
            await self.app(scope, receive, send)
            return

        request_id: str | None = None
        declared: int | None = None
        chunked = has_origin = forwarded = False
        credentials: list[bytes] = []
        for name, value in scope["headers"]:
            what = _INTERESTING.get(name)
            if what is None:
                continue
            if what == _REQUEST_ID:
                request_id = incoming_request_id(value)
            elif what == _LENGTH:
                try:
                    declared = int(value)
                except ValueError:
                    declared = None
            elif what == _CHUNKED:
                chunked = True
            elif what == _ORIGIN:
                has_origin = True
            elif what == _FORWARDED:
                forwarded = True
            elif what == _AUTHORIZATION:
                credentials.append(b"Authorization")
            else:
                credentials.append(b"Cookie")
        if forwarded:
            await self.proxy(scope, receive, send)  # trusted peers only; sets client, scheme

        if request_id is None:
            request_id = os.urandom(16).hex()
        scope.setdefault("state", {})["request_id"] = request_id
        request_id_header = request_id.encode()
        counter = StatementCounter()
        counter_token = statement_counter.set(counter)
        request_id_token = request_id_var.set(request_id)
        method = scope["method"]
        started = time.perf_counter()
        self.metrics.started()

        too_large = False  # the body grew past the limit while streaming in
        replaced = False  # ...and our 413 went out instead of the app's answer
        status = 500
        response_started = False
        extra = SECURITY_HEADERS[scope["path"] in DOCS_PATHS, scope.get("scheme") == "https"]
        max_bytes = self.max_body_bytes

        async def send_wrapper(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                if present.isdisjoint(SECURITY_HEADER_NAMES):
                    headers.extend(extra)
                else:
                    headers.extend(item for item in extra if item[0] not in present)
                headers.append((b"x-request-id", request_id_header))
                if self.expose_statement_count:
                    headers.append((b"x-db-statements", str(counter.count).encode()))
                caller_cache_headers(headers, present, credentials)
                message["headers"] = headers
            await send(message)

        async def reject() -> None:
            nonlocal replaced
            replaced = True
            body = problem_body(
                status=413,
                code=PayloadTooLarge.code,
                title=PayloadTooLarge.title,
                detail=f"The request body is larger than {max_bytes} bytes.",
                instance=scope["path"],
                request_id=request_id,
            )
            await problem_response(body, {"connection": "close"})(scope, receive, send_wrapper)

        async def app_send(message: Message) -> None:
            # Once the body was cut short, the app's answer is dropped: our 413 goes instead.
            if not too_large:
                await send_wrapper(message)
            elif not replaced and message["type"] == "http.response.start":
                await reject()

        received = 0

        async def limited_receive() -> Message:
            # A streamed body: counted as it arrives. Past the limit the app is told the client
            # went away, and whatever it answers is replaced by our 413.
            nonlocal received, too_large
            if too_large:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    too_large = True
                    return {"type": "http.disconnect"}
            return message

        app = self.cors if has_origin else self.app
        try:
            if declared is not None and declared > max_bytes:
                await reject()
            elif declared is not None or (not chunked and method in BODYLESS_METHODS):
                await app(scope, receive, send_wrapper)
            else:
                await app(scope, limited_receive, app_send)
            if too_large and not replaced:
                await reject()
        except Exception:
            if too_large:
                if not replaced:
                    await reject()
            else:
                log_unhandled(method, scope["path"])
                if response_started:
                    raise
                status = 500
                body = problem_body(
                    status=500,
                    code="internal-error",
                    title="Internal Server Error",
                    detail="An unexpected error occurred. Quote the request id when reporting it.",
                    instance=scope["path"],
                    request_id=request_id,
                )
                await problem_response(body)(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - started
            route = route_template(scope)
            self.metrics.finished(method, route, status, elapsed, counter.count)
            if self.access_log.enabled():
                client = scope.get("client")
                self.access_log.write(
                    request_id=request_id,
                    method=method,
                    path=scope["path"],
                    route=route,
                    status=status,
                    duration_ms=round(elapsed * 1000, 2),
                    db_statements=counter.count,
                    client=client[0] if client else None,
                )
            request_id_var.reset(request_id_token)
            statement_counter.reset(counter_token)


async def _done(scope: Scope, receive: Receive, send: Send) -> Any:
    """The app behind ``ProxyHeadersMiddleware`` here: it only rewrites the scope."""
    return None
