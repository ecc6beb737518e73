"""Tasks: the list, creation, merge-patch updates under ``If-Match``, moves between board
columns that keep positions consistent and WIP limits honoured, bulk changes, deletion and
history.

Concurrency, in one rule: **every change to a project's tasks or columns holds the project's
row lock** (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite serialises writers with ``BEGIN
IMMEDIATE``). Locks are always taken project first, in id order, then tasks and columns are
read afresh; so positions stay 0..n-1 in every column, a column's WIP limit is checked against
a count nobody else can change meanwhile, and two writers never interleave. On top of that,
``If-Match`` turns "someone changed this task since I read it" into a 412 instead of a silent
overwrite.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from mainspring.core.conditional import Conditional, make_etag
from mainspring.core.db import utcnow
from mainspring.core.errors import Conflict, PreconditionFailed, PreconditionRequired
from mainspring.core.markdown import render_markdown
from mainspring.core.pagination import CursorSlice, PageSlice
from mainspring.todo.columns.repository import ColumnRepository
from mainspring.todo.errors import (
    ColumnArchived,
    IfMatchRequired,
    InvalidReference,
    ProjectArchived,
    ProjectNotFound,
    StaleVersion,
    TaskNotFound,
    WipLimitReached,
)
from mainspring.todo.models import BoardColumn, Project, Subtask, Task
from mainspring.todo.projects.repository import ProjectRepository
from mainspring.todo.projects.service import project_service
from mainspring.todo.roles import require_task_editor
from mainspring.todo.tasks import history, repository, schemas
from mainspring.todo.tasks.filters import TaskFilters
from mainspring.todo.tasks.repository import TaskRepository

LOCK_ATTEMPTS = 3


def task_etag(version: int) -> str:
    """A task's ETag: its version, which grows with every change of its representation."""
    return make_etag(version)


