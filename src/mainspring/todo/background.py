"""The task manager's background work: due-date reminders and the daily overdue digest.

Both are schedules: the kernel enqueues one job per slot however many workers run, and the
reminder service makes a repeated run harmless (see ``reminders/service.py``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from mainspring.core.background import JobContext, schedule
from mainspring.core.db import utcnow
from mainspring.todo.reminders.service import reminder_service


@schedule("todo.remind_due_soon", every=timedelta(minutes=15))
async def remind_due_soon(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Mail assignees about their tasks due within 24 hours (once per task and due date)."""
    await reminder_service.remind_due_soon(ctx.session, utcnow())


@schedule("todo.overdue_digest", cron="0 7 * * *")
async def overdue_digest(ctx: JobContext, payload: dict[str, Any]) -> None:
    """At 07:00 UTC, mail each assignee the list of their overdue tasks."""
    await reminder_service.send_overdue_digests(ctx.session, utcnow())
