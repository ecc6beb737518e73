"""Every query about tasks: access checks, the filtered list, column positions, labels."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, func, insert, null, select, update
from sqlalchemy.orm import aliased, selectinload

from mainspring.accounts.models import User
from mainspring.core.pagination import CursorCodec, CursorParams, PageParams, SortKey, keyset_page
from mainspring.core.repository import RepositoryBase
from mainspring.todo.models import Project, ProjectMember, Subtask, Task, TaskActivity, TaskLabel
from mainspring.todo.tasks.filters import TaskFilters


@dataclass(frozen=True)
class TaskAccess:
    """Where a task lives and what the caller may do there."""

    project_id: uuid.UUID
    role: str
    archived: bool


@dataclass(frozen=True)
class TaskRow:
    """A task with what its representation needs from other rows (loaded in the same query)."""

    task: Task
    assignee_username: str | None
    creator_username: str | None
    subtasks_total: int
    subtasks_done: int


_assignee = aliased(User, name="assignee")
_creator = aliased(User, name="creator")


def _subtask_count(*, done_only: bool) -> Any:
    stmt = select(func.count(Subtask.id)).where(Subtask.task_id == Task.id)
    if done_only:
        stmt = stmt.where(Subtask.done.is_(True))
    return stmt.correlate(Task).scalar_subquery()


def _rows_select(*, detail: bool) -> Select[Any]:
    """Tasks with their assignee's (and creator's) username and checklist counts; labels (and
    subtasks) come in one extra statement each, whatever the number of tasks."""
    loads = [selectinload(Task.labels)]
    if detail:
        loads.append(selectinload(Task.subtasks))
    creator: Any = _creator.username if detail else null()
    stmt = (
        select(
            Task,
            _assignee.username,
            creator,
            _subtask_count(done_only=False),
            _subtask_count(done_only=True),
        )
        .outerjoin(_assignee, _assignee.id == Task.assignee_id)
        .options(*loads)
    )
    if detail:
        stmt = stmt.outerjoin(_creator, _creator.id == Task.created_by_id)
    return stmt


def _to_row(row: Any) -> TaskRow:
    return TaskRow(
        task=row[0],
        assignee_username=row[1],
        creator_username=row[2],
        subtasks_total=int(row[3] or 0),
        subtasks_done=int(row[4] or 0),
    )


class TaskRepository(RepositoryBase[Task]):
    model = Task

    @property
    def dialect(self) -> str:
        return self.session.get_bind().dialect.name

    async def access(self, task_id: uuid.UUID, user_id: uuid.UUID) -> TaskAccess | None:
        """The task's project and the caller's role there; None for a non-member."""
        row = (
            await self.session.execute(
                select(Task.project_id, ProjectMember.role, Project.archived)
                .join(Project, Project.id == Task.project_id)
                .join(
                    ProjectMember,
                    and_(
                        ProjectMember.project_id == Task.project_id,
                        ProjectMember.user_id == user_id,
                    ),
                )
                .where(Task.id == task_id)
            )
        ).first()
        return TaskAccess(project_id=row[0], role=row[1], archived=row[2]) if row else None

    async def subtask(self, task_id: uuid.UUID, subtask_id: uuid.UUID) -> Subtask | None:
        subtask: Subtask | None = await self.session.scalar(
            select(Subtask).where(Subtask.id == subtask_id, Subtask.task_id == task_id)
        )
        return subtask

    async def projects_of(self, task_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, uuid.UUID]:
        """``{task id: project id}`` for the tasks that exist (no access check)."""
        rows = await self.session.execute(
            select(Task.id, Task.project_id).where(Task.id.in_(task_ids))
        )
        return dict(rows.all())

    async def load(self, task_id: uuid.UUID) -> Task | None:
        """The task with its labels and subtasks, read afresh (after a lock was taken)."""
        task: Task | None = await self.session.scalar(
            select(Task)
            .where(Task.id == task_id)
            .options(selectinload(Task.labels), selectinload(Task.subtasks))
            .execution_options(populate_existing=True)
        )
        return task

    async def load_many(self, task_ids: Sequence[uuid.UUID]) -> list[Task]:
        tasks = await self.session.scalars(
            select(Task)
            .where(Task.id.in_(task_ids))
            .options(selectinload(Task.labels), selectinload(Task.subtasks))
            .execution_options(populate_existing=True)
        )
        return list(tasks.all())

    async def row(self, task_id: uuid.UUID) -> TaskRow | None:
        result = await self.session.execute(
            _rows_select(detail=True)
            .where(Task.id == task_id)
            .execution_options(populate_existing=True)
        )
        found = result.first()
        return _to_row(found) if found else None

    async def rows(self, task_ids: Sequence[uuid.UUID]) -> list[TaskRow]:
        """Rows for these tasks, in the order of ``task_ids``."""
        result = await self.session.execute(
            _rows_select(detail=False)
            .where(Task.id.in_(task_ids))
            .execution_options(populate_existing=True)
        )
        by_id = {row.task.id: row for row in map(_to_row, result.all())}
        return [by_id[task_id] for task_id in task_ids if task_id in by_id]

    async def page(
        self, filters: TaskFilters, *, me: uuid.UUID, now: datetime, params: PageParams
    ) -> tuple[list[TaskRow], int]:
        """One page of the tasks ``me`` can see, filtered and sorted, and the total count:
        three statements (count, page, labels) whatever the page size."""
        where = filters.clauses(me=me, now=now, dialect=self.dialect)
        visible = and_(ProjectMember.project_id == Task.project_id, ProjectMember.user_id == me)

        def scoped(stmt: Select[Any]) -> Select[Any]:
            stmt = stmt.join(ProjectMember, visible)
            if not filters.project_ids and not filters.include_archived:
                stmt = stmt.join(Project, Project.id == Task.project_id).where(
                    Project.archived.is_(False)
                )
            return stmt.where(*where)

        total = await self.session.scalar(scoped(select(func.count(Task.id))))
        stmt = (
            scoped(_rows_select(detail=False))
            .order_by(*filters.order_by())
            .offset(params.offset)
            .limit(params.page_size)
        )
        result = await self.session.execute(stmt)
        return [_to_row(row) for row in result.all()], int(total or 0)

    async def export_chunk(
        self, project_id: uuid.UUID, *, after: uuid.UUID | None, limit: int
    ) -> list[TaskRow]:
        """The project's tasks in creation order (ids are UUIDv7), ``limit`` after ``after``."""
        stmt = _rows_select(detail=False).where(Task.project_id == project_id)
        if after is not None:
            stmt = stmt.where(Task.id > after)
        result = await self.session.execute(stmt.order_by(Task.id).limit(limit))
        return [_to_row(row) for row in result.all()]

    async def due_since(self, project_id: uuid.UUID, since: datetime, limit: int) -> list[Task]:
        """The project's tasks due at or after ``since``, soonest first."""
        tasks = await self.session.scalars(
            select(Task)
            .where(Task.project_id == project_id, Task.due_at >= since)
            .order_by(Task.due_at, Task.id)
            .limit(limit)
        )
        return list(tasks.all())

    async def history(
        self, task_id: uuid.UUID, params: CursorParams, codec: CursorCodec
    ) -> tuple[list[tuple[TaskActivity, str | None]], str | None]:
        """A slice of the task's history, newest first (ids are time-ordered UUIDv7)."""
        columns: tuple[Any, ...] = (TaskActivity, User.username)
        stmt = (
            select(*columns)
            .outerjoin(User, User.id == TaskActivity.actor_id)
            .where(TaskActivity.task_id == task_id)
        )
        rows, next_cursor = await keyset_page(
            self.session,
            stmt,
            [SortKey(TaskActivity.id)],
            params,
            codec,
            key_of=lambda row: [row[0].id],
            scalars=False,
        )
        return [(row[0], row[1]) for row in rows], next_cursor

    # --- column positions -----------------------------------------------------------------
    # The tasks of one (project, status) column have positions 0..n-1. Every change below runs
    # under the project's row lock, so two moves in one column cannot interleave.

    async def column_size(
        self, project_id: uuid.UUID, status: str, *, without: uuid.UUID | None = None
    ) -> int:
        stmt = select(func.count(Task.id)).where(
            Task.project_id == project_id, Task.status == status
        )
        if without is not None:
            stmt = stmt.where(Task.id != without)
        return int(await self.session.scalar(stmt) or 0)

    async def shift(
        self,
        project_id: uuid.UUID,
        status: str,
        *,
        from_position: int,
        by: int,
        without: uuid.UUID | None = None,
    ) -> None:
        """Move every task of the column at ``from_position`` or later by ``by`` places (+1 opens
        a gap, -1 closes one). Their representation changes, so their version grows, but their
        ``updated_at`` does not: nobody edited them."""
        where = [Task.project_id == project_id, Task.status == status]
        where.append(Task.position >= from_position)
        if without is not None:
            where.append(Task.id != without)
        await self.session.execute(
            update(Task)
            .where(*where)
            .values(
                position=Task.position + by, version=Task.version + 1, updated_at=Task.updated_at
            )
        )

    # --- labels ---------------------------------------------------------------------------

    @staticmethod
    def set_labels(task: Task, labels: Sequence[str]) -> None:
        """Make the task's labels exactly ``labels``: rows are added and removed, kept ones stay."""
        wanted = set(labels)
        kept = [label for label in task.labels if label.label in wanted]
        added = [TaskLabel(label=name) for name in sorted(wanted - set(task.label_names))]
        task.labels[:] = sorted(kept + added, key=lambda label: label.label)

    # --- members' tasks -------------------------------------------------------------------

    async def unassign(
        self, project_id: uuid.UUID, user_id: uuid.UUID, *, actor_id: uuid.UUID
    ) -> int:
        """Unassign a departing member's tasks of the project, with one history entry each."""
        task_ids = list(
            (
                await self.session.scalars(
                    select(Task.id).where(
                        Task.project_id == project_id, Task.assignee_id == user_id
                    )
                )
            ).all()
        )
        if not task_ids:
            return 0
        await self.session.execute(
            update(Task)
            .where(Task.id.in_(task_ids))
            .values(assignee_id=None, version=Task.version + 1)
        )
        change = [{"field": "assignee_id", "old": str(user_id), "new": None}]
        await self.session.execute(
            insert(TaskActivity),
            [
                {"task_id": task_id, "actor_id": actor_id, "action": "updated", "changes": change}
                for task_id in task_ids
            ],
        )
        return len(task_ids)
