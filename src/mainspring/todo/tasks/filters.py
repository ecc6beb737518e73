"""The task list's query language: filters and sort keys from the query string, turned into
SQL clauses over ``todo_tasks``.

Every filter and sort key is backed by an index of ``models.py`` (most lead with
``project_id``, since a list is always confined to the caller's projects); free text uses the
full-text index of ``search.py``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Depends, Query
from sqlalchemy import ColumnElement, and_, exists, false, or_

from mainspring.core.schemas import DateTime
from mainspring.todo import search
from mainspring.todo.models import Task, TaskLabel
from mainspring.todo.tasks.schemas import Label, Priority

SORT_KEYS = ("due_at", "priority", "position", "created_at", "updated_at")
SORT_PATTERN = rf"^-?({'|'.join(SORT_KEYS)})(,-?({'|'.join(SORT_KEYS)})){{0,4}}$"
DEFAULT_SORT = "-created_at"

AssigneeFilter = Literal["me", "unassigned"] | uuid.UUID


@dataclass(frozen=True)
class TaskFilters:
    project_ids: list[uuid.UUID] = field(default_factory=list)
    column_ids: list[uuid.UUID] = field(default_factory=list)
    done: bool | None = None
    assignees: list[AssigneeFilter] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    priorities: list[Priority] = field(default_factory=list)
    due_before: datetime | None = None
    due_after: datetime | None = None
    overdue: bool | None = None
    q: str | None = None
    include_archived: bool = False
    sort: str = DEFAULT_SORT

    def clauses(self, *, me: uuid.UUID, now: datetime, dialect: str) -> list[ColumnElement[bool]]:
        """The WHERE clauses of these filters (membership and archiving are the caller's)."""
        where: list[ColumnElement[bool]] = []
        if self.project_ids:
            where.append(Task.project_id.in_(self.project_ids))
        if self.column_ids:
            where.append(Task.column_id.in_(self.column_ids))
        if self.done is not None:  # completed_at is set exactly in done columns: no join
            where.append(
                Task.completed_at.is_not(None) if self.done else Task.completed_at.is_(None)
            )
        if self.assignees:
            where.append(or_(false(), *(_assignee(a, me) for a in self.assignees)))
        for label in self.labels:  # every label named must be on the task: a key lookup each
            where.append(exists().where(TaskLabel.task_id == Task.id, TaskLabel.label == label))
        if self.priorities:
            where.append(Task.priority.in_([p.rank for p in self.priorities]))
        if self.due_before is not None:
            where.append(Task.due_at < self.due_before)
        if self.due_after is not None:
            where.append(Task.due_at >= self.due_after)
        if self.overdue is True:
            where.append(and_(Task.due_at < now, Task.completed_at.is_(None)))
        elif self.overdue is False:
            where.append(
                or_(Task.due_at.is_(None), Task.due_at >= now, Task.completed_at.is_not(None))
            )
        if self.q:
            where.append(search.TASKS.matches(dialect, self.q))
        return where

    def order_by(self) -> list[Any]:
        """``sort`` as ORDER BY terms; the id breaks ties so that pages never overlap. Tasks
        without a due date come last whichever the direction."""
        terms: list[Any] = []
        for key in self.sort.split(","):
            column = getattr(Task, key.lstrip("-"))
            term = column.desc() if key.startswith("-") else column.asc()
            terms.append(term.nulls_last() if key.lstrip("-") == "due_at" else term)
        terms.append(Task.id.asc())
        return terms


def _assignee(value: AssigneeFilter, me: uuid.UUID) -> ColumnElement[bool]:
    if value == "me":
        return Task.assignee_id == me
    if value == "unassigned":
        return Task.assignee_id.is_(None)
    return Task.assignee_id == value


async def task_conditions(  # async: a plain function would run in the thread pool
    column_id: Annotated[
        list[uuid.UUID] | None,
        Query(max_length=50, description="Board columns; repeat for any of."),
    ] = None,
    done: Annotated[
        bool | None, Query(description="In a done column (or not): `completed_at` set.")
    ] = None,
    assignee: Annotated[
        list[AssigneeFilter] | None,
        Query(max_length=20, description="`me`, `unassigned` or a user id; repeat for any of."),
    ] = None,
    label: Annotated[
        list[Label] | None, Query(max_length=10, description="Tasks carrying every label named.")
    ] = None,
    priority: Annotated[list[Priority] | None, Query(max_length=5)] = None,
    due_before: Annotated[DateTime | None, Query(description="Due strictly before.")] = None,
    due_after: Annotated[DateTime | None, Query(description="Due at or after.")] = None,
    overdue: Annotated[
        bool | None, Query(description="Due in the past and not done (or the opposite).")
    ] = None,
    q: Annotated[
        str | None,
        Query(max_length=200, description="Words of the title or description (prefixes)."),
    ] = None,
) -> TaskFilters:
    """The filters that choose tasks inside a project: the task list's, and the exports' (whose
    path names the project, and whose rows come in creation order)."""
    return TaskFilters(
        column_ids=column_id or [],
        done=done,
        assignees=assignee or [],
        labels=label or [],
        priorities=priority or [],
        due_before=due_before,
        due_after=due_after,
        overdue=overdue,
        q=q.strip() if q and q.strip() else None,
    )


async def task_filters(
    conditions: Annotated[TaskFilters, Depends(task_conditions)],
    project_id: Annotated[
        list[uuid.UUID] | None, Query(max_length=50, description="Repeat for several.")
    ] = None,
    include_archived: Annotated[
        bool, Query(description="Include tasks of archived projects not named in project_id.")
    ] = False,
    sort: Annotated[
        str,
        Query(
            pattern=SORT_PATTERN,
            max_length=100,
            description=f"Comma-separated keys of {', '.join(SORT_KEYS)}; `-` for descending. "
            "`position` is the board order: meaningful with one column.",
        ),
    ] = DEFAULT_SORT,
) -> TaskFilters:
    """The task list's filters: ``task_conditions``, and which projects, in which order."""
    return replace(
        conditions,
        project_ids=project_id or [],
        include_archived=include_archived,
        sort=sort,
    )
