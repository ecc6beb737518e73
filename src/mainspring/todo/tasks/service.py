"""Tasks: the list, creation, merge-patch updates under ``If-Match``, moves that keep column
positions consistent, bulk changes, deletion and history.

Concurrency, in one rule: **every change to a project's tasks holds the project's row lock**
(``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite serialises writers with ``BEGIN IMMEDIATE``).
Locks are always taken project first, in id order, then tasks are read afresh; so positions
stay 0..n-1 in every column and two writers never interleave. On top of that, ``If-Match``
turns "someone changed this task since I read it" into a 412 instead of a silent overwrite.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from mainspring.core.conditional import Conditional, make_etag
from mainspring.core.db import utcnow
from mainspring.core.errors import Conflict, PreconditionFailed, PreconditionRequired
from mainspring.core.markdown import render_markdown
from mainspring.core.pagination import CursorSlice, PageSlice
from mainspring.todo.errors import (
    IfMatchRequired,
    InvalidReference,
    ProjectArchived,
    ProjectNotFound,
    StaleVersion,
    TaskNotFound,
)
from mainspring.todo.models import Project, Subtask, Task
from mainspring.todo.projects.repository import ProjectRepository
from mainspring.todo.projects.service import project_service
from mainspring.todo.roles import require_task_editor
from mainspring.todo.tasks import history, schemas
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
        session: AsyncSession,
        user_id: uuid.UUID,
        filters: TaskFilters,
        listing: PageSlice,
    ) -> tuple[list[schemas.Task], int]:
        return await TaskRepository(session).page(
            filters, me=user_id, now=utcnow(), listing=listing
        )

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
        if data.project_id is None:
            project_id = (await project_service.inbox(session, user_id)).id
        else:
            project_id = data.project_id
        project = await project_service.for_task_changes(session, user_id, project_id)
        if data.assignee_id is not None:
            await self._require_member(session, project.id, data.assignee_id)
        tasks = TaskRepository(session)
        size = await tasks.column_size(project.id, data.status)
        position = size if data.position is None else min(data.position, size)
        if position < size:
            await tasks.shift(project.id, data.status, from_position=position, by=1)
        task = Task(
            project_id=project.id,
            title=data.title,
            description=data.description,
            description_html=render_markdown(data.description),
            status=data.status.value,
            priority=data.priority.rank,
            due_at=data.due_at,
            assignee_id=data.assignee_id,
            created_by_id=user_id,
            position=position,
            completed_at=utcnow() if data.status == schemas.TaskStatus.DONE else None,
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
        if data.status is not None and data.status != task.status:
            await self._place(tasks, task, task.project_id, data.status.value, None)
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
        destination = [data.project_id] if data.project_id else []
        (task,) = await self.lock_for_change(session, user_id, [task_id], destination)
        _check_version(task, conditional, required=False)
        await self._move_all(session, user_id, [task], data.project_id, data.status, data.position)
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
            task.project_id, task.status, from_position=task.position + 1, by=-1, without=task.id
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
            if changes.status is not None and changes.status != task.status:
                await self._place(tasks, task, task.project_id, changes.status.value, None)
            await self._finish(session, task, before, user_id, "updated")
        return await self._summaries(session, data.ids)

    async def bulk_move(
        self, session: AsyncSession, user_id: uuid.UUID, data: schemas.TaskBulkMove
    ) -> list[schemas.Task]:
        destination = [data.project_id] if data.project_id else []
        found = await self.lock_for_change(session, user_id, data.ids, destination)
        await self._move_all(session, user_id, found, data.project_id, data.status, data.position)
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
        status: schemas.TaskStatus | None,
        position: int | None,
    ) -> None:
        """Move tasks one by one so that they end up next to each other, in order, from
        ``position`` (default: the end of the column)."""
        tasks = TaskRepository(session)
        for offset, task in enumerate(found):
            before = history.snapshot(task)
            target_project = project_id or task.project_id
            target_status = status.value if status else task.status
            if (
                target_project != task.project_id
                and task.assignee_id is not None
                and not await ProjectRepository(session).is_member(target_project, task.assignee_id)
            ):
                task.assignee_id = None
            target = None if position is None else position + offset
            await self._place(tasks, task, target_project, target_status, target)
            await self._finish(session, task, before, user_id, "moved")

    async def _place(
        self,
        tasks: TaskRepository,
        task: Task,
        project_id: uuid.UUID,
        status: str,
        position: int | None,
    ) -> None:
        """Take the task out of its column (closing the gap) and insert it at ``position`` of
        the target column (opening one); the end of the column when ``position`` is None or
        past it. Both projects are locked by the caller."""
        await tasks.shift(
            task.project_id, task.status, from_position=task.position + 1, by=-1, without=task.id
        )
        size = await tasks.column_size(project_id, status, without=task.id)
        target = size if position is None else min(position, size)
        await tasks.shift(project_id, status, from_position=target, by=1, without=task.id)
        if status != task.status:
            task.completed_at = utcnow() if status == schemas.TaskStatus.DONE else None
        task.project_id, task.status, task.position = project_id, status, target

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
