"""Observability: structured logs, request ids, Prometheus metrics.

``RequestContextMiddleware`` is the outermost layer of our own stack. For each HTTP request it
takes or makes a request id, binds it to the log context, counts SQL statements, times the
request, writes one access-log line and the metrics, and renders any unexpected exception as a
500 problem (logged with its traceback here, never sent to the client).
"""

from __future__ import annotations

import logging
import re
import sys
import time
import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import structlog
from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mainspring.core.config import Settings
from mainspring.core.db import StatementCounter, statement_counter
from mainspring.core.errors import problem_body, problem_response

if TYPE_CHECKING:
    from mainspring.core.db import Database

REQUEST_ID_HEADER = "x-request-id"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
logger = structlog.get_logger("mainspring.access")
error_logger = structlog.get_logger("mainspring.errors")

# --- logging ------------------------------------------------------------------------------------


def configure_logging(settings: Settings) -> None:
    """structlog for our own logs and the standard library's (uvicorn, SQLAlchemy) alike."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if settings.log_as_json
        else structlog.dev.ConsoleRenderer(
            colors=sys.stderr.isatty(),
            # Tracebacks without local variables: locals may hold secrets, and are slow to render.
            exception_formatter=structlog.dev.RichTracebackFormatter(show_locals=False),
        )
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info if settings.log_as_json else _keep,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level)
    # uvicorn's own access log is replaced by ours (one line per request, with the request id).
    logging.getLogger("uvicorn.access").disabled = True
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True


def _keep(_logger: Any, _name: str, event: Any) -> Any:
    return event


# --- metrics ------------------------------------------------------------------------------------

HTTP_REQUESTS = Counter(
    "mainspring_http_requests_total",
    "HTTP requests answered, by method, route template and status.",
    ["method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "mainspring_http_request_duration_seconds",
    "HTTP request latency, by method and route template.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
HTTP_IN_FLIGHT = Gauge("mainspring_http_requests_in_flight", "HTTP requests being served.")
DB_STATEMENTS = Histogram(
    "mainspring_db_statements_per_request",
    "SQL statements run by one HTTP request.",
    ["route"],
    buckets=(0, 1, 2, 3, 5, 8, 13, 21, 34, 55),
)


class _PoolCollector(Collector):
    """Reports the connection pool of every live ``Database`` at scrape time."""

    def __init__(self) -> None:
        self.databases: dict[int, Database] = {}

    def collect(self) -> Iterable[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "mainspring_db_pool_connections",
            "Database pool connections by state.",
            labels=["state"],
        )
        totals = {"size": 0, "checked_out": 0, "overflow": 0}
        for database in list(self.databases.values()):
            for key, value in database.pool_status().items():
                totals[key] += value
        for key, value in totals.items():
            family.add_metric([key], value)
        yield family


POOL_COLLECTOR = _PoolCollector()
REGISTRY.register(POOL_COLLECTOR)


def track_database(database: Database) -> None:
    POOL_COLLECTOR.databases[id(database)] = database


def untrack_database(database: Database) -> None:
    POOL_COLLECTOR.databases.pop(id(database), None)


# --- the request context ------------------------------------------------------------------------


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    return str(path) if path else "<unmatched>"


class RequestContextMiddleware:
    """Request id, access log, metrics, statement count and the last-resort 500 for HTTP."""

    def __init__(self, app: ASGIApp, *, expose_statement_count: bool) -> None:
        self.app = app
        self.expose_statement_count = expose_statement_count

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        request_id = _incoming_request_id(scope) or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        counter = StatementCounter()
        token = statement_counter.set(counter)
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = 500
        response_started = False
        HTTP_IN_FLIGHT.inc()

        async def send_wrapper(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                if self.expose_statement_count:
                    headers.append((b"x-db-statements", str(counter.count).encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception:
            error_logger.exception(
                "unhandled_exception", method=scope["method"], path=scope["path"]
            )
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
            response = problem_response(body, {"x-request-id": request_id})
            await response(scope, receive, send)
        finally:
            elapsed = time.perf_counter() - started
            route = _route_template(scope)
            HTTP_IN_FLIGHT.dec()
            HTTP_REQUESTS.labels(scope["method"], route, str(status)).inc()
            HTTP_LATENCY.labels(scope["method"], route).observe(elapsed)
            DB_STATEMENTS.labels(route).observe(counter.count)
            client = scope.get("client")
            logger.info(
                "request",
                method=scope["method"],
                path=scope["path"],
                route=route,
                status=status,
                duration_ms=round(elapsed * 1000, 2),
                db_statements=counter.count,
                client=client[0] if client else None,
            )
            structlog.contextvars.unbind_contextvars("request_id")
            statement_counter.reset(token)


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            candidate = value.decode("latin-1")
            return candidate if _VALID_REQUEST_ID.match(candidate) else None
    return None
