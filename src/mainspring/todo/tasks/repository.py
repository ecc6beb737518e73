"""Every query about tasks: access checks, the filtered list, column positions, labels.

Reads select the columns a response shows and turn each row into its response schema once
(``_summary``/``_detail``): labels come aggregated in the same statement, checklist counts as
correlated counts, the assignee's username by a join. The task list is two statements (count,
page), a task three at most (the row with the caller's membership, its checklist). Write paths
load ORM entities (``load``/``load_many``) and end with the same reads.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Select,
    and_,
    bindparam,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.orm import aliased, selectinload

from mainspring.accounts.models import User
from mainspring.core.db import Reader, dialect_of
from mainspring.core.pagination import (
    CursorSlice,
    PageSlice,
    SortKey,
    keyset_page,
    rows_and_total,
    with_total,
)
from mainspring.core.repository import RepositoryBase
from mainspring.todo.models import (
    PRIORITIES,
    BoardColumn,
    Project,
    ProjectMember,
    Subtask,
    Task,
    TaskActivity,
    TaskLabel,
)
from mainspring.todo.tasks import schemas
from mainspring.todo.tasks.filters import ME, FilterShape, TaskFilters

LABEL_SEPARATOR = ","
"""Labels cannot contain a comma (``schemas.Label``), so they travel joined by one."""


@dataclass(frozen=True)
class TaskAccess:
    """Where a task lives and what the caller may do there."""

    project_id: uuid.UUID
    role: str
    archived: bool


_assignee = aliased(User, name="assignee")
_creator = aliased(User, name="creator")


def _subtask_count(*, done_only: bool) -> Any:
    stmt = select(func.count()).select_from(Subtask).where(Subtask.task_id == Task.id)
    if done_only:
        stmt = stmt.where(Subtask.done.is_(True))
    return stmt.correlate(Task).scalar_subquery()


def _labels() -> Any:
    """The task's labels in one string (``group_concat`` / ``string_agg``)."""
    return (
        select(func.aggregate_strings(TaskLabel.label, LABEL_SEPARATOR))
        .where(TaskLabel.task_id == Task.id)
        .correlate(Task)
        .scalar_subquery()
    )


SUMMARY_COLUMNS: tuple[Any, ...] = (
    Task.id,
    Task.project_id,
    Task.title,
    Task.column_id,
    BoardColumn.name.label("column_name"),
    BoardColumn.is_done.label("column_is_done"),
    Task.priority,
    Task.due_at,
    Task.position,
    Task.completed_at,
    Task.created_at,
    Task.updated_at,
    Task.version,
    Task.assignee_id,
    _assignee.username.label("assignee_username"),
    _subtask_count(done_only=False).label("subtasks_total"),
    _subtask_count(done_only=True).label("subtasks_done"),
    _labels().label("labels"),
)


def _summaries() -> Select[Any]:
    """The columns of ``schemas.Task``, one row per task, labels aggregated, its board column
    joined by primary key."""
    return (
        select(*SUMMARY_COLUMNS)
        .join(BoardColumn, BoardColumn.id == Task.column_id)
        .outerjoin(_assignee, _assignee.id == Task.assignee_id)
    )


def _person(user_id: uuid.UUID | None, username: str | None) -> dict[str, Any] | None:
    if user_id is None or username is None:
        return None
    return {"id": user_id, "username": username}


_SUMMARY_WIDTH = len(SUMMARY_COLUMNS)


def _summary_fields(row: Sequence[Any], now: datetime) -> dict[str, Any]:
    """The ``schemas.Task`` fields of a row that starts with ``SUMMARY_COLUMNS``, read by
    position (a ``Row``'s attribute costs about 0.27 µs, its unpacking a few hundredths: 22
    reads a task, 20 tasks a page)."""
    (
        id_,
        project_id,
        title,
        column_id,
        column_name,
        column_is_done,
        priority,
        due_at,
        position,
        completed_at,
        created_at,
        updated_at,
        version,
        assignee_id,
        assignee_username,
        subtasks_total,
        subtasks_done,
        labels,
    ) = row[:_SUMMARY_WIDTH]
    return {
        "id": id_,
        "project_id": project_id,
        "title": title,
        "column": {"id": column_id, "name": column_name, "is_done": column_is_done},
        "priority": PRIORITIES[priority],
        "due_at": due_at,
        "overdue": due_at is not None and due_at < now and completed_at is None,
        "labels": sorted(labels.split(LABEL_SEPARATOR)) if labels else [],
        "assignee": _person(assignee_id, assignee_username),
        "position": position,
        "subtasks_done": subtasks_done or 0,
        "subtasks_total": subtasks_total or 0,
        "completed_at": completed_at,
        "created_at": created_at,
        "updated_at": updated_at,
        "version": version,
    }


def _summary(row: Any, now: datetime) -> schemas.Task:
    return schemas.Task.model_validate(_summary_fields(row, now))


_SUMMARIES = TypeAdapter(list[schemas.Task])
"""A page of tasks, validated in one call (not one call a task)."""


