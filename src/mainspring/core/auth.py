"""Who is calling: the ``Principal`` behind a bearer token, and role or permission requirements.

A request is authenticated in two steps:

1. The access token's signature and claims are verified by the ``KeyRing``
   (``core/access_tokens.py``): pure computation, no I/O, done once per token and process (the
   ring remembers the tokens it verified; their validity times are checked on every request).
2. The token's session (``sid``) is checked by the *session-state check*, a hook the accounts
   module registers with ``register_session_check`` (the kernel never imports a module). It
   answers from a cache whether the session is still active and the user's current role, so a
   revoked session or a disabled user stops working at once, not when the token expires, and a
   role change takes effect on the next request.

Modules depend on ``CurrentPrincipal`` (or ``OptionalPrincipal``), ``require_role(...)`` and
``require_permission(...)``; ``accounts/deps.py`` turns a principal into the ``User`` row.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Generic, TypeVar

from fastapi import Depends, FastAPI, Request
from fastapi.security import OAuth2PasswordBearer
from fastapi.security.base import SecurityBase
from fastapi.security.utils import get_authorization_scheme_param
from starlette.requests import HTTPConnection

from mainspring.core.access_tokens import AccessClaims, InvalidToken, KeyRing
from mainspring.core.errors import Forbidden, Unauthorized

T = TypeVar("T")

TOKEN_URL = "/api/v1/auth/token"  # noqa: S105 - the OAuth 2.0 token endpoint, not a secret


class Role(StrEnum):
    """Roles, from least to most trusted; each has the permissions of the ones before it."""

    USER = "user"
    MODERATOR = "moderator"
    ADMIN = "admin"


_RANK = {Role.USER: 0, Role.MODERATOR: 1, Role.ADMIN: 2}

ROLE_PERMISSIONS: dict[Role, frozenset[str]] = {
    Role.USER: frozenset(),
    Role.MODERATOR: frozenset({"content:moderate"}),
    Role.ADMIN: frozenset({"content:moderate", "users:read", "users:manage", "audit:read"}),
}
"""What each role may do. ``content:moderate``: edit or delete anyone's content;
``users:read`` / ``users:manage``: list, disable, enable users and change roles;
``audit:read``: read the security events."""
PERMISSIONS = frozenset().union(*ROLE_PERMISSIONS.values())


@dataclass(frozen=True)
class Principal:
    """The authenticated caller: a user, acting through one session, with a role."""

    user_id: uuid.UUID
    session_id: uuid.UUID
    role: Role
    methods: tuple[str, ...] = ("pwd",)
    expires_at: datetime | None = None
    """When the access token expires (a long-lived WebSocket closes then)."""

    @property
    def permissions(self) -> frozenset[str]:
        return ROLE_PERMISSIONS[self.role]

    def has_role(self, role: Role) -> bool:
        """Whether the caller's role is ``role`` or a more trusted one."""
        return _RANK[self.role] >= _RANK[role]

    def can(self, permission: str) -> bool:
        return permission in self.permissions


@dataclass(frozen=True)
class SessionState:
    """The session-state check's answer: may this session act, for which user, with which role."""

    active: bool
    user_id: uuid.UUID
    role: Role


SessionStateCheck = Callable[[HTTPConnection, AccessClaims], Awaitable[SessionState | None]]
"""``check(connection, claims)`` -> the state of ``claims.session_id``, or None if unknown.

The connection is the request, or the WebSocket, being authenticated."""


def register_session_check(app: FastAPI, check: SessionStateCheck) -> None:
    """Install the check every authenticated request runs after verifying its token."""
    app.state.session_state_check = check


_SCHEME = OAuth2PasswordBearer(
    tokenUrl=TOKEN_URL,
    auto_error=False,
    description="An access token from `POST /api/v1/auth/login` or `/api/v1/auth/token`.",
)
"""The OpenAPI security scheme of every authenticated endpoint (the Authorize button of /docs).
Its model is what ``Caller`` documents; it is not itself a dependency."""


def _invalid(detail: str) -> Unauthorized:
    return Unauthorized(detail, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})


