"""Request and response bodies of tasks, their checklists, comments and history."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, Field

from mainspring.core.schemas import DateTime, Input, Patch, Schema
from mainspring.todo import models


class Priority(StrEnum):
    """In rising order; sorting by ``-priority`` puts ``urgent`` first."""

    NONE = "none"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    URGENT = "urgent"

    @property
    def rank(self) -> int:
        return models.PRIORITIES.index(self.value)

    @classmethod
    def of_rank(cls, rank: int) -> Priority:
        return cls(models.PRIORITIES[rank])


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


MAX_LABELS = 20
MAX_SUBTASKS = 100

Title = Annotated[str, Field(min_length=1, max_length=200, examples=["Write the launch post"])]
Description = Annotated[
    str,
    Field(
        max_length=20_000,
        description="Markdown; rendered (raw HTML off) and sanitised into `description_html`.",
        examples=["Draft in the **shared doc**, then ask [Ada](mailto:ada@example.com)."],
    ),
]
Label = Annotated[
    str,
    Field(min_length=1, max_length=40, pattern=r"^[^,;\r\n]+$", examples=["marketing"]),
    AfterValidator(str.lower),
]
Labels = Annotated[
    list[Label],
    Field(max_length=MAX_LABELS, description="Lower-cased, duplicates removed."),
    AfterValidator(_unique),
]
Position = Annotated[
    int, Field(ge=0, le=1_000_000, description="Index in the target column, from 0.")
]
SubtaskTitle = Annotated[str, Field(min_length=1, max_length=200, examples=["Pick the photos"])]
TaskIds = Annotated[list[uuid.UUID], Field(min_length=1, max_length=100), AfterValidator(_unique)]


class TaskCreate(Input):
    project_id: uuid.UUID | None = Field(None, description="Default: your personal inbox.")
    title: Title
    description: Description = ""
    column_id: uuid.UUID | None = Field(
        None,
        description="A column of the project (it names the project when `project_id` is left "
        "out); default: the project's first column that is not archived.",
    )
    priority: Priority = Field(Priority.NONE, examples=["high"])
    due_at: DateTime | None = Field(None, examples=["2026-12-01T17:00:00+01:00"])
    labels: Labels = Field(default_factory=list, examples=[["marketing", "launch"]])
    assignee_id: uuid.UUID | None = Field(None, description="A member of the project.")
    subtasks: list[SubtaskTitle] = Field(
        default_factory=list, max_length=MAX_SUBTASKS, examples=[["Outline", "Draft"]]
    )
    position: Position | None = Field(None, description="Index in its column; default: last.")


class TaskUpdate(Patch):
    """Merge semantics: only the fields sent change; ``null`` clears ``due_at``/``assignee_id``.

    Changing ``column_id`` (a column of the same project) puts the task last in its new column
    (use ``move`` to choose where, or to change project)."""

    not_null: ClassVar[tuple[str, ...]] = (
        "title",
        "description",
        "column_id",
        "priority",
        "labels",
    )
    title: Title | None = None
    description: Description | None = None
    column_id: uuid.UUID | None = Field(None, description="A column of the task's project.")
    priority: Priority | None = Field(None, examples=["urgent"])
    due_at: DateTime | None = Field(
        None, description="`null` clears it.", examples=["2026-12-01T17:00:00Z"]
    )
    labels: Labels | None = None
    assignee_id: uuid.UUID | None = Field(None, description="`null` unassigns the task.")


class TaskMove(Input):
    """Where to put the task: another column, another project, or another place in its column.
    ``column_id`` names its project too; ``project_id`` alone puts the task in that project's
    first open column. Omitted parts stay as they are; ``position`` defaults to the column's
    end."""

    project_id: uuid.UUID | None = None
    column_id: uuid.UUID | None = None
    position: Position | None = Field(None, examples=[0])


class BulkChanges(Patch):
    """The fields sent change on every task; ``null`` clears ``due_at``/``assignee_id``."""

    not_null: ClassVar[tuple[str, ...]] = ("column_id", "priority", "add_labels", "remove_labels")
    non_empty: ClassVar[bool] = True

    column_id: uuid.UUID | None = Field(
        None, description="A column of every task's project: they go last there, in order."
    )
    priority: Priority | None = None
    due_at: DateTime | None = Field(None, description="`null` clears it.")
    assignee_id: uuid.UUID | None = Field(None, description="`null` unassigns the tasks.")
    add_labels: Labels = Field(default_factory=list, examples=[["q4"]])
    remove_labels: Labels = Field(default_factory=list)


class TaskBulkUpdate(Input):
    """Apply the same change to up to 100 tasks, all or nothing."""

    ids: TaskIds
    changes: BulkChanges


class TaskBulkMove(Input):
    """Move up to 100 tasks, all or nothing: they end up next to each other, in the order of
    ``ids``, from ``position`` (default: the end) of the target column."""

    ids: TaskIds
    project_id: uuid.UUID | None = None
    column_id: uuid.UUID | None = None
    position: Position | None = None


class UserRef(Schema):
    id: uuid.UUID
    username: str


class ColumnRef(Schema):
    """The board column a task is in (``GET /projects/{id}/columns`` has the rest)."""

    id: uuid.UUID
    name: str = Field(examples=["In progress"])
    is_done: bool = Field(description="Tasks in this column count as done.")


class Subtask(Schema):
    id: uuid.UUID
    title: str
    done: bool
    position: int


class SubtaskCreate(Input):
    title: SubtaskTitle
    done: bool = False


class SubtaskUpdate(Patch):
    """Merge semantics: only the fields sent change; none of them may be ``null``."""

    not_null: ClassVar[tuple[str, ...]] = ("title", "done", "position")

    title: SubtaskTitle | None = None
    done: bool | None = Field(None, examples=[True])
    position: Position | None = None


class Task(Schema):
    """A task as lists show it."""

    id: uuid.UUID
    project_id: uuid.UUID
    title: str
    column: ColumnRef
    priority: Priority
    due_at: datetime | None
    overdue: bool = Field(description="Due in the past and not in a done column.")
    labels: list[str]
    assignee: UserRef | None
    position: int = Field(description="Index in its column, from 0.")
    subtasks_done: int
    subtasks_total: int
    completed_at: datetime | None = Field(
        description="When it entered a done column; null while it is in another."
    )
    created_at: datetime
    updated_at: datetime
    version: int = Field(description="Grows with every change; the task's ETag.")


class TaskDetail(Task):
    """A task with its description and checklist."""

    description: str
    description_html: str
    subtasks: list[Subtask]
    created_by: UserRef | None


class TaskExport(Task):
    """A task as the CSV export writes it: the list's fields and the description."""

    description: str


class Change(Schema):
    field: str
    old: Any = None
    new: Any = None


class Activity(Schema):
    id: uuid.UUID
    task_id: uuid.UUID
    actor: UserRef | None
    action: str = Field(examples=["updated"])
    changes: list[Change]
    created_at: datetime


class TaskList(Schema):
    """The tasks a bulk operation changed, in the order of the request."""

    items: list[Task]
