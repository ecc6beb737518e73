"""What an accounts operation needs besides the database session.

``AccountsContext`` gathers the app's security tools (settings, password hasher, key ring,
rate limiter, session states) and two things about the request: the ``Client`` (address and
browser, recorded with sessions and security events) and its ``Aftermath``.

``Aftermath`` holds the writes that must persist even though the request fails. A failed
login answers 401, and the error rolls the request's transaction back, yet the failed attempt
must stay in the audit log; a reused refresh token answers 401, yet its session must stay
revoked. Such writes are queued on the aftermath and run in a transaction of their own once the
request's unit of work has ended (``accounts/deps.py``), before the error is sent.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from mainspring.accounts.service.states import SessionStates
from mainspring.core.access_tokens import KeyRing
from mainspring.core.config import Settings
from mainspring.core.db import Database
from mainspring.core.passwords import PasswordHasher
from mainspring.core.ratelimit import RateLimiter

logger = structlog.get_logger("mainspring.accounts")

Action = Callable[[AsyncSession], Awaitable[None]]


@dataclass(frozen=True)
class Client:
    """Where a request comes from, as recorded in sessions and security events."""

    ip: str | None = None
    user_agent: str | None = None


class Aftermath:
    """Writes run in their own transaction after the request's, whatever its outcome."""

    def __init__(self) -> None:
        self._actions: list[Action] = []

    def add(self, action: Action) -> None:
        self._actions.append(action)

    async def run(self, database: Database) -> None:
        """Run the queued writes in one new transaction. A failure is logged, not raised: the
        client's answer is already decided."""
        if not self._actions:
            return
        actions, self._actions = self._actions, []
        try:
            async with database.session() as session:
                for action in actions:
                    await action(session)
        except Exception:
            logger.exception("aftermath_failed", writes=len(actions))


@dataclass(frozen=True)
class AccountsContext:
    settings: Settings
    database: Database
    hasher: PasswordHasher
    keyring: KeyRing
    limiter: RateLimiter
    states: SessionStates
    client: Client
    aftermath: Aftermath