async def authenticate(connection: HTTPConnection, token: str) -> Principal:
    """The principal of an access ``token``: a valid signature and claims, and a live session.

    Raises ``Unauthorized``. Used for HTTP requests (``get_principal``) and for WebSockets,
    which send their token in their first message."""
    keyring: KeyRing = connection.app.state.keyring
    try:
        claims = keyring.verify(token)
    except InvalidToken as exc:
        raise _invalid("The access token is invalid or expired.") from exc
    check: SessionStateCheck | None = getattr(connection.app.state, "session_state_check", None)
    if check is None:
        raise RuntimeError("no session-state check registered: call register_session_check()")
    state = await check(connection, claims)
    if state is None or not state.active or state.user_id != claims.subject:
        raise _invalid("The session has ended; sign in again.")
    principal = Principal(
        user_id=claims.subject,
        session_id=claims.session_id,
        role=state.role,
        methods=claims.methods,
        expires_at=claims.expires_at,
    )
    connection.state.principal = principal  # per-user rate limits read it
    return principal


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who reads: a signed-in principal, or anonymous (``principal`` None).

    Every read path that may be anonymous takes a ``Viewer`` (``ViewerDep``); a query that
    depends on who reads (``favorited``, ``following``, drafts) uses ``viewer.user_id``, None for
    an anonymous reader. Writes need ``CurrentPrincipal``."""

    principal: Principal | None = None

    @property
    def user_id(self) -> uuid.UUID | None:
        return self.principal.user_id if self.principal else None

    @property
    def anonymous(self) -> bool:
        return self.principal is None

    def can(self, permission: str) -> bool:
        return self.principal is not None and self.principal.can(permission)

    def is_user(self, user_id: uuid.UUID) -> bool:
        return self.principal is not None and self.principal.user_id == user_id


ANONYMOUS = Viewer()


class Caller(SecurityBase, Generic[T]):
    """A dependency on who calls, documented in OpenAPI as the bearer-token scheme.

    FastAPI lists an endpoint's security from the ``SecurityBase`` instances among its
    dependencies. The textbook chain (a scheme that reads the header, a dependency that
    authenticates its token, one that shapes the result) costs FastAPI a dependency solve per
    level on every request: about a quarter of a signed-in read's CPU went to solving. A
    ``Caller`` is one level: it reads the header, authenticates, and ``shape`` makes the result
    (optional, required, a ``Viewer``). Several of them on one request (a per-user rate limit's
    ``OptionalPrincipal`` and the handler's ``CurrentPrincipal``) authenticate once:
    ``authenticate`` keeps the principal on ``request.state``."""

    def __init__(self, shape: Callable[[Principal | None], T]) -> None:
        self.model = _SCHEME.model
        self.scheme_name = _SCHEME.scheme_name
        self._shape = shape

    async def __call__(self, request: Request) -> T:
        return self._shape(await _principal(request))


async def _principal(request: Request) -> Principal | None:
    """The caller of ``request``, or None without a bearer token (a token that is sent must be
    valid: a bad one answers 401 rather than being silently ignored)."""
    scheme, token = get_authorization_scheme_param(request.headers.get("authorization"))
    if scheme.lower() != "bearer" or not token:
        return None
    known: Principal | None = getattr(request.state, "principal", None)
    if known is not None:  # authenticated by another ``Caller`` of this request
        return known
    return await authenticate(request, token)


def _required(principal: Principal | None) -> Principal:
    if principal is None:
        raise Unauthorized("Authentication required: send `Authorization: Bearer <token>`.")
    return principal


def _optional(principal: Principal | None) -> Principal | None:
    return principal


def _viewer(principal: Principal | None) -> Viewer:
    return ANONYMOUS if principal is None else Viewer(principal)


CurrentPrincipal = Annotated[Principal, Depends(Caller(_required))]
"""The caller; 401 without a valid access token of a live session."""
OptionalPrincipal = Annotated[Principal | None, Depends(Caller(_optional))]
"""The caller, or None for an anonymous request; 401 for a bad token."""
ViewerDep = Annotated[Viewer, Depends(Caller(_viewer))]
"""The reader of an endpoint that anonymous callers may use too."""


def require_role(role: Role) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency admitting callers with ``role`` or a more trusted one (403 otherwise).

    ``admin: Annotated[Principal, Depends(require_role(Role.ADMIN))]``
    """

    async def dependency(principal: CurrentPrincipal) -> Principal:
        if not principal.has_role(role):
            raise Forbidden(f"This action needs the {role.value} role.")
        return principal

    return dependency


def require_permission(permission: str) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency admitting callers whose role grants ``permission`` (403 otherwise)."""
    if permission not in PERMISSIONS:
        raise ValueError(f"unknown permission {permission!r}; known: {sorted(PERMISSIONS)}")

    async def dependency(principal: CurrentPrincipal) -> Principal:
        if not principal.can(permission):
            raise Forbidden("You are not allowed to do this.")
        return principal

    return dependency
