"""``Idempotency-Key``: a client may retry an unsafe request without doing the thing twice.

The protocol is Stripe's (and the IETF ``httpapi-idempotency-key-header`` draft's):

- The first request with a key runs normally; its response (status, the headers listed in
  ``REPLAYED_HEADERS``, the body bytes) is stored for ``MAINSPRING_IDEMPOTENCY_TTL_SECONDS``
  under (principal, key).
- A retry with the same key, method, path (with its query) and body gets that response back,
  byte for byte, with ``Idempotent-Replayed: true``, and does nothing else.
- The same key with another method, path or body is 422: the client has a bug.
- A retry while the first request is still running is 409 (PostgreSQL); the client retries
  later and then gets the replay.
- ``required=True`` turns a missing key into 400 ``idempotency-key-required``, as the draft
  prescribes (not 428: the key is not a precondition on the resource's state).

Keys belong to a principal, so one caller's key never replays another's response: the user id
of the bearer token (the dependency authenticates the request itself, through
``core.auth.OptionalPrincipal``, so the order of dependencies does not matter), else
``request.state.principal.user_id`` (for another authentication that sets it), else, for an
anonymous request, ``anonymous:<client ip>`` (the address the trusted-proxy middleware
established). Anonymous callers behind one address share a key space; keys are random (UUIDs),
so they do not meet by accident.

**Atomicity.** The stored response is written in the *same transaction* as the change, so
either both are committed or neither is: a request that fails (any error rolls the unit of work
back) leaves no trace, and retrying it with the same key simply runs it again. That needs the
response *before* the commit, which a dependency alone never sees: ``IdempotentRoute``, the
route class of routers with idempotent endpoints, wraps each handler. The dependency inserts
the key's row (``in_progress``) and leaves it in the request scope; once the handler has built
its response, and before ``SessionDep`` commits, the route writes the response into the row
with the request's session::

    router = APIRouter(route_class=IdempotentRoute)

    @router.post("/orders", status_code=201)  # 400, 409 and 422 are documented for you
    async def create_order(body: OrderIn, session: SessionDep, user: CurrentUser,
                           idem: IdempotencyDep) -> Order: ...

    # or, where a key is mandatory:
    @router.post("/payments", dependencies=[Depends(idempotent(required=True))])

A ``request.state.principal`` is read when the dependency runs and checked again when the
response is stored: if something set it later (a dependency declared after this one), the
request fails (500) and nothing is stored under the wrong principal.

**Concurrency.** Exactly one of several identical concurrent requests runs. On PostgreSQL the
dependency first takes a transaction-scoped advisory lock on (principal, key) with
``pg_try_advisory_xact_lock``: a duplicate that cannot take it answers 409 at once instead of
waiting on the unique index with a pooled connection held; one that takes it after the first
committed finds the stored response and replays it. On SQLite every read-write transaction
starts with ``BEGIN IMMEDIATE``, so duplicates queue on the write lock (the busy timeout) and
then replay. The unique (principal, key) constraint stays as the last guard.

Expired rows are ignored (and deleted when their key is used again); ``purge_expired`` deletes
them in bulk and is meant to run on a schedule.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, Header, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from prometheus_client import Counter
from sqlalchemy import delete, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from mainspring.core.auth import OptionalPrincipal, Principal
from mainspring.core.db import dialect_of, utcnow
from mainspring.core.deps import SessionDep, SettingsDep
from mainspring.core.errors import BadRequest, Conflict, UnprocessableEntity, problem_responses
from mainspring.core.models import IdempotencyKey

IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
REPLAYED_HEADERS = ("content-type", "content-location", "location", "etag")
"""Response headers stored and replayed. Per-request ones (request id, rate limits, cookies)
are not: a replay must not hand a second caller the first one's cookie."""
KEY_PATTERN = r"^[\x21-\x7e]{1,255}$"
"""Printable ASCII without spaces, 1 to 255 characters: a UUID fits, so does a Stripe key."""

_SCOPE_KEY = "mainspring.idempotency"
_MARKER = "_mainspring_idempotency"

