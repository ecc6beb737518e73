"""Every query about board columns: the board as the API shows it, the columns a write
changes, positions, and the set-based changes a column's tasks undergo with it.

Reads select the columns of ``schemas.Column`` (with the column's task count, a correlated
count served by the board index) and return that schema; writes load entities, after the
service took the project's row lock.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, insert, select, update

from mainspring.core.db import uuid7
from mainspring.core.pagination import PageSlice, offset_page
from mainspring.core.repository import RepositoryBase
from mainspring.todo.columns import schemas
from mainspring.todo.models import DEFAULT_COLUMNS, BoardColumn, ProjectMember, Task, TaskActivity


def _task_count() -> Any:
    return (
        select(func.count(Task.id))
        .where(Task.project_id == BoardColumn.project_id, Task.column_id == BoardColumn.id)
        .correlate(BoardColumn)
        .scalar_subquery()
    )


COLUMN_COLUMNS: tuple[Any, ...] = (
    BoardColumn.id,
    BoardColumn.project_id,
    BoardColumn.name,
    BoardColumn.position,
    BoardColumn.colour,
    BoardColumn.wip_limit,
    BoardColumn.is_done,
    BoardColumn.archived_at,
    _task_count().label("task_count"),
    BoardColumn.created_at,
    BoardColumn.updated_at,
)


class ColumnRepository(RepositoryBase[BoardColumn]):
    model = BoardColumn

    # --- reads: response schemas ------------------------------------------------------------

    async def view(self, project_id: uuid.UUID, column_id: uuid.UUID) -> schemas.Column | None:
        row = (
            await self.session.execute(
                select(*COLUMN_COLUMNS).where(
                    BoardColumn.id == column_id, BoardColumn.project_id == project_id
                )
            )
        ).first()
        return None if row is None else schemas.Column.model_validate(row, from_attributes=True)

    async def board_page(
        self, project_id: uuid.UUID, listing: PageSlice
    ) -> tuple[list[schemas.Column], int]:
        """The project's columns in board order (archived ones included, flagged)."""
        stmt = (
            select(*COLUMN_COLUMNS)
            .where(BoardColumn.project_id == project_id)
            .order_by(BoardColumn.position, BoardColumn.id)
        )
        rows, total = await offset_page(self.session, stmt, listing, scalars=False)
        return [schemas.Column.model_validate(row, from_attributes=True) for row in rows], total

    # --- writes: entities ---------------------------------------------------------------------

    async def visible(self, column_id: uuid.UUID, user_id: uuid.UUID) -> BoardColumn | None:
        """The column if ``user_id`` is a member of its project (no lock: the caller locks the
        project, then reads it again with ``in_project``)."""
        column: BoardColumn | None = await self.session.scalar(
            select(BoardColumn)
            .join(
                ProjectMember,
                and_(
                    ProjectMember.project_id == BoardColumn.project_id,
                    ProjectMember.user_id == user_id,
                ),
            )
            .where(BoardColumn.id == column_id)
        )
        return column

    async def in_project(self, project_id: uuid.UUID, column_id: uuid.UUID) -> BoardColumn | None:
        """The column, read afresh (under the project's lock), if it belongs to the project."""
        column: BoardColumn | None = await self.session.scalar(
            select(BoardColumn)
            .where(BoardColumn.id == column_id, BoardColumn.project_id == project_id)
            .execution_options(populate_existing=True)
        )
        return column

    async def of_project(self, project_id: uuid.UUID) -> list[BoardColumn]:
        """Every column of the project in board order, read afresh (under the project's lock)."""
        columns = await self.session.scalars(
            select(BoardColumn)
            .where(BoardColumn.project_id == project_id)
            .order_by(BoardColumn.position, BoardColumn.id)
            .execution_options(populate_existing=True)
        )
        return list(columns.all())

    async def first_open(self, project_id: uuid.UUID) -> BoardColumn | None:
        """Where a task lands when no column is named: the first column not archived."""
        column: BoardColumn | None = await self.session.scalar(
            select(BoardColumn)
            .where(BoardColumn.project_id == project_id, BoardColumn.archived_at.is_(None))
            .order_by(BoardColumn.position, BoardColumn.id)
            .limit(1)
        )
        return column

    async def add_defaults(self, project_ids: Sequence[uuid.UUID]) -> None:
        """The default board (To do, In progress, Done) of new projects: one INSERT."""
        await self.session.execute(
            insert(BoardColumn),
            [
                {
                    "id": uuid7(),
                    "project_id": project_id,
                    "name": name,
                    "position": position,
                    "colour": colour,
                    "wip_limit": None,
                    "is_done": is_done,
                    "archived_at": None,
                }
                for project_id in project_ids
                for position, (name, colour, is_done) in enumerate(DEFAULT_COLUMNS)
            ],
        )

    # --- the tasks of a column ----------------------------------------------------------------

    async def task_ids(self, project_id: uuid.UUID, column_id: uuid.UUID) -> list[uuid.UUID]:
        """The column's tasks in board order."""
        ids = await self.session.scalars(
            select(Task.id)
            .where(Task.project_id == project_id, Task.column_id == column_id)
            .order_by(Task.position, Task.id)
        )
        return list(ids.all())

    async def touch_tasks(
        self,
        project_id: uuid.UUID,
        column_id: uuid.UUID,
        *,
        done_since: datetime | None = None,
        reopened: bool = False,
    ) -> None:
        """The column's tasks show it (its name, its done flag): when it changes, their
        representation does, so their version grows (their ``updated_at`` stays: nobody edited
        them). ``done_since``: the column became a done column, so tasks without a
        ``completed_at`` get this one; ``reopened``: it no longer is one, so it is cleared."""
        values: dict[str, Any] = {"version": Task.version + 1, "updated_at": Task.updated_at}
        if done_since is not None:
            values["completed_at"] = func.coalesce(Task.completed_at, done_since)
        elif reopened:
            values["completed_at"] = None
        await self.session.execute(
            update(Task)
            .where(Task.project_id == project_id, Task.column_id == column_id)
            .values(**values)
        )

    async def move_tasks(
        self,
        project_id: uuid.UUID,
        source: BoardColumn,
        target: BoardColumn,
        *,
        actor_id: uuid.UUID,
        now: datetime,
    ) -> int:
        """Put every task of ``source`` at the end of ``target``, in their order, with one
        history entry each: set-based (an UPDATE and an INSERT, whatever the number of tasks).
        Positions stay dense: ``source``'s are 0..n-1, so they become size..size+n-1."""
        rows = (
            await self.session.execute(
                select(Task.id, Task.position)
                .where(Task.project_id == project_id, Task.column_id == source.id)
                .order_by(Task.position, Task.id)
            )
        ).all()
        if not rows:
            return 0
        size = await self.task_count(project_id, target.id)
        values: dict[str, Any] = {
            "column_id": target.id,
            "position": Task.position + size,
            "version": Task.version + 1,
            "updated_at": now,
        }
        if not target.is_done:
            values["completed_at"] = None
        elif not source.is_done:
            values["completed_at"] = func.coalesce(Task.completed_at, now)
        await self.session.execute(
            update(Task)
            .where(Task.project_id == project_id, Task.column_id == source.id)
            .values(**values)
        )
        await self.session.execute(
            insert(TaskActivity),
            [
                {
                    "id": uuid7(),
                    "task_id": task_id,
                    "actor_id": actor_id,
                    "action": "moved",
                    "changes": [
                        {"field": "column_id", "old": str(source.id), "new": str(target.id)},
                        {"field": "position", "old": position, "new": position + size},
                    ],
                    "created_at": now,
                }
                for task_id, position in rows
            ],
        )
        return len(rows)

    async def task_count(self, project_id: uuid.UUID, column_id: uuid.UUID) -> int:
        count = await self.session.scalar(
            select(func.count(Task.id)).where(
                Task.project_id == project_id, Task.column_id == column_id
            )
        )
        return int(count or 0)
