"""The session-state check: is the session behind an access token still allowed to act?

An access token is valid until it expires, but a session can end sooner (logout, revocation,
password reset, the user disabled). Every authenticated request therefore asks this check about
the token's ``sid``; ``core/auth.py`` calls it through the hook that ``install`` registers.

The answer is cached, so that a request costs no database query:

* ``session:<sid>`` holds the state read from the database (user, role, end of life), for one
  access-token lifetime.
* ``session-revoked:<sid>`` is a *revocation marker*, written when a session ends. It is checked
  first and nothing but a revocation writes it, so a reader that loaded "active" from the
  database just before the revocation committed, and cached it just after, cannot bring the
  session back to life: the marker still wins. It lives as long as an access token can, after
  which every token of the session has expired anyway.

Markers are written before the revoking transaction commits. Should that transaction fail, the
session is refused although it still exists: a safe failure (the user signs in again).

A role change or disabling a user ends the user's sessions too, so the role cached for a session
never changes while the session lives. With the Redis cache, each process keeps a copy of the
states and markers it has read (``Cache.keep_near``, core/cache_mirror.py), so the check asks
Redis nothing on the next request with the same token; Redis tells every process of each
marker and state written, and a revocation is seen by every replica as soon as that message
arrives (well under a millisecond after the revoking request wrote it; at once on the replica
that revoked). A state kept past its TTL still carries its ``expires_at``, and a marker only
outlives tokens that have expired. A cache outage is a miss, and the database answers.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

from fastapi import FastAPI
from starlette.requests import HTTPConnection

from mainspring.accounts.repository import SessionRepository
from mainspring.core.access_tokens import CLOCK_LEEWAY_SECONDS, AccessClaims
from mainspring.core.auth import Role, SessionState, register_session_check
from mainspring.core.cache import Cache
from mainspring.core.config import Settings
from mainspring.core.db import Database, utcnow


class SessionStates:
    """Cached session states and revocation markers (see the module docstring)."""

    def __init__(self, cache: Cache, database: Database, ttl_seconds: int) -> None:
        self.cache = cache
        self.database = database
        self.ttl = ttl_seconds

    async def check(self, _connection: HTTPConnection, claims: AccessClaims) -> SessionState | None:
        """The ``SessionStateCheck`` registered with the kernel."""
        sid = claims.session_id
        # Both keys in one read (one round trip to Redis); the marker wins, as it must.
        revoked, cached = await self.cache.get_many(f"session-revoked:{sid}", f"session:{sid}")
        if revoked is not None:
            return None
        now = utcnow()
        if cached is not None:
            if datetime.fromisoformat(cached["expires_at"]) <= now:
                return None
            return SessionState(
                active=True, user_id=uuid.UUID(cached["user_id"]), role=Role(cached["role"])
            )
        async with self.database.read_session() as session:
            found = await SessionRepository(session).state(sid)
        if found is None:
            return None
        auth_session, user = found
        if auth_session.revoked_at is not None or auth_session.expires_at <= now:
            return None
        if not user.is_active:
            return None
        await self.cache.set(
            f"session:{sid}",
            {
                "user_id": str(user.id),
                "role": user.role,
                "expires_at": auth_session.expires_at.isoformat(),
            },
            ttl=self.ttl,
        )
        return SessionState(active=True, user_id=user.id, role=Role(user.role))

    async def revoked(self, session_ids: Iterable[uuid.UUID]) -> None:
        """Mark sessions as ended, for every replica, from now on."""
        for sid in session_ids:
            await self.cache.set(f"session-revoked:{sid}", True, ttl=self.ttl)
            await self.cache.delete(f"session:{sid}")


def install(app: FastAPI, settings: Settings) -> SessionStates:
    """Create the session states on ``app.state.session_states`` and register their check."""
    states = SessionStates(
        app.state.cache, app.state.db, settings.access_token_ttl_seconds + CLOCK_LEEWAY_SECONDS
    )
    app.state.session_states = states
    app.state.cache.keep_near("session")  # session:<sid> and session-revoked:<sid>
    register_session_check(app, states.check)
    return states
