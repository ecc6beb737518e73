"""A task's checklist. Subtasks are part of the task's representation: every change here bumps
the task's version (its ETag) and is written to its history, under the same project lock as
any other change to the task."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from mainspring.todo.errors import NotFoundInTask, TooMany
from mainspring.todo.models import Subtask, Task
from mainspring.todo.tasks import history
from mainspring.todo.tasks.repository import TaskRepository
from mainspring.todo.tasks.schemas import MAX_SUBTASKS, SubtaskCreate, SubtaskUpdate
from mainspring.todo.tasks.schemas import Subtask as SubtaskOut
from mainspring.todo.tasks.service import task_service


class SubtaskService:
    async def get(
        self, session: AsyncSession, user_id: uuid.UUID, task_id: uuid.UUID, subtask_id: uuid.UUID
    ) -> SubtaskOut:
        await task_service.readable(session, user_id, task_id)
        return await _read(session, task_id, subtask_id)

    async def add(
        self, session: AsyncSession, user_id: uuid.UUID, task_id: uuid.UUID, data: SubtaskCreate
    ) -> SubtaskOut:
        (task,) = await task_service.lock_for_change(session, user_id, [task_id])
        if len(task.subtasks) >= MAX_SUBTASKS:
            raise TooMany(f"A task has at most {MAX_SUBTASKS} subtasks.")
        subtask = Subtask(title=data.title, done=data.done, position=len(task.subtasks))
        task.subtasks.append(subtask)
        change = {"field": "subtask", "old": None, "new": data.title}
        await _changed(session, task, user_id, "subtask_added", change)
        return await _read(session, task_id, subtask.id)

    async def update(
        self,
        session: AsyncSession,
        user_id: uuid.UUID,
        task_id: uuid.UUID,
        subtask_id: uuid.UUID,
        data: SubtaskUpdate,
    ) -> SubtaskOut:
        (task,) = await task_service.lock_for_change(session, user_id, [task_id])
        subtask = _find(task, subtask_id)
        before = {"title": subtask.title, "done": subtask.done, "position": subtask.position}
        if data.title is not None:
            subtask.title = data.title
        if data.done is not None:
            subtask.done = data.done
        if data.position is not None:
            ordered = [s for s in task.subtasks if s.id != subtask.id]
            ordered.insert(min(data.position, len(ordered)), subtask)
            _renumber(task, ordered)
        after = {"title": subtask.title, "done": subtask.done, "position": subtask.position}
        if after != before:
            change = {"field": f"subtask:{subtask.id}", "old": before, "new": after}
            await _changed(session, task, user_id, "subtask_changed", change)
        return await _read(session, task_id, subtask.id)

    async def remove(
        self, session: AsyncSession, user_id: uuid.UUID, task_id: uuid.UUID, subtask_id: uuid.UUID
    ) -> None:
        (task,) = await task_service.lock_for_change(session, user_id, [task_id])
        subtask = _find(task, subtask_id)
        _renumber(task, [s for s in task.subtasks if s.id != subtask.id])
        change = {"field": "subtask", "old": subtask.title, "new": None}
        await _changed(session, task, user_id, "subtask_removed", change)


async def _read(session: AsyncSession, task_id: uuid.UUID, subtask_id: uuid.UUID) -> SubtaskOut:
    """The subtask as ``GET`` shows it: every path ends with this read."""
    subtask = await TaskRepository(session).subtask(task_id, subtask_id)
    if subtask is None:
        raise NotFoundInTask("The task has no such subtask.")
    return subtask


def _find(task: Task, subtask_id: uuid.UUID) -> Subtask:
    for subtask in task.subtasks:
        if subtask.id == subtask_id:
            return subtask
    raise NotFoundInTask("The task has no such subtask.")


def _renumber(task: Task, ordered: list[Subtask]) -> None:
    """Make ``ordered`` the checklist, positions 0..n-1 (a subtask left out is deleted)."""
    for position, subtask in enumerate(ordered):
        subtask.position = position
    task.subtasks[:] = ordered


async def _changed(
    session: AsyncSession, task: Task, user_id: uuid.UUID, action: str, change: dict[str, Any]
) -> None:
    task.version += 1
    history.record(session, task.id, user_id, action, [change])
    await session.flush()


subtask_service = SubtaskService()
