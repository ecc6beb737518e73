"""The error hierarchy and its single rendering: RFC 9457 ``application/problem+json``.

Services raise ``MainspringError`` subclasses (never ``HTTPException``); ``install_error_handlers``
renders those, framework errors (unknown route, wrong method, bad JSON, validation) and
unexpected exceptions the same way. A problem names its ``type`` as a URN, a stable ``code``
for programs, the request path as ``instance`` and the request id, and never a stack trace.
Database errors (503 when the database cannot serve now, 500 for a bug) are told apart in
``core/database_faults.py``, which installs their handlers and depends on this module.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any, ClassVar

import orjson
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import Scope, Send

PROBLEM_JSON = "application/problem+json"
logger = structlog.get_logger("mainspring.errors")


class MainspringError(Exception):
    """Base of every error the API answers with. Subclasses set ``status``, ``code``, ``title``."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal-error"
    title: ClassVar[str] = "Internal Server Error"

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: Sequence[Mapping[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail
        self.errors = list(errors) if errors else None
        self.headers = dict(headers or {})
        self.extra = extra


class BadRequest(MainspringError):
    status, code, title = 400, "bad-request", "Bad Request"


class Unauthorized(MainspringError):
    status, code, title = 401, "unauthorized", "Unauthorized"

    def __init__(self, detail: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"WWW-Authenticate": "Bearer"})
        super().__init__(detail, **kwargs)


class Forbidden(MainspringError):
    status, code, title = 403, "forbidden", "Forbidden"


class NotFound(MainspringError):
    status, code, title = 404, "not-found", "Not Found"


class MethodNotAllowed(MainspringError):
    status, code, title = 405, "method-not-allowed", "Method Not Allowed"


class Conflict(MainspringError):
    status, code, title = 409, "conflict", "Conflict"


class UnknownReference(Conflict):
    """A name or id in the request's *body* that refers to nothing: an unknown username, a
    variant id no product has. 409, not 404: the resource the URL addresses exists, and a 404
    would say it does not; not 422 either, the body is well-formed (422 is for one that is
    not). An unknown id in the *path* is 404. ``field`` names the body field (``body.username``);
    modules subclass it with their own ``code`` (``unknown-user``, ``unknown-variant``)."""

    code = "unknown-reference"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message, errors=[{"field": field, "message": message, "type": self.code}])


class Gone(MainspringError):
    status, code, title = 410, "gone", "Gone"


class PreconditionFailed(MainspringError):
    status, code, title = 412, "precondition-failed", "Precondition Failed"


class PayloadTooLarge(MainspringError):
    status, code, title = 413, "payload-too-large", "Content Too Large"


class UnsupportedMediaType(MainspringError):
    status, code, title = 415, "unsupported-media-type", "Unsupported Media Type"


class UnprocessableEntity(MainspringError):
    status, code, title = 422, "validation-error", "Unprocessable Content"


class PreconditionRequired(MainspringError):
    status, code, title = 428, "precondition-required", "Precondition Required"


class TooManyRequests(MainspringError):
    status, code, title = 429, "rate-limited", "Too Many Requests"


class InternalError(MainspringError):
    status, code, title = 500, "internal-error", "Internal Server Error"


class ServiceUnavailable(MainspringError):
    status, code, title = 503, "service-unavailable", "Service Unavailable"


class DatabaseUnavailable(ServiceUnavailable):
    """The database cannot serve right now (down, restarting, refusing, saturated, locked).

    ``reason`` is for logs and ``/readyz``; clients get a generic detail and ``Retry-After``.
    """

    code = "database-unavailable"

    def __init__(self, reason: str, *, retry_after: int = 1) -> None:
        super().__init__(
            "The database is unavailable; try again shortly.",
            headers={"Retry-After": str(max(1, retry_after))},
        )
        self.reason = reason
        self.retry_after = max(1, retry_after)

    def __str__(self) -> str:
        return f"database unavailable: {self.reason}"


_BY_STATUS: dict[int, type[MainspringError]] = {
    cls.status: cls
    for cls in (
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        MethodNotAllowed,
        Conflict,
        Gone,
        PreconditionFailed,
        PayloadTooLarge,
        UnsupportedMediaType,
        UnprocessableEntity,
        PreconditionRequired,
        TooManyRequests,
        InternalError,
        ServiceUnavailable,
    )
}


def problem_body(
    *,
    status: int,
    code: str,
    title: str,
    detail: str | None,
    instance: str | None,
    request_id: str | None,
    errors: Sequence[Mapping[str, Any]] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": f"urn:mainspring:problem:{code}",
        "title": title,
        "status": status,
        "detail": detail or title,
        "code": code,
    }
    if instance:
        body["instance"] = instance
    if request_id:
        body["request_id"] = request_id
    if errors:
        body["errors"] = list(errors)
    if extra:
        body.update({k: v for k, v in extra.items() if k not in body})
    return body


