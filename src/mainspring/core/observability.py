"""Observability: structured logs, request ids, Prometheus metrics.

``core/middleware.py``'s ``KernelMiddleware`` uses the pieces of the request context kept here:
the request id (``request_id_var``, on every log line), ``RequestMetrics`` (count, latency and
SQL statements by route template) and the ``AccessLog`` (one line per request).
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
import re
import sys
import time
from bisect import bisect_left
from collections.abc import Callable, Iterable, MutableMapping
from contextvars import ContextVar
from datetime import UTC, datetime
from itertools import accumulate
from typing import IO, TYPE_CHECKING, Any

import orjson
import structlog
from prometheus_client import REGISTRY
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample
from prometheus_client.utils import floatToGoString
from starlette.requests import Request
from starlette.types import Scope

from mainspring.core.config import Settings
from mainspring.core.errors import Forbidden, Unauthorized

if TYPE_CHECKING:
    from mainspring.core.db import Database

REQUEST_ID_HEADER = "x-request-id"
ACCESS_LOGGER = "mainspring.access"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
error_logger = structlog.get_logger("mainspring.errors")
_HANDLER: logging.StreamHandler[Any] | None = None

# --- logging ------------------------------------------------------------------------------------


def configure_logging(settings: Settings) -> None:
    """structlog for our own logs and the standard library's (uvicorn, SQLAlchemy) alike."""
    global _HANDLER
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        add_request_id,
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
    handler = _HANDLER = logging.StreamHandler(sys.stderr)
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
# ``core/middleware.py`` (``KernelMiddleware``) calls these once per HTTP request.

request_id_var: ContextVar[str | None] = ContextVar("mainspring_request_id", default=None)
"""The id of the request being served, for every log line written while it is."""


