"""Background tasks of the accounts module.

* ``accounts.send_verification``, ``accounts.send_password_reset`` and
  ``accounts.send_email_change`` do the account lookup that requests must not do (so that they
  cannot reveal whether an address has an account): the request only enqueues the address, the
  task mails a link when there is an account to mail (for an email change: when the new
  address has none; a notice to it otherwise). Each may run twice (jobs run at least once): the
  second link retires the first.
* ``accounts.purge_expired`` deletes, every night, the one-time tokens and sessions that can no
  longer be used, and the sign-in attempts through identity providers that have expired, so
  the tables hold only what matters. Security events are kept.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from mainspring.accounts.repository import (
    AccountTokenRepository,
    OidcLoginRepository,
    SessionRepository,
)
from mainspring.accounts.service.profile import SEND_EMAIL_CHANGE_TASK, profile_service
from mainspring.accounts.service.recovery import SEND_RESET_TASK, recovery_service
from mainspring.accounts.service.registration import (
    SEND_VERIFICATION_TASK,
    registration_service,
)
from mainspring.core.background import JobContext, schedule, task
from mainspring.core.db import utcnow

KEEP_ENDED_FOR = timedelta(days=7)
"""Ended sessions and used tokens stay this long (users see recently ended sessions' events)."""


@task(SEND_VERIFICATION_TASK)
async def send_verification(ctx: JobContext, payload: dict[str, Any]) -> None:
    await registration_service.send_verification_to(ctx.session, ctx.settings, payload["email"])


@task(SEND_RESET_TASK)
async def send_password_reset(ctx: JobContext, payload: dict[str, Any]) -> None:
    await recovery_service.send_reset_to(ctx.session, ctx.settings, payload["email"])


@task(SEND_EMAIL_CHANGE_TASK)
async def send_email_change(ctx: JobContext, payload: dict[str, Any]) -> None:
    await profile_service.send_email_change_to(
        ctx.session, ctx.settings, uuid.UUID(payload["user_id"]), payload["email"]
    )


@schedule("accounts.purge_expired", cron="17 3 * * *")
async def purge_expired(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Delete tokens and sessions that ended more than ``KEEP_ENDED_FOR`` ago, and expired
    sign-in attempts through identity providers."""
    cutoff = utcnow() - KEEP_ENDED_FOR
    idle = timedelta(seconds=ctx.settings.refresh_token_idle_seconds)
    await AccountTokenRepository(ctx.session).purge(ended_before=cutoff)
    await SessionRepository(ctx.session).purge(ended_before=cutoff, idle=idle)
    await OidcLoginRepository(ctx.session).purge(expired_before=utcnow())
