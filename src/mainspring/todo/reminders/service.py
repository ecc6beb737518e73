"""Reminders by mail, run by the schedules of ``todo/background.py``.

* **Due soon**: an assignee is mailed once about each of their tasks that falls due within the
  next 24 hours. "Once" is recorded on the task (``reminded_due_at`` = the due date reminded
  of) in the same transaction that enqueues the mail: a run that fails enqueues nothing and
  marks nothing; a run that is repeated finds nothing left to send; a task given a new due
  date is reminded of it again.
* **Overdue digest**: once a day, each assignee with overdue tasks gets one mail listing the
  most overdue ones and how many there are in all.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from itertools import groupby

from sqlalchemy.ext.asyncio import AsyncSession

from mainspring.core.mail import send_mail
from mainspring.todo.reminders.repository import DueTask, ReminderRepository

DUE_SOON = timedelta(hours=24)
BATCH = 200
MAX_BATCHES = 50
DIGEST_TASKS = 10


def _when(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC")


class ReminderService:
    async def remind_due_soon(self, session: AsyncSession, now: datetime) -> int:
        """Enqueue one mail per task due within 24 hours not yet reminded of; how many."""
        repository = ReminderRepository(session)
        sent = 0
        for _ in range(MAX_BATCHES):
            claimed = await repository.claim_due_soon(now, now + DUE_SOON, BATCH)
            for due in claimed:
                await send_mail(
                    session,
                    to=due.email,
                    template="todo/due_soon",
                    context={
                        "name": due.name,
                        "title": due.title,
                        "project": due.project,
                        "due": _when(due.due_at),
                    },
                )
            sent += len(claimed)
            if len(claimed) < BATCH:
                break
        return sent

    async def send_overdue_digests(self, session: AsyncSession, now: datetime) -> int:
        """Enqueue one digest per assignee with overdue tasks; how many."""
        rows = await ReminderRepository(session).overdue_by_assignee(now, DIGEST_TASKS)
        count = 0
        for tasks in _per_assignee(rows):
            first = tasks[0]
            await send_mail(
                session,
                to=first.email,
                template="todo/overdue_digest",
                context={
                    "name": first.name,
                    "total": first.overdue_total,
                    "tasks": [
                        {"title": t.title, "project": t.project, "due": _when(t.due_at)}
                        for t in tasks
                    ],
                },
            )
            count += 1
        return count


def _per_assignee(rows: list[DueTask]) -> Iterator[list[DueTask]]:
    for _, tasks in groupby(rows, key=lambda row: row.assignee_id):
        yield list(tasks)


reminder_service = ReminderService()