async def page(
    reader: Reader, filters: TaskFilters, *, me: uuid.UUID, now: datetime, listing: PageSlice
) -> tuple[list[schemas.Task], int]:
    """One page of the tasks ``me`` can see, filtered and sorted, and the total count: one
    statement (the page, the total in each row: ``_list_statements``), built once per shape of
    the filters; a second (the count) only for a page past the end."""
    dialect = dialect_of(reader)
    count, page_and_total = _list_statements(filters.shape(), dialect)
    values = filters.parameters(me=me, now=now, dialect=dialect)
    values.update(page_offset=listing.offset, page_limit=listing.limit)
    rows, total = await rows_and_total(reader, page_and_total, count, listing.offset, values)
    return _SUMMARIES.validate_python([_summary_fields(row, now) for row in rows]), total


class TaskRepository(RepositoryBase[Task]):
    model = Task

    @property
    def dialect(self) -> str:
        return dialect_of(self.session)

    async def access(self, task_id: uuid.UUID, user_id: uuid.UUID) -> TaskAccess | None:
        """The task's project and the caller's role there; None for a non-member."""
        row = (
            await self.session.execute(
                select(Task.project_id, ProjectMember.role, Project.archived)
                .join(Project, Project.id == Task.project_id)
                .join(ProjectMember, _membership(user_id))
                .where(Task.id == task_id)
            )
        ).first()
        return TaskAccess(project_id=row[0], role=row[1], archived=row[2]) if row else None

    # --- reads: response schemas ------------------------------------------------------------

    async def detail(
        self, task_id: uuid.UUID, user_id: uuid.UUID, now: datetime
    ) -> schemas.TaskDetail | None:
        """The task as ``GET /tasks/{id}`` shows it, if ``user_id`` is a member of its project:
        two statements (the row with the membership check, the checklist)."""
        row = (
            await self.session.execute(
                _summaries()
                .add_columns(
                    Task.description,
                    Task.description_html,
                    Task.created_by_id,
                    _creator.username.label("creator_username"),
                )
                .outerjoin(_creator, _creator.id == Task.created_by_id)
                .join(ProjectMember, _membership(user_id))
                .where(Task.id == task_id)
            )
        ).first()
        if row is None:
            return None
        subtasks = await self.session.execute(
            select(Subtask.id, Subtask.title, Subtask.done, Subtask.position)
            .where(Subtask.task_id == task_id)
            .order_by(Subtask.position)
        )
        return schemas.TaskDetail.model_validate(
            {
                **_summary_fields(row, now),
                "description": row.description,
                "description_html": row.description_html,
                "created_by": _person(row.created_by_id, row.creator_username),
                "subtasks": [s._mapping for s in subtasks.all()],
            }
        )

    async def summaries(self, task_ids: Sequence[uuid.UUID], now: datetime) -> list[schemas.Task]:
        """These tasks as lists show them, in the order of ``task_ids``."""
        result = await self.session.execute(_summaries().where(Task.id.in_(task_ids)))
        by_id = {row.id: _summary(row, now) for row in result.all()}
        return [by_id[task_id] for task_id in task_ids if task_id in by_id]

    async def export_chunk(
        self,
        project_id: uuid.UUID,
        filters: TaskFilters,
        *,
        me: uuid.UUID,
        after: uuid.UUID | None,
        limit: int,
        now: datetime,
    ) -> list[schemas.TaskExport]:
        """The project's tasks that pass ``filters``, in creation order (ids are UUIDv7),
        ``limit`` after ``after``."""
        where = filters.shape().clauses(self.dialect)
        stmt = (
            _summaries().add_columns(Task.description).where(Task.project_id == project_id, *where)
        )
        if after is not None:
            stmt = stmt.where(Task.id > after)
        result = await self.session.execute(
            stmt.order_by(Task.id).limit(limit),
            filters.parameters(me=me, now=now, dialect=self.dialect),
        )
        return [
            schemas.TaskExport.model_validate(
                {**_summary_fields(row, now), "description": row.description}
            )
            for row in result.all()
        ]

    async def due_since(
        self, project_id: uuid.UUID, since: datetime, limit: int, now: datetime
    ) -> list[schemas.Task]:
        """The project's tasks due at or after ``since``, soonest first."""
        result = await self.session.execute(
            _summaries()
            .where(Task.project_id == project_id, Task.due_at >= since)
            .order_by(Task.due_at, Task.id)
            .limit(limit)
        )
        return [_summary(row, now) for row in result.all()]

    async def history(
        self, task_id: uuid.UUID, listing: CursorSlice
    ) -> tuple[list[schemas.Activity], str | None]:
        """A slice of the task's history, newest first (ids are time-ordered UUIDv7)."""
        stmt = (
            select(
                TaskActivity.id,
                TaskActivity.task_id,
                TaskActivity.actor_id,
                User.username,
                TaskActivity.action,
                TaskActivity.changes,
                TaskActivity.created_at,
            )
            .outerjoin(User, User.id == TaskActivity.actor_id)
            .where(TaskActivity.task_id == task_id)
        )
        rows, next_cursor = await keyset_page(
            self.session,
            stmt,
            [SortKey(TaskActivity.id)],
            listing,
            key_of=lambda row: [row.id],
            scalars=False,
        )
        return [
            schemas.Activity.model_validate(
                {
                    "id": row.id,
                    "task_id": row.task_id,
                    "actor": _person(row.actor_id, row.username),
                    "action": row.action,
                    "changes": row.changes,
                    "created_at": row.created_at,
                }
            )
            for row in rows
        ], next_cursor

    async def subtask(self, task_id: uuid.UUID, subtask_id: uuid.UUID) -> schemas.Subtask | None:
        row = (
            await self.session.execute(
                select(Subtask.id, Subtask.title, Subtask.done, Subtask.position).where(
                    Subtask.id == subtask_id, Subtask.task_id == task_id
                )
            )
        ).first()
        return None if row is None else schemas.Subtask.model_validate(row, from_attributes=True)

    # --- writes: ORM entities ---------------------------------------------------------------

    async def projects_of(self, task_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, uuid.UUID]:
        """``{task id: project id}`` for the tasks that exist (no access check)."""
        rows = await self.session.execute(
            select(Task.id, Task.project_id).where(Task.id.in_(task_ids))
        )
        return {row[0]: row[1] for row in rows.all()}

    async def load_many(self, task_ids: Sequence[uuid.UUID]) -> list[Task]:
        """The tasks with their labels and subtasks, read afresh (after a lock was taken)."""
        tasks = await self.session.scalars(
            select(Task)
            .where(Task.id.in_(task_ids))
            .options(selectinload(Task.labels), selectinload(Task.subtasks))
            .execution_options(populate_existing=True)
        )
        return list(tasks.all())

    # --- column positions -----------------------------------------------------------------
    # The tasks of one column have positions 0..n-1. Every change below runs under the
    # project's row lock, so two moves in one column cannot interleave. The project id is part
    # of every condition: the board index leads with it.

    async def column_size(
        self, project_id: uuid.UUID, column_id: uuid.UUID, *, without: uuid.UUID | None = None
    ) -> int:
        stmt = select(func.count(Task.id)).where(
            Task.project_id == project_id, Task.column_id == column_id
        )
        if without is not None:
            stmt = stmt.where(Task.id != without)
        return int(await self.session.scalar(stmt) or 0)

    async def shift(
        self,
        project_id: uuid.UUID,
        column_id: uuid.UUID,
        *,
        from_position: int,
        by: int,
        without: uuid.UUID | None = None,
    ) -> None:
        """Move every task of the column at ``from_position`` or later by ``by`` places (+1 opens
        a gap, -1 closes one). Their representation changes, so their version grows, but their
        ``updated_at`` does not: nobody edited them."""
        where = [Task.project_id == project_id, Task.column_id == column_id]
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


