"""The queries of reminders: tasks due soon that were not reminded of, and overdue tasks per
assignee. Both use the ``due_at`` index and skip archived projects, finished tasks and
accounts that can no longer read mail (disabled or deleted)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mainspring.accounts.models import User
from mainspring.todo.models import Project, Task


@dataclass(frozen=True)
class DueTask:
    """A task as a reminder mail shows it, with its assignee's address."""

    task_id: uuid.UUID
    title: str
    due_at: datetime
    project: str
    assignee_id: uuid.UUID
    email: str
    name: str
    overdue_total: int = 0


def _open_assigned() -> list[ColumnElement[bool]]:
    return [
        Task.assignee_id.is_not(None),
        Task.completed_at.is_(None),  # not in a done column
        Project.archived.is_(False),
        User.deleted_at.is_(None),
        User.disabled_at.is_(None),
    ]


def _columns() -> tuple[Any, ...]:
    return (
        Task.id,
        Task.title,
        Task.due_at,
        Project.name,
        Task.assignee_id,
        User.email,
        User.display_name,
    )


class ReminderRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def claim_due_soon(self, now: datetime, until: datetime, limit: int) -> list[DueTask]:
        """Mark up to ``limit`` tasks due in ``(now, until]`` as reminded of their current due
        date, and return them. The mark is a conditional UPDATE: if two runs overlap, each
        task is claimed by one of them only (PostgreSQL re-checks the condition after waiting
        for the other's row lock; SQLite runs one writer at a time)."""
        not_reminded = or_(Task.reminded_due_at.is_(None), Task.reminded_due_at != Task.due_at)
        candidates = list(
            (
                await self.session.scalars(
                    select(Task.id)
                    .join(Project, Project.id == Task.project_id)
                    .join(User, User.id == Task.assignee_id)
                    .where(Task.due_at > now, Task.due_at <= until, not_reminded)
                    .where(*_open_assigned())
                    .order_by(Task.due_at)
                    .limit(limit)
                )
            ).all()
        )
        if not candidates:
            return []
        claimed = list(
            (
                await self.session.scalars(
                    update(Task)
                    .where(Task.id.in_(candidates), not_reminded)
                    .values(reminded_due_at=Task.due_at, updated_at=Task.updated_at)
                    .returning(Task.id)
                    .execution_options(synchronize_session=False)
                )
            ).all()
        )
        if not claimed:
            return []
        rows = await self.session.execute(
            select(*_columns())
            .join(Project, Project.id == Task.project_id)
            .join(User, User.id == Task.assignee_id)
            .where(Task.id.in_(claimed))
            .order_by(Task.due_at)
        )
        return [DueTask(*row) for row in rows.all()]

    async def overdue_by_assignee(self, now: datetime, per_assignee: int) -> list[DueTask]:
        """The ``per_assignee`` most overdue tasks of every assignee, with each assignee's
        total, in one statement (window functions, on both databases)."""
        ranked = (
            select(
                *_columns(),
                func.row_number()
                .over(partition_by=Task.assignee_id, order_by=(Task.due_at, Task.id))
                .label("rank"),
                func.count().over(partition_by=Task.assignee_id).label("total"),
            )
            .join(Project, Project.id == Task.project_id)
            .join(User, User.id == Task.assignee_id)
            .where(and_(Task.due_at < now, *_open_assigned()))
            .subquery()
        )
        rows = await self.session.execute(
            select(*(column for column in ranked.c if column.name != "rank"))
            .where(ranked.c.rank <= per_assignee)
            .order_by(ranked.c.assignee_id, ranked.c.rank)
        )
        return [DueTask(*row) for row in rows.all()]