class TaskService:
    # --- reading --------------------------------------------------------------------------

    async def page(
        self,
        connection: AsyncConnection,
        user_id: uuid.UUID,
        filters: TaskFilters,
        listing: PageSlice,
    ) -> tuple[list[schemas.Task], int]:
        return await repository.page(connection, filters, me=user_id, now=utcnow(), listing=listing)

    async def get(
        self, session: AsyncSession, user_id: uuid.UUID, task_id: uuid.UUID
    ) -> schemas.TaskDetail:
        """The task, if the caller is a member of its project (404 otherwise)."""
        task = await TaskRepository(session).detail(task_id, user_id, utcnow())
        if task is None:
            raise TaskNotFound()
        return task

    async def readable(self, session: AsyncSession, user_id: uuid.UUID, task_id: uuid.UUID) -> str:
        """The caller's role in the task's project; 404 for a non-member."""
        access = await TaskRepository(session).access(task_id, user_id)
        if access is None:
            raise TaskNotFound()
        return access.role

    async def activity(
        self,
        session: AsyncSession,
        user_id: uuid.UUID,
        task_id: uuid.UUID,
        listing: CursorSlice,
    ) -> tuple[list[schemas.Activity], str | None]:
        """The task's history, newest first, a keyset slice at a time."""
        await self.readable(session, user_id, task_id)
        return await TaskRepository(session).history(task_id, listing)

    # --- writing --------------------------------------------------------------------------

    async def create(
        self, session: AsyncSession, user_id: uuid.UUID, data: schemas.TaskCreate
    ) -> schemas.TaskDetail:
        if data.project_id is not None:
            project_id = data.project_id
        elif data.column_id is not None:
            project_id = await self._project_of_column(session, user_id, data.column_id)
        else:
            project_id = (await project_service.inbox(session, user_id)).id
        project = await project_service.for_task_changes(session, user_id, project_id)
        column = await self._column(session, project.id, data.column_id)
        if data.assignee_id is not None:
            await self._require_member(session, project.id, data.assignee_id)
        tasks = TaskRepository(session)
        size = await tasks.column_size(project.id, column.id)
        _admit(column, size)
        position = size if data.position is None else min(data.position, size)
        if position < size:
            await tasks.shift(project.id, column.id, from_position=position, by=1)
        task = Task(
            project_id=project.id,
            title=data.title,
            description=data.description,
            description_html=render_markdown(data.description),
            column_id=column.id,
            priority=data.priority.rank,
            due_at=data.due_at,
            assignee_id=data.assignee_id,
            created_by_id=user_id,
            position=position,
            completed_at=utcnow() if column.is_done else None,
            labels=[],
            subtasks=[Subtask(title=title, position=i) for i, title in enumerate(data.subtasks)],
        )
        tasks.set_labels(task, data.labels)
        session.add(task)
        await session.flush()
        history.record(session, task.id, user_id, "created")
        return await self._detail(session, user_id, task.id)

    async def update(
        self,
        session: AsyncSession,
        user_id: uuid.UUID,
        task_id: uuid.UUID,
        data: schemas.TaskUpdate,
        conditional: Conditional,
    ) -> schemas.TaskDetail:
        """Merge-patch a task; ``If-Match`` is required (``*`` to overwrite regardless)."""
        (task,) = await self.lock_for_change(session, user_id, [task_id])
        _check_version(task, conditional, required=True)
        tasks = TaskRepository(session)
        before = history.snapshot(task)
        fields = data.model_fields_set
        if data.title is not None:
            task.title = data.title
        if data.description is not None and data.description != task.description:
            task.description = data.description
            task.description_html = render_markdown(data.description)
        if data.priority is not None:
            task.priority = data.priority.rank
        if "due_at" in fields:
            task.due_at = data.due_at
        if data.labels is not None:
            tasks.set_labels(task, data.labels)
        if "assignee_id" in fields:
            await self._assign(session, task, data.assignee_id)
        if data.column_id is not None and data.column_id != task.column_id:
            column = await self._column(session, task.project_id, data.column_id)
            await self._place(tasks, task, task.project_id, column, None)
        await self._finish(session, task, before, user_id, "updated")
        return await self._detail(session, user_id, task.id)

    async def move(
        self,
        session: AsyncSession,
        user_id: uuid.UUID,
        task_id: uuid.UUID,
        data: schemas.TaskMove,
        conditional: Conditional,
    ) -> schemas.TaskDetail:
        """Put a task in another column, project or place; ``If-Match`` honoured when sent."""
        project_id = await self._destination(session, user_id, data.project_id, data.column_id)
        destination = [project_id] if project_id else []
        (task,) = await self.lock_for_change(session, user_id, [task_id], destination)
        _check_version(task, conditional, required=False)
        await self._move_all(session, user_id, [task], project_id, data.column_id, data.position)
        return await self._detail(session, user_id, task.id)

    async def delete(
        self,
        session: AsyncSession,
        user_id: uuid.UUID,
        task_id: uuid.UUID,
        conditional: Conditional,
    ) -> None:
        (task,) = await self.lock_for_change(session, user_id, [task_id])
        _check_version(task, conditional, required=False)
        await TaskRepository(session).shift(
            task.project_id, task.column_id, from_position=task.position + 1, by=-1, without=task.id
        )
        await session.delete(task)
        await session.flush()

    async def bulk_update(
        self, session: AsyncSession, user_id: uuid.UUID, data: schemas.TaskBulkUpdate
    ) -> list[schemas.Task]:
        """The same change on every task named, all or nothing."""
        found = await self.lock_for_change(session, user_id, data.ids)
        tasks = TaskRepository(session)
        changes = data.changes
        fields = changes.model_fields_set
        for task in found:
            before = history.snapshot(task)
            if changes.priority is not None:
                task.priority = changes.priority.rank
            if "due_at" in fields:
                task.due_at = changes.due_at
            if "assignee_id" in fields:
                await self._assign(session, task, changes.assignee_id)
            if changes.add_labels or changes.remove_labels:
                labels = (set(task.label_names) | set(changes.add_labels)) - set(
                    changes.remove_labels
                )
                tasks.set_labels(task, sorted(labels))
            if changes.column_id is not None and changes.column_id != task.column_id:
                column = await self._column(session, task.project_id, changes.column_id)
                await self._place(tasks, task, task.project_id, column, None)
            await self._finish(session, task, before, user_id, "updated")
        return await self._summaries(session, data.ids)

    async def bulk_move(
        self, session: AsyncSession, user_id: uuid.UUID, data: schemas.TaskBulkMove
    ) -> list[schemas.Task]:
        project_id = await self._destination(session, user_id, data.project_id, data.column_id)
        destination = [project_id] if project_id else []
        found = await self.lock_for_change(session, user_id, data.ids, destination)
        await self._move_all(session, user_id, found, project_id, data.column_id, data.position)
        return await self._summaries(session, data.ids)

    # --- the machinery --------------------------------------------------------------------

    async def lock_for_change(
        self,
        session: AsyncSession,
        user_id: uuid.UUID,
        task_ids: Sequence[uuid.UUID],
        destinations: Iterable[uuid.UUID] = (),
    ) -> list[Task]:
        """Lock the projects of ``task_ids`` (and ``destinations``) in id order, then read the
        tasks afresh; check the caller may change every one. Returns them in the given order.

        A task moved to another project between finding its project and locking it is looked
        up again (at most ``LOCK_ATTEMPTS`` times)."""
        tasks = TaskRepository(session)
        projects = ProjectRepository(session)
        wanted = set(destinations)
        for _ in range(LOCK_ATTEMPTS):
            homes = await tasks.projects_of(task_ids)
            if len(homes) != len(task_ids):
                raise TaskNotFound()
            locked = await projects.lock_many(sorted(set(homes.values()) | wanted), user_id)
            loaded = {task.id: task for task in await tasks.load_many(task_ids)}
            if len(loaded) != len(task_ids):
                raise TaskNotFound()
            if any(loaded[i].project_id != homes[i] for i in task_ids):
                continue
            for project_id in homes.values():
                _require_changeable(locked.get(project_id), missing=TaskNotFound)
            for project_id in wanted:
                _require_changeable(locked.get(project_id), missing=ProjectNotFound)
            return [loaded[i] for i in task_ids]
        raise Conflict("The tasks are being moved by someone else; try again.")

    async def _move_all(
        self,
        session: AsyncSession,
        user_id: uuid.UUID,
        found: Sequence[Task],
        project_id: uuid.UUID | None,
        column_id: uuid.UUID | None,
        position: int | None,
    ) -> None:
        """Move tasks one by one so that they end up next to each other, in order, from
        ``position`` (default: the end of the column). Without ``column_id`` a task stays in
        its column, or goes to the first open column of another project."""
        tasks = TaskRepository(session)
        for offset, task in enumerate(found):
            before = history.snapshot(task)
            target_project = project_id or task.project_id
            if column_id is None and target_project == task.project_id:
                column = await self._column(session, task.project_id, task.column_id)
            else:
                column = await self._column(session, target_project, column_id)
            if (
                target_project != task.project_id
                and task.assignee_id is not None
                and not await ProjectRepository(session).is_member(target_project, task.assignee_id)
            ):
                task.assignee_id = None
            target = None if position is None else position + offset
            await self._place(tasks, task, target_project, column, target)
            await self._finish(session, task, before, user_id, "moved")

    async def _place(
        self,
        tasks: TaskRepository,
        task: Task,
        project_id: uuid.UUID,
        column: BoardColumn,
        position: int | None,
    ) -> None:
        """Take the task out of its column (closing the gap) and insert it at ``position`` of
        ``column`` (opening one); the end of the column when ``position`` is None or past it.
        A task entering another column must find it open and below its WIP limit. Both
        projects are locked by the caller, and ``column`` was read under the lock."""
        size = await tasks.column_size(project_id, column.id, without=task.id)
        entering = column.id != task.column_id
        if entering:
            _admit(column, size)
        await tasks.shift(
            task.project_id, task.column_id, from_position=task.position + 1, by=-1, without=task.id
        )
        target = size if position is None else min(position, size)
        await tasks.shift(project_id, column.id, from_position=target, by=1, without=task.id)
        if entering:  # completed_at is set exactly while the task is in a done column
            task.completed_at = (task.completed_at or utcnow()) if column.is_done else None
        task.project_id, task.column_id, task.position = project_id, column.id, target

    async def _finish(
        self,
        session: AsyncSession,
        task: Task,
        before: history.Snapshot,
        user_id: uuid.UUID,
        action: str,
    ) -> None:
        """Record what changed and bump the version; a change that changed nothing leaves the
        task (and its ETag) alone."""
        changes = history.diff(before, history.snapshot(task))
        if not changes:
            return
        task.version += 1
        history.record(session, task.id, user_id, action, changes)
        await session.flush()

    async def _column(
        self, session: AsyncSession, project_id: uuid.UUID, column_id: uuid.UUID | None
    ) -> BoardColumn:
        """A column of the project, read under its lock; ``None``: the first open column."""
        columns = ColumnRepository(session)
        if column_id is None:
            column = await columns.first_open(project_id)
            if column is None:
                raise ColumnArchived()
            return column
        column = await columns.in_project(project_id, column_id)
        if column is None:
            raise InvalidReference("column_id", "Name a column of the task's project.")
        return column

    async def _project_of_column(
        self, session: AsyncSession, user_id: uuid.UUID, column_id: uuid.UUID
    ) -> uuid.UUID:
        """The project of a column the caller can see (422 otherwise: ids reveal nothing)."""
        column = await ColumnRepository(session).visible(column_id, user_id)
        if column is None:
            raise InvalidReference("column_id", "Name a column of one of your projects.")
        return column.project_id

    async def _destination(
        self,
        session: AsyncSession,
        user_id: uuid.UUID,
        project_id: uuid.UUID | None,
        column_id: uuid.UUID | None,
    ) -> uuid.UUID | None:
        """The project a move goes to: ``project_id``, else the column's; None: stay."""
        if column_id is None or project_id is not None:
            return project_id
        return await self._project_of_column(session, user_id, column_id)

    async def _assign(
        self, session: AsyncSession, task: Task, assignee_id: uuid.UUID | None
    ) -> None:
        if assignee_id is not None:
            await self._require_member(session, task.project_id, assignee_id)
        task.assignee_id = assignee_id

    async def _require_member(
        self, session: AsyncSession, project_id: uuid.UUID, user_id: uuid.UUID
    ) -> None:
        if not await ProjectRepository(session).is_member(project_id, user_id):
            raise InvalidReference("assignee_id", "The assignee must be a member of the project.")

    async def _detail(
        self, session: AsyncSession, user_id: uuid.UUID, task_id: uuid.UUID
    ) -> schemas.TaskDetail:
        """A write ends with the read of ``GET /tasks/{id}``: one source of the representation."""
        return await self.get(session, user_id, task_id)

    async def _summaries(
        self, session: AsyncSession, task_ids: Sequence[uuid.UUID]
    ) -> list[schemas.Task]:
        return await TaskRepository(session).summaries(task_ids, utcnow())


def _require_changeable(found: tuple[Project, str | None] | None, *, missing: Any) -> None:
    if found is None:
        raise missing()
    project, role = found
    if role is None:
        raise missing()
    require_task_editor(role)
    if project.archived:
        raise ProjectArchived()


def _admit(column: BoardColumn, size: int) -> None:
    """Whether a task may enter ``column``, which holds ``size`` other tasks: 409 when it is
    archived or at its WIP limit."""
    if column.archived_at is not None:
        raise ColumnArchived()
    if column.wip_limit is not None and size >= column.wip_limit:
        raise WipLimitReached(column.name, column.wip_limit)


def _check_version(task: Task, conditional: Conditional, *, required: bool) -> None:
    """``If-Match`` against the task's current version, read under the project's lock: 428
    when ``required`` and missing, 412 (with the current ETag) when stale."""
    current = task_etag(task.version)
    try:
        conditional.check(current, required=required)
    except PreconditionRequired as missing:
        raise IfMatchRequired() from missing
    except PreconditionFailed as stale:
        raise StaleVersion(current) from stale


task_service = TaskService()
