"""Exports of a project: its tasks as CSV or as an Excel workbook, its due dates as an
iCalendar feed.

A calendar application cannot send an ``Authorization`` header, so the feed is reached by a
secret URL: each member creates their own for a project, it is shown once, only its SHA-256
hash is stored, and creating a new one or revoking it makes the old URL answer 404. It also
stops working when its owner leaves the project.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from anyio import to_thread
from sqlalchemy.ext.asyncio import AsyncSession

from mainspring.core.db import utcnow
from mainspring.core.errors import NotFound
from mainspring.core.security import new_token, token_digest
from mainspring.todo.exports.icalendar import render_calendar
from mainspring.todo.exports.repository import CalendarFeedRepository
from mainspring.todo.exports.spreadsheet import csv_header, csv_lines
from mainspring.todo.exports.workbook import TaskWorkbook
from mainspring.todo.models import CalendarFeed
from mainspring.todo.projects.service import project_service
from mainspring.todo.tasks.filters import TaskFilters
from mainspring.todo.tasks.repository import TaskRepository
from mainspring.todo.tasks.schemas import TaskExport

EXPORT_CHUNK = 1000
CALENDAR_PAST = timedelta(days=90)
"""The feed shows deadlines from 90 days ago onwards: enough context, bounded size."""
CALENDAR_MAX_EVENTS = 5000
NO_FILTERS = TaskFilters()


@dataclass(frozen=True)
class NewFeed:
    token: str
    created_at: datetime


class ExportService:
    async def csv(
        self,
        session: AsyncSession,
        user_id: uuid.UUID,
        project_id: uuid.UUID,
        filters: TaskFilters = NO_FILTERS,
    ) -> tuple[str, str]:
        """The project's name and the CSV of its tasks that pass ``filters``, read a chunk of
        tasks at a time (the request's session ends with the handler, so the document is
        built before)."""
        project, _ = await project_service.access(session, user_id, project_id, lock=False)
        parts = [csv_header()]
        async for rows in _chunks(session, project_id, filters, user_id):
            parts.append(csv_lines(rows))
        return project.name, "".join(parts)

    async def xlsx(
        self,
        session: AsyncSession,
        user_id: uuid.UUID,
        project_id: uuid.UUID,
        filters: TaskFilters = NO_FILTERS,
    ) -> tuple[str, bytes]:
        """The project's name and the Excel workbook of its tasks that pass ``filters`` (the
        CSV's columns, typed cells). The rows are written and the file compressed in a worker
        thread, a chunk at a time, so that a large export never holds up the event loop."""
        project, _ = await project_service.access(session, user_id, project_id, lock=False)
        book = await to_thread.run_sync(TaskWorkbook, project.name)
        try:
            async for rows in _chunks(session, project_id, filters, user_id):
                await to_thread.run_sync(book.add, rows)
            return project.name, await to_thread.run_sync(book.close)
        finally:
            book.close()  # a no-op once closed; on a failure, removes the temporary row file

    async def create_feed(
        self, session: AsyncSession, user_id: uuid.UUID, project_id: uuid.UUID
    ) -> NewFeed:
        """A new secret feed URL token for the caller (replacing theirs, if any)."""
        await project_service.access(session, user_id, project_id, lock=False)
        feeds = CalendarFeedRepository(session)
        await feeds.remove(project_id, user_id)
        token = new_token()
        feed = await feeds.add(
            CalendarFeed(project_id=project_id, user_id=user_id, token_hash=token_digest(token))
        )
        return NewFeed(token=token, created_at=feed.created_at)

    async def revoke_feed(
        self, session: AsyncSession, user_id: uuid.UUID, project_id: uuid.UUID
    ) -> None:
        await project_service.access(session, user_id, project_id, lock=False)
        await CalendarFeedRepository(session).remove(project_id, user_id)

    async def calendar(self, session: AsyncSession, token: str, *, host: str) -> str:
        project = await CalendarFeedRepository(session).project_of_token(token_digest(token))
        if project is None:
            raise NotFound("No calendar feed at this address (it may have been revoked).")
        now = utcnow()
        tasks = await TaskRepository(session).due_since(
            project.id, now - CALENDAR_PAST, CALENDAR_MAX_EVENTS, now
        )
        return render_calendar(project.name, tasks, host=host, now=now)


async def _chunks(
    session: AsyncSession, project_id: uuid.UUID, filters: TaskFilters, me: uuid.UUID
) -> AsyncIterator[list[TaskExport]]:
    """The project's tasks for an export, in creation order, ``EXPORT_CHUNK`` at a time."""
    tasks = TaskRepository(session)
    after = None
    now = utcnow()
    while rows := await tasks.export_chunk(
        project_id, filters, me=me, after=after, limit=EXPORT_CHUNK, now=now
    ):
        yield rows
        after = rows[-1].id


export_service = ExportService()
