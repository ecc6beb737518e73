"""Rate limiting: a moving-window limiter on ``limits``, in process or shared through Redis.

Two ways in:

* ``rate_limit("10/minute", by="ip", scope="search")`` is a route dependency. It counts one hit
  per request for the client's IP address, the authenticated user or a key of your own, puts
  the ``RateLimit-*`` headers on the response and answers 429 once the quota is spent::

      @router.post("/articles", dependencies=[rate_limit("30/hour", by="user")])

* ``request.app.state.ratelimiter`` (``RateLimiterDep``) is the programmatic API, for limits a
  decorator cannot express, such as failed logins per account::

      await limiter.check("5/15minutes", "login-account", email)  # 429 if already spent
      ...  # on a wrong password:
      await limiter.hit("5/15minutes", "login-account", email)
      ...  # on success:
      await limiter.clear("5/15minutes", "login-account", email)

  The first key part names what is limited (a constant such as ``"login-account"``: it labels
  the metrics); the others say who.

The strategy is the *moving window*: the limiter keeps the time of each of the last N hits and
allows a hit when fewer than N of them fall within the last window. A fixed window (a counter
reset every minute) lets a client send N requests at 0:59 and N more at 1:00; a moving window
never allows more than N in any window-long span.

Backends: ``memory://`` counts inside the process (the laptop default; each replica would count
alone). ``redis://`` shares the counts between every replica; each hit is one atomic Lua script.

When Redis fails, a limit cannot be checked against the shared counts. A *security* limit (a
brute-force guard) must never turn into "allow everything": it falls back to an in-process
moving window, so each replica still enforces the limit on its own. Other limits fail open (the
request is allowed). Either way a warning is logged (at most once a minute) and counted in
``mainspring_ratelimit_degraded_total``, and Redis is left alone for a few seconds before it is
tried again, so that an outage does not cost every request a failed connection.
"""

from __future__ import annotations

import hashlib
import math
import time
import unicodedata
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

import structlog
from fastapi import Depends, FastAPI, Request, Response
from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage, RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from prometheus_client import Counter

from mainspring.core.auth import OptionalPrincipal
from mainspring.core.config import Settings
from mainspring.core.errors import TooManyRequests
from mainspring.core.health import register_readiness_check

if TYPE_CHECKING:
    from redis.asyncio import Redis

logger = structlog.get_logger("mainspring.ratelimit")

MAX_KEY_PART_LENGTH = 64
REDIS_KEY_PREFIX = "mainspring:ratelimit"
REDIS_TIMEOUT_SECONDS = 0.5
"""Connect and read timeout of the limiter's Redis calls: a hung Redis must not hang requests."""
RETRY_REDIS_AFTER_SECONDS = 5.0
"""After a failure, decisions are taken without Redis for this long before it is tried again."""
WARN_EVERY_SECONDS = 60.0

REJECTIONS = Counter(
    "mainspring_ratelimit_rejections_total",
    "Requests refused with 429 by a rate limit, by scope.",
    ["scope"],
)
DEGRADED = Counter(
    "mainspring_ratelimit_degraded_total",
    "Rate-limit decisions taken without the shared backend, by scope and outcome "
    "(fallback: the in-process limiter decided; allowed: let through).",
    ["scope", "outcome"],
)

_T = TypeVar("_T")


def normalise_key(part: str) -> str:
    """One part of a rate-limit key in canonical form.

    Spellings of one identity must share a bucket: ``" Alice@Example.COM "`` is
    ``"alice@example.com"`` (NFKC folds Unicode compatibility forms such as fullwidth letters,
    ``casefold`` is the Unicode-aware lower-casing). ``limits`` joins key parts with ``/``, so
    ``%`` and ``/`` are percent-encoded: no value can pose as two parts. A part that is long or
    holds control characters is replaced by its SHA-256, which keeps storage keys short.
    """
    text = unicodedata.normalize("NFKC", part).strip().casefold()
    text = text.replace("%", "%25").replace("/", "%2f")
    if len(text) > MAX_KEY_PART_LENGTH or not text.isprintable():
        return "sha256:" + hashlib.sha256(text.encode()).hexdigest()
    return text


@lru_cache(maxsize=256)
def parse_limit(limit: str) -> RateLimitItem:
    """``"10/minute"``, ``"5 per 15 minutes"``, ``"100/day"``... as a ``limits`` item.

    Raises ``ValueError`` when the text is malformed or holds several limits (``limits`` would
    silently keep the first; stack one dependency per limit instead).
    """
    items = parse_many(limit)
    if len(items) != 1:
        raise ValueError(f"one rate limit per call, got {limit!r}")
    return items[0]


@dataclass(frozen=True, slots=True)
class RateLimitState:
    """Where a client stands against one limit, after a hit or a check."""

    limit: int
    """Hits allowed per window."""
    remaining: int
    """Hits left right now."""
    reset_after: int
    """Seconds until the oldest counted hit leaves the window and frees a slot (at least 1)."""

    def headers(self) -> dict[str, str]:
        """The ``RateLimit-*`` fields of the IETF draft (draft-ietf-httpapi-ratelimit-headers)."""
        return {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_after),
        }

    def exceeded(self) -> TooManyRequests:
        """The 429 problem for a spent quota, telling the client when to come back."""
        return TooManyRequests(
            f"Too many requests; retry in {self.reset_after} seconds.",
            headers={"Retry-After": str(self.reset_after), **self.headers()},
        )