def add_request_id(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> Any:
    """structlog processor: the current request's id on every log line written while serving
    it (a ``ContextVar`` set by the middleware: cheaper than structlog's bound context vars)."""
    request_id = request_id_var.get()
    if request_id is not None:
        event.setdefault("request_id", request_id)
    return event


def incoming_request_id(value: bytes) -> str | None:
    """The client's ``X-Request-ID`` when it is a sane token (1-128 of ``[A-Za-z0-9._:-]``)."""
    candidate = value.decode("latin-1")
    return candidate if _VALID_REQUEST_ID.match(candidate) else None


class RouteLabel:
    """A route as ``route_template`` reads it, for a fast path that answers before routing
    (``core/health.py``'s liveness, the shortener's redirect): set as ``scope["route"]``, it
    gives the request the same metrics and access-log label as the route it stands for."""

    __slots__ = ("name", "path", "path_format")

    def __init__(self, path: str, name: str) -> None:
        self.path = self.path_format = path
        self.name = name


def route_template(scope: Scope) -> str:
    """The matched route's template (``/api/v1/articles/{slug}``), never the raw path."""
    route = scope.get("route")
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    return str(path) if path else "<unmatched>"


class _Count:
    __slots__ = ("created", "value")

    def __init__(self) -> None:
        self.value = 0
        self.created = time.time()


class _Histogram:
    __slots__ = ("bounds", "counts", "created", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)  # per bucket, not cumulative; the last is +Inf
        self.sum = 0.0
        self.created = time.time()

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1  # the first bound >= value
        self.sum += value


class RequestMetrics(Collector):
    """The per-request metrics: counted in plain Python by the event loop, turned into
    Prometheus families when ``/metrics`` is read.

    prometheus_client's own metric objects take a lock for every increment (seven a request: the
    counter, and the two histograms' bucket and sum each, and the in-flight gauge twice) and
    check their state each time: about 2.5 us a request, against 0.3 us here. The exposition is
    the same: names, help, labels, buckets, ``_created``. One instance per process
    (``REQUEST_METRICS``, registered once): every app of the process counts into it.
    """

    LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
    STATEMENT_BUCKETS = (0.0, 1.0, 2.0, 3.0, 5.0, 8.0, 13.0, 21.0, 34.0, 55.0)

    def __init__(self) -> None:
        self.in_flight = 0
        self._requests: dict[tuple[str, str, str], _Count] = {}
        self._latency: dict[tuple[str, str], _Histogram] = {}
        self._statements: dict[tuple[str], _Histogram] = {}
        self._children: dict[tuple[str, str, int], tuple[_Count, _Histogram, _Histogram]] = {}

    def started(self) -> None:
        self.in_flight += 1

    def finished(
        self, method: str, route: str, status: int, seconds: float, statements: int
    ) -> None:
        self.in_flight -= 1
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = self._series(method, route, status)
        requests, latency, db_statements = children
        requests.value += 1
        latency.observe(seconds)
        db_statements.observe(statements)

    def _series(
        self, method: str, route: str, status: int
    ) -> tuple[_Count, _Histogram, _Histogram]:
        requests = self._requests.setdefault((method, route, str(status)), _Count())
        latency = self._latency.get((method, route))
        if latency is None:
            latency = self._latency[(method, route)] = _Histogram(self.LATENCY_BUCKETS)
        statements = self._statements.get((route,))
        if statements is None:
            statements = self._statements[(route,)] = _Histogram(self.STATEMENT_BUCKETS)
        return requests, latency, statements

    def collect(self) -> Iterable[Metric]:
        requests = CounterMetricFamily(
            "mainspring_http_requests",
            "HTTP requests answered, by method, route template and status.",
            labels=["method", "route", "status"],
        )
        for labels, count in list(self._requests.items()):
            requests.add_metric(labels, count.value, created=count.created)
        yield requests
        yield _histogram_family(
            "mainspring_http_request_duration_seconds",
            "HTTP request latency, by method and route template.",
            ["method", "route"],
            self._latency,
        )
        yield GaugeMetricFamily(
            "mainspring_http_requests_in_flight", "HTTP requests being served.", self.in_flight
        )
        yield _histogram_family(
            "mainspring_db_statements_per_request",
            "SQL statements run by one HTTP request.",
            ["route"],
            self._statements,
        )


def _histogram_family(
    name: str,
    documentation: str,
    labels: list[str],
    series: dict[Any, _Histogram],
) -> HistogramMetricFamily:
    family = HistogramMetricFamily(name, documentation, labels=labels)
    for values, histogram in list(series.items()):
        cumulative = list(accumulate(histogram.counts))
        bounds = [*map(floatToGoString, histogram.bounds), "+Inf"]
        family.add_metric(values, list(zip(bounds, cumulative, strict=True)), histogram.sum)
        family.samples.append(
            Sample(f"{name}_created", dict(zip(labels, values, strict=True)), histogram.created)
        )
    return family


REQUEST_METRICS = RequestMetrics()
REGISTRY.register(REQUEST_METRICS)


class AccessLog:
    """One line per request: the fields below, plus the request id.

    In JSON (production) the line is built here, with one ``orjson.dumps``: about 3 us, where
    structlog's processor chain and the standard library's handler took about 55 us for the
    same line. The lines of the requests that end in one turn of the event loop are written to
    the log handler's stream together, in one write and one flush, as soon as that turn ends
    (at once past ``MAX_PENDING_BYTES``, or without a running loop): under load, a write system
    call per request was a tenth of a ``/healthz`` (docs/performance.md, "Access lines written
    once per turn of the event loop"). Its fields are those of every other log line
    (``event``, ``level``, ``logger``, ``timestamp``, ``request_id``).
    In the console format (development) it goes through structlog, pretty, as before.
    The logger's level still decides: at ``MAINSPRING_LOG_LEVEL=WARNING`` there is no line.
    """

    MAX_PENDING_BYTES = 64 * 1024

    def __init__(self, as_json: bool, stream: IO[str] | None = None) -> None:
        self.as_json = as_json
        self._level_of = logging.getLogger(ACCESS_LOGGER)
        self._logger = structlog.get_logger(ACCESS_LOGGER)
        out = stream if stream is not None else _handler_stream()
        binary = getattr(out, "buffer", None)
        if binary is not None:
            self._write: Callable[[bytes], Any] = binary.write
            self._flush: Callable[[], Any] = binary.flush
        else:  # a text-only stream (a test's StringIO)
            self._write = lambda line: out.write(line.decode())
            self._flush = out.flush
        self._second = -1
        self._stamp_prefix = ""
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._drain_scheduled = False

    def enabled(self) -> bool:
        return self._level_of.isEnabledFor(logging.INFO)

    def write(
        self,
        *,
        request_id: str,
        method: str,
        path: str,
        route: str,
        status: int,
        duration_ms: float,
        db_statements: int,
        client: str | None,
    ) -> None:
        if not self.as_json:
            self._logger.info(
                "request",
                method=method,
                path=path,
                route=route,
                status=status,
                duration_ms=duration_ms,
                db_statements=db_statements,
                client=client,
            )
            return
        line = orjson.dumps(
            {
                "event": "request",
                "level": "info",
                "logger": ACCESS_LOGGER,
                "timestamp": self._timestamp(),
                "request_id": request_id,
                "method": method,
                "path": path,
                "route": route,
                "status": status,
                "duration_ms": duration_ms,
                "db_statements": db_statements,
                "client": client,
            },
            option=orjson.OPT_APPEND_NEWLINE,
        )
        self._pending.append(line)
        self._pending_bytes += len(line)
        if self._pending_bytes >= self.MAX_PENDING_BYTES:
            self._drain()
        elif not self._drain_scheduled:
            try:
                asyncio.get_running_loop().call_soon(self._drain)
                self._drain_scheduled = True
            except RuntimeError:  # no event loop: written at once
                self._drain()

    def _drain(self) -> None:
        """Write the pending lines, in one write (and one flush)."""
        self._drain_scheduled = False
        if self._pending:
            lines, self._pending, self._pending_bytes = self._pending, [], 0
            self._write(b"".join(lines))
            self._flush()

    def _timestamp(self) -> str:
        """RFC 3339 UTC with microseconds, as structlog's ``TimeStamper(fmt="iso", utc=True)``;
        the date and time to the second are formatted once a second."""
        now = time.time()
        second = int(now)
        if second != self._second:
            self._second = second
            self._stamp_prefix = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        return f"{self._stamp_prefix}.{int((now - second) * 1_000_000):06d}Z"


def _handler_stream() -> IO[str]:
    """Where ``configure_logging`` sends log lines (standard error until it ran)."""
    stream = getattr(_HANDLER, "stream", None)
    return stream if stream is not None else sys.stderr


# --- who may read /metrics ----------------------------------------------------------------------


async def require_metrics_scraper(request: Request) -> None:
    """``/metrics`` is for the scraper: route names, traffic and pool sizes are reconnaissance
    for anyone else. With ``MAINSPRING_METRICS_TOKEN`` set, a request must carry it as a
    bearer token (compared in constant time), from any address; without it, only loopback
    clients are answered (a scraper or sidecar on the same host, a developer's curl). The
    client address is the one the trusted-proxy step established, so a request relayed by a
    local proxy from elsewhere is not loopback."""
    settings: Settings = request.app.state.settings
    token = settings.metrics_token
    if token is not None:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        expected = token.get_secret_value().encode()
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected):
            raise Unauthorized("Metrics need the scraper's bearer token.")
        return
    host = request.client.host if request.client else ""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise Forbidden(
            "Metrics are served to loopback clients only; set MAINSPRING_METRICS_TOKEN to "
            "let a scraper elsewhere read them with that bearer token."
        )


def log_unhandled(method: str, path: str) -> None:
    """Log the exception being handled, with its traceback (never sent to the client)."""
    error_logger.exception("unhandled_exception", method=method, path=path)
