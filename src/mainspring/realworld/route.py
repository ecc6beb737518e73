"""``RealWorldRoute``: what makes a route speak RealWorld at its edge, and only there.

Two differences from the rest of the API, both confined to the adapter's routes (the kernel's
problem+json and its ``Bearer`` scheme stay for everything else):

- **Errors** have the RealWorld shape ``{"errors": {"body": ["..."]}}``, with 401, 403, 404 and
  422 where the RealWorld specification puts them (a conflict such as a username already taken
  is a 422 there, as is a malformed body). When the route handles a request, it swaps the
  exception handlers Starlette reads from the request scope (``starlette.exception_handlers``)
  for the RealWorld ones, so they catch what the handler, its dependencies *and* the commit
  after the handler raise; the kernel's last-resort 500 for unexpected exceptions is unchanged.
- **Authorization**: RealWorld clients send ``Authorization: Token <jwt>``. The route rewrites
  that header to the standard ``Bearer <jwt>`` before anything reads it, so the kernel's
  authentication verifies the very same access token and nothing else changes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson
import structlog
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from mainspring.core.database_faults import database_error
from mainspring.core.errors import DatabaseUnavailable, MainspringError, validation_errors

logger = structlog.get_logger("mainspring.realworld")

# RealWorld answers every refusal of the input as 422, conflicts and malformed JSON included.
_AS_UNPROCESSABLE = frozenset({400, 409, 412})


def errors_response(
    status: int, messages: Sequence[str], headers: Mapping[str, str] = {}
) -> Response:
    """The RealWorld error body: ``{"errors": {"body": [messages...]}}``."""
    body = orjson.dumps({"errors": {"body": list(messages)}})
    return Response(body, status_code=status, media_type="application/json", headers=dict(headers))


def _messages(error: MainspringError) -> list[str]:
    if error.errors:
        return [
            f"{_field(str(item.get('field', '')))}: {item.get('message', '')}"
            for item in error.errors
        ]
    return [error.detail or error.title]


async def _domain_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, MainspringError)
    status = 422 if exc.status in _AS_UNPROCESSABLE else exc.status
    return errors_response(status, _messages(exc), exc.headers)


def _field(location: str) -> str:
    """``body.article.title`` -> ``title``: the name a RealWorld client knows."""
    parts = location.split(".")
    if parts and parts[0] == "body":
        parts = parts[2:] if len(parts) > 2 else parts[1:]
    return ".".join(parts) or "body"


async def _validation_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    raw = exc.errors()
    if any(err.get("type") == "json_invalid" for err in raw):
        return errors_response(422, ["The request body is not valid JSON."])
    messages = [f"{_field(err['field'])}: {err['message']}" for err in validation_errors(raw)]
    return errors_response(422, messages)


async def _http_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    status = 422 if exc.status_code in _AS_UNPROCESSABLE else exc.status_code
    return errors_response(status, [str(exc.detail)], exc.headers or {})


async def _integrity_error(_request: Request, exc: Exception) -> Response:
    logger.warning("integrity_error", error=str(getattr(exc, "orig", exc))[:500])
    return errors_response(422, ["The change conflicts with existing data; try again."])


async def _database_error(request: Request, exc: Exception) -> Response:
    """The kernel decides: text it cannot store (422 here), an outage (503 with Retry-After) or
    a bug (re-raised: a 500)."""
    error = database_error(request, exc)
    status = 422 if error.status in _AS_UNPROCESSABLE else error.status
    return errors_response(status, _messages(error), error.headers)


EXCEPTION_HANDLERS: dict[Any, Any] = {
    MainspringError: _domain_error,
    RequestValidationError: _validation_error,
    StarletteHTTPException: _http_error,
    IntegrityError: _integrity_error,
    DatabaseUnavailable: _database_error,
    SQLAlchemyError: _database_error,
    OSError: _database_error,
}


def _token_as_bearer(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """``Authorization: Token x`` -> ``Authorization: Bearer x``; other headers untouched."""
    return [
        (name, b"Bearer " + value[6:])
        if name == b"authorization" and value[:6].lower() == b"token "
        else (name, value)
        for name, value in headers
    ]


class RealWorldRoute(APIRoute):
    """An ``APIRoute`` with RealWorld errors and the ``Token`` authorization scheme."""

    token_schemes = (b"bearer", b"token")
    """The ``Authorization`` schemes whose token it authenticates (for the edge cache, which
    answers signed-in readers before routing: ``core/edge_cache.py``)."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["headers"] = _token_as_bearer(list(scope.get("headers", [])))
        scope["starlette.exception_handlers"] = (EXCEPTION_HANDLERS, {})
        await super().handle(scope, receive, send)