@functools.lru_cache(maxsize=256)
def _list_statements(shape: FilterShape, dialect: str) -> tuple[Select[Any], Select[Any]]:
    """The task list's count, and its page with the count as its last column, for filters of
    ``shape``, on the parameters of ``TaskFilters.parameters`` and ``page_offset``/
    ``page_limit``: built once per shape (a few dozen in use; at most 256 kept, the least
    recently used dropped). The count in the page is an uncorrelated scalar subquery, which
    SQLite and PostgreSQL evaluate once per statement: one round trip for both.

    The page is a deferred join: the filters and the sort choose the page's ids first
    (``page_``, from the indexes alone: with one project and column, the board index already
    in ``position`` order, stopping at the page's last task), and only those tasks are read and
    joined to their column, assignee, checklist and labels. Joining every task that passes the
    filters before sorting read each of them from the table (the bench's column of 278 tasks:
    277 heap pages for a page of 20; docs/performance.md has the figures). The outer
    ``ORDER BY`` repeats the sort: a join keeps no order."""

    def scoped(stmt: Select[Any]) -> Select[Any]:
        stmt = stmt.join(ProjectMember, _membership(bindparam(ME)))
        if not shape.projects and not shape.include_archived:
            stmt = stmt.join(Project, Project.id == Task.project_id).where(
                Project.archived.is_(False)
            )
        return stmt.where(*shape.clauses(dialect))

    count = scoped(select(func.count()).select_from(Task))
    page_ids = (
        scoped(select(Task.id))
        .order_by(*shape.order_by())
        .offset(bindparam("page_offset"))
        .limit(bindparam("page_limit"))
        .subquery("page_")
    )
    page = with_total(_summaries().join(page_ids, page_ids.c.id == Task.id), count).order_by(
        *shape.order_by()
    )
    return count, page


def _membership(user_id: uuid.UUID | BindParameter[Any]) -> ColumnElement[bool]:
    return and_(ProjectMember.project_id == Task.project_id, ProjectMember.user_id == user_id)