class RateLimiter:
    """Moving-window limits on one backend (``memory://`` or ``redis://``), one per app."""

    def __init__(self, url: str) -> None:
        self._redis: Redis | None = None
        self._fallback: MovingWindowRateLimiter | None = None
        self._retry_redis_at = 0.0
        self._warn_at = 0.0
        self._degraded = False
        if url.startswith("memory://"):
            self._primary = MovingWindowRateLimiter(MemoryStorage())
        elif url.startswith(("redis://", "rediss://")):
            # Imported here: redis-py is about 12 MiB of code, for deployments that use Redis.
            from redis.asyncio import ConnectionPool, Redis

            pool = ConnectionPool.from_url(
                url,
                socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
                socket_timeout=REDIS_TIMEOUT_SECONDS,
            )
            self._redis = Redis(connection_pool=pool)
            # ``limits`` builds its client on our pool, so that ``close()`` can release it.
            options: dict[str, Any] = {"connection_pool": pool}
            storage = RedisStorage(
                f"async+{url}",
                implementation="redispy",
                key_prefix=REDIS_KEY_PREFIX,
                wrap_exceptions=True,
                **options,
            )
            self._primary = MovingWindowRateLimiter(storage)
            self._fallback = MovingWindowRateLimiter(MemoryStorage())
        else:
            scheme = url.partition("://")[0]
            raise ValueError(f"rate limit backend {scheme!r}: use memory:// or redis://")

    @property
    def shared(self) -> bool:
        """Whether the counts live in Redis, shared by every replica."""
        return self._redis is not None

    async def hit(self, limit: str, *key: str, security: bool = True) -> RateLimitState:
        """Count one hit of ``key`` against ``limit``; raise ``TooManyRequests`` when spent.

        ``security`` (the default here: this API guards logins and tokens) keeps the limit in
        force during a Redis outage through the in-process fallback.
        """
        item, parts = parse_limit(limit), _parts(key)

        async def decide(strategy: MovingWindowRateLimiter) -> tuple[bool, RateLimitState]:
            allowed = await strategy.hit(item, *parts)
            return allowed, await _state(strategy, item, parts)

        verdict = await self._consult(key[0], security, decide)
        if verdict is None:
            return _unknown(item)
        allowed, state = verdict
        if not allowed:
            REJECTIONS.labels(key[0]).inc()
            raise state.exceeded()
        return state

    async def check(self, limit: str, *key: str, security: bool = True) -> RateLimitState:
        """Raise ``TooManyRequests`` if ``key`` has spent ``limit`` already; count nothing."""
        item, parts = parse_limit(limit), _parts(key)

        async def decide(strategy: MovingWindowRateLimiter) -> RateLimitState:
            return await _state(strategy, item, parts)

        state = await self._consult(key[0], security, decide)
        if state is None:
            return _unknown(item)
        if state.remaining < 1:
            REJECTIONS.labels(key[0]).inc()
            raise state.exceeded()
        return state

    async def clear(self, limit: str, *key: str) -> None:
        """Forget every hit of ``key`` against ``limit`` (e.g. failed logins after a success)."""
        item, parts = parse_limit(limit), _parts(key)
        if self._fallback is not None:
            await self._fallback.clear(item, *parts)
        try:
            await self._primary.clear(item, *parts)
        except StorageError as exc:
            self._redis_failed(exc)

    async def ping(self) -> None:
        """The readiness check: Redis answers (raises otherwise)."""
        if self._redis is not None:
            await self._redis.ping()

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose(close_connection_pool=True)

    async def _consult(
        self,
        scope: str,
        security: bool,
        decide: Callable[[MovingWindowRateLimiter], Awaitable[_T]],
    ) -> _T | None:
        """``decide`` on the shared counts; during an outage on the in-process fallback
        (security limits) or not at all (None: the caller lets the request through)."""
        if self._fallback is None:
            return await decide(self._primary)
        if time.monotonic() >= self._retry_redis_at:
            try:
                verdict = await decide(self._primary)
            except StorageError as exc:
                self._redis_failed(exc)
            else:
                if self._degraded:
                    self._degraded = False
                    logger.info("ratelimit_backend_recovered")
                return verdict
        if security:
            DEGRADED.labels(scope, "fallback").inc()
            return await decide(self._fallback)
        DEGRADED.labels(scope, "allowed").inc()
        return None

    def _redis_failed(self, exc: StorageError) -> None:
        now = time.monotonic()
        self._retry_redis_at = now + RETRY_REDIS_AFTER_SECONDS
        self._degraded = True
        if now >= self._warn_at:
            self._warn_at = now + WARN_EVERY_SECONDS
            logger.warning(
                "ratelimit_backend_unavailable",
                error=type(exc.storage_error).__name__,
                consequence="security limits count per process, other limits allow",
            )