IDEMPOTENT_REPLAYS = Counter(
    "mainspring_idempotent_replays_total",
    "Responses replayed for a repeated Idempotency-Key.",
)


class IdempotencyKeyRequired(BadRequest):
    code = "idempotency-key-required"


class IdempotencyKeyReused(UnprocessableEntity):
    code = "idempotency-key-reused"


class IdempotencyKeyInProgress(Conflict):
    code = "idempotency-key-in-progress"


def request_principal(request: Request, authenticated: Principal | None = None) -> str:
    """Whose key space a request uses: the authenticated user id, else its client address."""
    principal = authenticated or getattr(request.state, "principal", None)
    user_id = getattr(principal, "user_id", None)
    if user_id is not None:
        return str(user_id)
    host = request.client.host if request.client else "unknown"
    return f"anonymous:{host}"


def request_fingerprint(method: str, target: str, body: bytes) -> str:
    """What must match for a replay: method, path with query, and the exact body."""
    digest = hashlib.sha256()
    for part in (method.encode(), target.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))  # length-prefixed: no ambiguous joins
        digest.update(part)
    return digest.hexdigest()


def _target(request: Request) -> str:
    query = request.url.query
    return f"{request.url.path}?{query}" if query else request.url.path


def _lock_id(principal: str, key: str) -> int:
    """A signed 64-bit advisory-lock id for (principal, key)."""
    digest = hashlib.blake2b(f"{principal}\0{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


@dataclass
class PendingKey:
    """A key seen for the first time: its ``in_progress`` row awaits the response."""

    key: str
    principal: str
    row: IdempotencyKey
    session: AsyncSession
    authenticated: Principal | None

    async def store(self, request: Request, response: Response) -> None:
        """Write ``response`` into the key's row, in the request's transaction."""
        if request_principal(request, self.authenticated) != self.principal:
            raise RuntimeError(
                "request.state.principal changed after the idempotency dependency ran: declare "
                "it after the dependency that sets the principal"
            )
        body = getattr(response, "body", None)
        if not isinstance(body, bytes):
            raise TypeError("an idempotent endpoint must answer a complete body, not a stream")
        self.row.status = "completed"
        self.row.response_status = response.status_code
        self.row.response_headers = {
            name: response.headers[name] for name in REPLAYED_HEADERS if name in response.headers
        }
        self.row.response_body = body
        await self.session.flush()


@dataclass
class _Slot:
    """Put in the request scope by ``IdempotentRoute``; the dependency fills it."""

    pending: PendingKey | None = None


class _Replay(Exception):
    """Raised by the dependency to answer the stored response instead of running the handler."""

    def __init__(self, response: Response) -> None:
        super().__init__("idempotent replay")
        self.response = response


class IdempotentRoute(APIRoute):
    """The route class of routers whose endpoints take ``Idempotency-Key``.

    Its handler stores the response of a first request before the session commits, and answers
    replays. Only routes whose dependencies include ``idempotent()`` get that handler: the
    others (every GET of a router) keep FastAPI's own, untouched. Routes with the dependency
    document its problems (400, 409, 422) in OpenAPI by themselves.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if _uses_idempotency(self.dependant):
            self.responses = {**problem_responses(400, 409, 422), **self.responses}

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if not _uses_idempotency(self.dependant):
            return handler

        async def idempotent_handler(request: Request) -> Response:
            slot = _Slot()
            request.scope[_SCOPE_KEY] = slot
            try:
                response = await handler(request)
            except _Replay as replay:
                return replay.response
            if slot.pending is not None:
                await slot.pending.store(request, response)
            return response

        return idempotent_handler


def _uses_idempotency(dependant: Dependant) -> bool:
    return any(
        getattr(sub.call, _MARKER, False) or _uses_idempotency(sub)
        for sub in dependant.dependencies
    )


def _replay(row: IdempotencyKey) -> Response:
    IDEMPOTENT_REPLAYS.inc()
    headers = {**(row.response_headers or {}), REPLAYED_HEADER: "true"}
    return Response(
        row.response_body or b"", status_code=row.response_status or 200, headers=headers
    )


async def _claim(session: AsyncSession, principal: str, key: str) -> None:
    """Serialise the requests of one key. PostgreSQL: a non-blocking advisory lock held until
    the transaction ends (409 when another request holds it). SQLite: the session's
    ``BEGIN IMMEDIATE`` already serialises every writer."""
    if dialect_of(session) != "postgresql":
        return
    locked = await session.scalar(
        text("SELECT pg_try_advisory_xact_lock(:id)"), {"id": _lock_id(principal, key)}
    )
    if not locked:
        raise IdempotencyKeyInProgress(
            "A request with this Idempotency-Key is still in progress; retry shortly.",
            headers={"Retry-After": "1"},
        )


def idempotent(*, required: bool = False) -> Callable[..., Awaitable[PendingKey | None]]:
    """The dependency honouring ``Idempotency-Key`` (``required=True``: a missing key is 400).

    It answers a replay, 422 or 409 by itself; for a new key it inserts the ``in_progress``
    row and returns the ``PendingKey`` (None without a key), and the route stores the response.
    """

    async def dependency(
        request: Request,
        session: SessionDep,
        settings: SettingsDep,
        authenticated: OptionalPrincipal,
        idempotency_key: Annotated[
            str | None,
            Header(
                alias=IDEMPOTENCY_HEADER,
                pattern=KEY_PATTERN,
                description="A unique key (a UUID) per operation; retries reuse it to get the "
                "first response back instead of repeating the operation.",
                examples=["3f0c6f5e-2a7c-4c3b-9d3e-6a1f2b9e8c10"],
            ),
        ] = None,
    ) -> PendingKey | None:
        slot = request.scope.get(_SCOPE_KEY)
        if not isinstance(slot, _Slot):
            raise RuntimeError(
                "Idempotency-Key needs the route class: APIRouter(route_class=IdempotentRoute)"
            )
        if slot.pending is not None:  # declared twice on one route
            return slot.pending
        if idempotency_key is None:
            if required:
                raise IdempotencyKeyRequired(
                    f"This operation requires an {IDEMPOTENCY_HEADER} header."
                )
            return None

        principal = request_principal(request, authenticated)
        fingerprint = request_fingerprint(request.method, _target(request), await request.body())
        await _claim(session, principal, idempotency_key)
        now = utcnow()
        row = await session.scalar(
            select(IdempotencyKey).where(
                IdempotencyKey.principal == principal, IdempotencyKey.key == idempotency_key
            )
        )
        if row is not None and row.expires_at <= now:
            await session.delete(row)
            await session.flush()
            row = None
        if row is not None:
            # A committed row is always complete: the row and its response share a transaction.
            if row.request_hash != fingerprint:
                raise IdempotencyKeyReused(
                    f"This {IDEMPOTENCY_HEADER} was used for a different request "
                    "(method, path or body); use a new key for a new operation."
                )
            raise _Replay(_replay(row))

        row = IdempotencyKey(
            principal=principal,
            key=idempotency_key,
            method=request.method,
            path=request.url.path[:2048],
            request_hash=fingerprint,
            status="in_progress",
            expires_at=now + timedelta(seconds=settings.idempotency_ttl_seconds),
        )
        session.add(row)
        await session.flush()
        slot.pending = PendingKey(idempotency_key, principal, row, session, authenticated)
        return slot.pending

    setattr(dependency, _MARKER, True)
    return dependency


IdempotencyDep = Annotated[PendingKey | None, Depends(idempotent())]
"""Honours ``Idempotency-Key`` when the client sends one (None otherwise)."""


async def purge_expired(session: AsyncSession, now: datetime | None = None) -> int:
    """Delete the keys past their time to live; returns how many. Schedule it (daily is plenty):
    expired rows are already ignored, this only reclaims their space."""
    result = await session.execute(
        delete(IdempotencyKey).where(IdempotencyKey.expires_at <= (now or utcnow()))
    )
    return int(getattr(result, "rowcount", 0) or 0)
