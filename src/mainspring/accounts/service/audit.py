"""The security audit log: what happened to which account, when, from where.

Events are rows of ``security_events``, written in the transaction of the change they describe
(``record``), or, for what must be kept although the request fails (a failed login, a reused
refresh token), in a transaction of their own after it (``record_anyway``).

``details`` holds facts such as a reason or a new role, never a password, a token or a hash.
"""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from mainspring.accounts.models import SecurityEvent
from mainspring.accounts.repository import SecurityEventRepository
from mainspring.accounts.schemas import SecurityEventView
from mainspring.accounts.service.context import AccountsContext, Client
from mainspring.core.pagination import CursorSlice


class EventKind(StrEnum):
    """What happened. (The ``noqa`` marks quiet a linter that takes "password" for a secret.)"""

    REGISTERED = "registered"
    REGISTRATION_EMAIL_EXISTS = "registration_email_exists"
    EMAIL_VERIFIED = "email_verified"
    LOGIN_SUCCEEDED = "login_succeeded"
    LOGIN_FAILED = "login_failed"
    LOGIN_LOCKED = "login_locked"
    LOGOUT = "logout"
    REFRESH_TOKEN_REUSED = "refresh_token_reused"  # noqa: S105
    SESSION_REVOKED = "session_revoked"
    OTHER_SESSIONS_REVOKED = "other_sessions_revoked"
    PASSWORD_CHANGED = "password_changed"  # noqa: S105
    PASSWORD_RESET_REQUESTED = "password_reset_requested"  # noqa: S105
    PASSWORD_RESET = "password_reset"  # noqa: S105
    PASSWORD_REHASHED = "password_rehashed"  # noqa: S105
    REAUTHENTICATION_FAILED = "reauthentication_failed"
    EMAIL_CHANGE_REQUESTED = "email_change_requested"
    EMAIL_CHANGED = "email_changed"
    ACCOUNT_DELETED = "account_deleted"
    USER_DISABLED = "user_disabled"
    USER_ENABLED = "user_enabled"
    ROLE_CHANGED = "role_changed"
    IDENTITY_LOGIN = "identity_login"
    IDENTITY_LINKED = "identity_linked"
    IDENTITY_LINK_REFUSED = "identity_link_refused"
    IDENTITY_UNLINKED = "identity_unlinked"
    TWO_FACTOR_ENROLMENT_STARTED = "two_factor_enrolment_started"
    TWO_FACTOR_ENABLED = "two_factor_enabled"
    TWO_FACTOR_DISABLED = "two_factor_disabled"
    TWO_FACTOR_REMOVED = "two_factor_removed"
    TWO_FACTOR_CHALLENGED = "two_factor_challenged"
    TWO_FACTOR_FAILED = "two_factor_failed"
    RECOVERY_CODES_REGENERATED = "recovery_codes_regenerated"
    RECOVERY_CODE_USED = "recovery_code_used"


class AuditService:
    """Writes and reads security events."""

    def event(
        self,
        kind: EventKind,
        client: Client,
        *,
        user_id: uuid.UUID | None = None,
        actor_id: uuid.UUID | None = None,
        session_id: uuid.UUID | None = None,
        **details: Any,
    ) -> SecurityEvent:
        return SecurityEvent(
            kind=kind.value,
            user_id=user_id,
            actor_id=actor_id,
            session_id=session_id,
            ip=client.ip,
            user_agent=client.user_agent,
            details=details,
        )

    async def record(
        self, session: AsyncSession, kind: EventKind, client: Client, **fields: Any
    ) -> None:
        """Log an event in the current transaction: it exists if and only if the change does."""
        session.add(self.event(kind, client, **fields))

    def record_anyway(self, ctx: AccountsContext, kind: EventKind, **fields: Any) -> None:
        """Log an event that must be kept even though the request fails (see ``Aftermath``)."""
        event = self.event(kind, ctx.client, **fields)

        async def write(session: AsyncSession) -> None:
            session.add(event)

        ctx.aftermath.add(write)

    async def page(
        self,
        session: AsyncSession,
        listing: CursorSlice,
        *,
        user_id: uuid.UUID | None = None,
        kind: EventKind | None = None,
    ) -> tuple[list[SecurityEventView], str | None]:
        """Events newest first, one keyset slice (one statement whatever its size)."""
        return await SecurityEventRepository(session).page(
            listing, user_id=user_id, kind=kind.value if kind else None
        )


audit_service = AuditService()
