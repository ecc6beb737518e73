"""The task list's query language: filters and sort keys from the query string, turned into
SQL clauses over ``todo_tasks``, every value a bound parameter: the list's statements are built
once per ``FilterShape`` (which filters are set), and run with ``TaskFilters.parameters``.

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
from sqlalchemy import BindParameter, ColumnElement, and_, bindparam, exists, false, or_

from mainspring.core.schemas import DateTime
from mainspring.core.search import words
from mainspring.todo import search
from mainspring.todo.models import Task, TaskLabel
from mainspring.todo.tasks.schemas import Label, Priority

SORT_KEYS = ("due_at", "priority", "position", "created_at", "updated_at")
SORT_PATTERN = rf"^-?({'|'.join(SORT_KEYS)})(,-?({'|'.join(SORT_KEYS)})){{0,4}}$"
DEFAULT_SORT = "-created_at"
ME = "me"
"""The bound parameter of the caller's id (membership, ``assignee=me``)."""
NOW = "now"
"""The bound parameter of the request's time (``overdue``)."""
LABEL_PARAMETER = "wanted_label_"
"""The prefix of the labels' parameters, numbered (SQLAlchemy's own would be ``label_1``...)."""

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

    def shape(self) -> FilterShape:
        """Which of these filters are set (not their values)."""
        return FilterShape(
            projects=bool(self.project_ids),
            columns=bool(self.column_ids),
            done=self.done,
            assignee_me="me" in self.assignees,
            assignee_unassigned="unassigned" in self.assignees,
            assignee_ids=any(isinstance(value, uuid.UUID) for value in self.assignees),
            labels=len(self.labels),
            priorities=bool(self.priorities),
            due_before=self.due_before is not None,
            due_after=self.due_after is not None,
            overdue=self.overdue,
            search=None if not self.q else bool(words(self.q)),
            include_archived=self.include_archived,
            sort=self.sort,
        )

    def parameters(self, *, me: uuid.UUID, now: datetime, dialect: str) -> dict[str, Any]:
        """The values of the bound parameters of ``shape().clauses(dialect)``."""
        values: dict[str, Any] = {ME: me, NOW: now}
        if self.project_ids:
            values["project_ids"] = self.project_ids
        if self.column_ids:
            values["column_ids"] = self.column_ids
        if ids := [value for value in self.assignees if isinstance(value, uuid.UUID)]:
            values["assignee_ids"] = ids
        for index, label in enumerate(self.labels):
            values[f"{LABEL_PARAMETER}{index}"] = label
        if self.priorities:
            values["priorities"] = [priority.rank for priority in self.priorities]
        if self.due_before is not None:
            values["due_before"] = self.due_before
        if self.due_after is not None:
            values["due_after"] = self.due_after
        if self.q and (value := search.TASKS.search_value(dialect, self.q)) is not None:
            values[search.TASKS.parameter] = value
        return values


@dataclass(frozen=True)
class FilterShape:
    """Which filters a task list sets, not their values: its statements are built once per
    shape (``repository._list_statements``), every value a bound parameter of
    ``TaskFilters.parameters``. Building a statement of this size and having SQLAlchemy compute
    its cache key cost more CPU than the database spends running it."""

    projects: bool
    columns: bool
    done: bool | None
    assignee_me: bool
    assignee_unassigned: bool
    assignee_ids: bool
    labels: int
    priorities: bool
    due_before: bool
    due_after: bool
    overdue: bool | None
    search: bool | None
    """None without ``q``; False for a ``q`` without a word (nothing matches)."""
    include_archived: bool
    sort: str

    def clauses(self, dialect: str) -> list[ColumnElement[bool]]:
        """The WHERE clauses (membership and archiving are the caller's), on the parameters
        ``me`` and ``now`` and those ``TaskFilters.parameters`` names."""
        where: list[ColumnElement[bool]] = []
        if self.projects:
            where.append(Task.project_id.in_(bindparam("project_ids", expanding=True)))
        if self.columns:
            where.append(Task.column_id.in_(bindparam("column_ids", expanding=True)))
        if self.done is not None:  # completed_at is set exactly in done columns: no join
            where.append(
                Task.completed_at.is_not(None) if self.done else Task.completed_at.is_(None)
            )
        assignees: list[ColumnElement[bool]] = []
        if self.assignee_me:
            assignees.append(Task.assignee_id == bindparam(ME))
        if self.assignee_unassigned:
            assignees.append(Task.assignee_id.is_(None))
        if self.assignee_ids:
            assignees.append(Task.assignee_id.in_(bindparam("assignee_ids", expanding=True)))
        if assignees:
            where.append(or_(*assignees))
        for index in range(self.labels):  # every label named must be on the task: a key each
            label: BindParameter[str] = bindparam(f"{LABEL_PARAMETER}{index}")
            where.append(exists().where(TaskLabel.task_id == Task.id, TaskLabel.label == label))
        if self.priorities:
            where.append(Task.priority.in_(bindparam("priorities", expanding=True)))
        if self.due_before:
            where.append(Task.due_at < bindparam("due_before"))
        if self.due_after:
            where.append(Task.due_at >= bindparam("due_after"))
        if self.overdue is True:
            where.append(and_(Task.due_at < bindparam(NOW), Task.completed_at.is_(None)))
        elif self.overdue is False:
            where.append(
                or_(
                    Task.due_at.is_(None),
                    Task.due_at >= bindparam(NOW),
                    Task.completed_at.is_not(None),
                )
            )
        if self.search is False:
            where.append(false())
        elif self.search:
            where.append(search.TASKS.condition(dialect))
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
