"""A task's activity history: snapshots of the fields people care about, their differences,
and the entries that record them.

An entry says who (``actor_id``), what (``action``: created, updated, moved, subtask_added,
subtask_changed, subtask_removed, commented) and which fields went from what to what. The
description's text is not copied into the history (it can be 20 000 characters): only the fact
that it changed is.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from mainspring.todo.models import PRIORITIES, Task, TaskActivity

Snapshot = dict[str, Any]
TEXT_FIELDS = frozenset({"description"})


def snapshot(task: Task) -> Snapshot:
    """The task's tracked fields as JSON values."""
    return {
        "project_id": str(task.project_id),
        "title": task.title,
        "description": task.description,
        "column_id": str(task.column_id),
        "position": task.position,
        "priority": PRIORITIES[task.priority],
        "due_at": task.due_at.isoformat() if task.due_at else None,
        "assignee_id": str(task.assignee_id) if task.assignee_id else None,
        "labels": task.label_names,
    }


def diff(before: Snapshot, after: Snapshot) -> list[dict[str, Any]]:
    """``[{"field", "old", "new"}]`` for every field that changed, in a stable order."""
    changes = []
    for name, old in before.items():
        new = after[name]
        if old == new:
            continue
        if name in TEXT_FIELDS:
            changes.append({"field": name, "old": None, "new": None})
        else:
            changes.append({"field": name, "old": old, "new": new})
    return changes


def record(
    session: AsyncSession,
    task_id: uuid.UUID,
    actor_id: uuid.UUID | None,
    action: str,
    changes: list[dict[str, Any]] | None = None,
) -> None:
    """Add a history entry to the unit of work (written with the change it describes)."""
    session.add(
        TaskActivity(task_id=task_id, actor_id=actor_id, action=action, changes=changes or [])
    )