def _parts(key: tuple[str, ...]) -> tuple[str, ...]:
    if not key:
        raise ValueError("a rate-limit key needs at least its scope, e.g. ('login-account', email)")
    return tuple(normalise_key(part) for part in key)


async def _state(
    strategy: MovingWindowRateLimiter, item: RateLimitItem, parts: tuple[str, ...]
) -> RateLimitState:
    stats = await strategy.get_window_stats(item, *parts)
    return RateLimitState(
        limit=item.amount,
        remaining=max(0, stats.remaining),
        reset_after=max(1, math.ceil(stats.reset_time - time.time())),
    )


def _unknown(item: RateLimitItem) -> RateLimitState:
    """The state reported by a limit that failed open: nothing was counted, the quota is whole."""
    return RateLimitState(limit=item.amount, remaining=item.amount, reset_after=item.get_expiry())


# --- the route dependency -----------------------------------------------------------------------

KeyFunction = Callable[[Request], Awaitable[str]]
"""A custom rate-limit key: ``async def by_api_key(request) -> str``."""
By = Literal["ip", "user"] | KeyFunction


async def get_ratelimiter(request: Request) -> RateLimiter:
    """The app's limiter (a coroutine: FastAPI runs a plain function in a worker thread)."""
    limiter: RateLimiter = request.app.state.ratelimiter
    return limiter


RateLimiterDep = Annotated[RateLimiter, Depends(get_ratelimiter)]


def client_ip(request: Request) -> str:
    """The client's address. ``ProxyHeadersMiddleware`` has already replaced it with the
    ``X-Forwarded-For`` value when, and only when, the peer is a trusted proxy."""
    return request.client.host if request.client else "unknown"


async def _by_ip(request: Request) -> tuple[str, ...]:
    return ("ip", client_ip(request))


def _identifier(by: By) -> Callable[[Request], Awaitable[tuple[str, ...]]]:
    if by == "ip":
        return _by_ip
    if isinstance(by, str):
        raise ValueError(f"rate_limit(by={by!r}): use 'ip', 'user' or an async function")
    custom = by

    async def by_custom(request: Request) -> tuple[str, ...]:
        return ("key", await custom(request))

    return by_custom


def _route_scope(request: Request) -> str:
    """The default scope: the method and route template (``POST /api/v1/articles``)."""
    route = request.scope.get("route")
    return f"{request.method} {getattr(route, 'path_format', '<unmatched>')}"


def _announce(response: Response, state: RateLimitState) -> None:
    """Set the ``RateLimit-*`` headers; with several limits on a route, the tightest wins."""
    current = response.headers.get("RateLimit-Remaining")
    if current is None or state.remaining < int(current):
        response.headers.update(state.headers())


def rate_limit(
    limit: str, *, by: By = "ip", scope: str | None = None, security: bool = False
) -> Any:
    """A dependency counting one hit per request against ``limit`` (e.g. ``"10/minute"``).

    ``by``: ``"ip"`` (the client address), ``"user"`` (the authenticated user, else the
    address for anonymous callers) or an async function of the
    request returning a key. ``scope`` names the bucket (default: the method and route
    template); routes that share a scope share the quota. ``security=True`` keeps the limit in
    force during a Redis outage (see the module docstring). Document the 429 in the route's
    ``responses=problem_responses(429)``.

    Use it in ``dependencies=[rate_limit(...)]``, or as a parameter annotated
    ``Annotated[RateLimitState, rate_limit(...)]`` to read the state.
    """
    parse_limit(limit)  # a malformed limit fails when the route is declared, not when called

    async def enforce(request: Request, response: Response, key: tuple[str, ...]) -> RateLimitState:
        name = scope or _route_scope(request)
        limiter = await get_ratelimiter(request)
        state = await limiter.hit(limit, name, *key, security=security)
        _announce(response, state)
        return state

    if by == "user":
        # The limit depends on authentication itself, so the order in which a route lists its
        # dependencies does not matter, and the handler's principal reuses the cached result.
        async def enforce_per_user(
            request: Request, response: Response, principal: OptionalPrincipal
        ) -> RateLimitState:
            key = ("user", str(principal.user_id)) if principal else ("ip", client_ip(request))
            return await enforce(request, response, key)

        return Depends(enforce_per_user)

    identify = _identifier(by)

    async def enforce_rate_limit(request: Request, response: Response) -> RateLimitState:
        return await enforce(request, response, await identify(request))

    return Depends(enforce_rate_limit)


def install(app: FastAPI, settings: Settings) -> None:
    """Put the limiter on ``app.state.ratelimiter``; check and close Redis when it is used."""
    limiter = RateLimiter(settings.backend_url(settings.ratelimit_url, "memory://"))
    app.state.ratelimiter = limiter
    if limiter.shared:
        register_readiness_check(app, "ratelimit", limiter.ping)
        app.state.shutdown_hooks.append(limiter.close)