def problem_response(body: Mapping[str, Any], headers: Mapping[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(body),
        status_code=int(body["status"]),
        media_type=PROBLEM_JSON,
        headers=dict(headers or {}),
    )


def render(error: MainspringError, request_path: str | None, request_id: str | None) -> Response:
    body = problem_body(
        status=error.status,
        code=error.code,
        title=error.title,
        detail=error.detail,
        instance=request_path,
        request_id=request_id,
        errors=error.errors,
        extra=error.extra,
    )
    return problem_response(body, error.headers)


def _instance(request: Request) -> str:
    return scope_instance(request.scope)


def scope_instance(scope: Scope) -> str:
    """A problem's ``instance``: the request's path as a URI reference, what
    ``request.url.path`` gives without building the whole URL (host, scheme, query) first."""
    path: str = scope["path"]
    return path.replace("?", "%3F").replace("#", "%23").replace("\\", "%5C")


def _request_id(request: Request) -> str | None:
    return scope_request_id(request.scope)


def scope_request_id(scope: Scope) -> str | None:
    value = scope.get("state", {}).get("request_id")
    return str(value) if value else None


NO_RESOURCE = "No resource at this path."


_PROBLEM_JSON_BYTES = PROBLEM_JSON.encode()


async def send_not_found(scope: Scope, send: Send) -> None:
    """The 404 of a path that no route serves, sent as two ASGI messages. Routing answers it
    itself (``core/routing.py``): raising ``HTTPException(404)`` for Starlette's exception
    middleware to catch and hand back here cost a third of a miss, and a ``Response`` object
    a sixth of what was left. The body is ``render``'s for ``NotFound``."""
    body = orjson.dumps(
        problem_body(
            status=NotFound.status,
            code=NotFound.code,
            title=NotFound.title,
            detail=NO_RESOURCE,
            instance=scope_instance(scope),
            request_id=scope_request_id(scope),
        )
    )
    headers = [(b"content-length", str(len(body)).encode()), (b"content-type", _PROBLEM_JSON_BYTES)]
    await send({"type": "http.response.start", "status": 404, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def validation_errors(raw: Sequence[Any]) -> list[dict[str, Any]]:
    """Pydantic errors as ``{"field", "message", "type"}``; the offending input is never echoed."""
    out = []
    for err in raw:
        loc = [str(part) for part in err.get("loc", ())]
        out.append(
            {"field": ".".join(loc), "message": str(err.get("msg", "")), "type": err.get("type")}
        )
    return out


async def _mainspring_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, MainspringError)
    return render(exc, _instance(request), _request_id(request))


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    raw = exc.errors()
    if any(err.get("type") == "json_invalid" for err in raw):
        error: MainspringError = BadRequest("The request body is not valid JSON.")
    else:
        error = UnprocessableEntity(
            "The request has invalid fields.", errors=validation_errors(raw)
        )
    return render(error, _instance(request), _request_id(request))


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    cls = _BY_STATUS.get(exc.status_code)
    headers = dict(exc.headers or {})
    if cls is None:
        phrase = HTTPStatus(exc.status_code).phrase
        body = problem_body(
            status=exc.status_code,
            code=phrase.lower().replace(" ", "-"),
            title=phrase,
            detail=str(exc.detail) if exc.detail else phrase,
            instance=_instance(request),
            request_id=_request_id(request),
        )
        return problem_response(body, headers)
    detail = None
    if exc.status_code == 404:
        detail = NO_RESOURCE
    elif exc.status_code == 405:
        detail = f"{request.method} is not allowed here."
    elif isinstance(exc.detail, str) and exc.detail != cls.title:
        detail = exc.detail
    return render(cls(detail, headers=headers), _instance(request), _request_id(request))


async def _integrity_error(request: Request, exc: Exception) -> Response:
    """A unique or foreign-key constraint refused the change: a race the service did not see
    coming (two requests creating the same username at once). The client may retry; the
    constraint's name and the SQL stay in the log."""
    logger.warning("integrity_error", error=str(getattr(exc, "orig", exc))[:500])
    error = Conflict("The change conflicts with existing data; reload and try again.")
    return render(error, _instance(request), _request_id(request))


def install_error_handlers(app: FastAPI) -> None:
    """Render every error path as problem+json. Unexpected exceptions are rendered (500) by the
    request-context middleware, which also logs them; see ``core/observability.py``."""
    app.add_exception_handler(MainspringError, _mainspring_error)
    app.add_exception_handler(IntegrityError, _integrity_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)


# Problem responses for OpenAPI: modules list the statuses an endpoint can answer.
PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": {"type": "string", "examples": ["urn:mainspring:problem:not-found"]},
        "title": {"type": "string", "examples": ["Not Found"]},
        "status": {"type": "integer", "examples": [404]},
        "detail": {"type": "string"},
        "code": {"type": "string", "examples": ["not-found"]},
        "instance": {"type": "string"},
        "request_id": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "field": {"type": "string"},
                    "message": {"type": "string"},
                    "type": {"type": "string"},
                },
            },
        },
    },
    "additionalProperties": True,
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries for the problem statuses an endpoint can answer."""
    return {
        status: {
            "description": HTTPStatus(status).phrase,
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }
