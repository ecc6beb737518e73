"""The task manager's tables: projects and their members, board columns, tasks, labels,
checklists, comments, activity history and calendar feeds.

Every filter and sort the task list offers has an index here, led by ``project_id`` because a
list is always confined to the projects the caller is a member of. Full-text search cannot be
declared as a model (SQLite FTS5 table and triggers, a PostgreSQL GIN expression index): the
migration creates it and ``register_unmanaged`` hides it from autogenerate.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mainspring.core.db import (
    Base,
    IdMixin,
    JSONDocument,
    TimestampMixin,
    register_unmanaged,
    utcnow,
)

SEARCH_PREFIX = "todo_tasks_fts"
"""Name prefix of the hand-made search objects (FTS5 table and triggers, the GIN index)."""
register_unmanaged(SEARCH_PREFIX)

ROLES = ("owner", "editor", "viewer")
DEFAULT_COLUMNS = (
    ("To do", "#64748b", False),
    ("In progress", "#2563eb", False),
    ("Done", "#16a34a", True),
)
"""(name, colour, is_done) of the columns a new project starts with, in board order."""
PRIORITIES = ("none", "low", "medium", "high", "urgent")
"""Priority names in rising order; the database stores the index so that it sorts."""


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Project(IdMixin, TimestampMixin, Base):
    """A shared list of tasks. ``inbox_of_id`` marks a user's personal inbox (one per user)."""

    __tablename__ = "todo_projects"

    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    archived: Mapped[bool] = mapped_column(default=False)
    inbox_of_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), unique=True, default=None
    )
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )

    @property
    def is_inbox(self) -> bool:
        return self.inbox_of_id is not None


class ProjectMember(Base):
    """A user's role in a project: ``owner``, ``editor`` or ``viewer``."""

    __tablename__ = "todo_project_members"
    __table_args__ = (
        CheckConstraint(_in("role", ROLES), name="role"),
        # "My projects" and the membership join of every task list start from the user.
        Index("ix_todo_project_members_user", "user_id", "project_id"),
    )

    project_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("todo_projects.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class BoardColumn(IdMixin, TimestampMixin, Base):
    """A column of a project's board ("To do", "Review", "Done"...), defined by its owners.

    The columns of a project have positions 0, 1, ..., n-1 (archived ones keep theirs).
    ``is_done`` says that a task there is finished: completion figures, the ``done`` filter,
    ``overdue`` and reminders follow it. ``wip_limit`` bounds how many tasks it may hold (a
    task entering a full column is refused); None is unbounded. An archived column accepts no
    new task; its tasks stay where they are.
    """

    __tablename__ = "todo_columns"
    __table_args__ = (
        CheckConstraint("wip_limit IS NULL OR wip_limit >= 1", name="wip_limit"),
        # The board: a project's columns in order.
        Index("ix_todo_columns_project", "project_id", "position"),
    )

    project_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("todo_projects.id", ondelete="CASCADE")
    )
    name: Mapped[str] = mapped_column(String(60))
    position: Mapped[int] = mapped_column(Integer, default=0)
    colour: Mapped[str] = mapped_column(String(7), default="#64748b")
    wip_limit: Mapped[int | None] = mapped_column(Integer, default=None)
    is_done: Mapped[bool] = mapped_column(default=False)
    archived_at: Mapped[datetime | None] = mapped_column(default=None)


class Task(IdMixin, TimestampMixin, Base):
    """A task on a board column. ``position`` orders it within its column: the positions of a
    column are always 0, 1, ..., n-1. ``completed_at`` is set exactly while the column is a
    done column (``BoardColumn.is_done``): the services keep it so, and the done/overdue
    filters and reminders read it without a join. ``version`` grows with every change of the
    task's representation and is the ETag."""

    __tablename__ = "todo_tasks"
    __table_args__ = (
        CheckConstraint(f"priority BETWEEN 0 AND {len(PRIORITIES) - 1}", name="priority"),
        # The id makes a board column (and its label filter) an index-only scan.
        Index("ix_todo_tasks_board", "project_id", "column_id", "position", "id"),
        Index("ix_todo_tasks_project_due", "project_id", "due_at"),
        Index("ix_todo_tasks_project_priority", "project_id", "priority"),
        Index("ix_todo_tasks_project_created", "project_id", "created_at"),
        Index("ix_todo_tasks_project_updated", "project_id", "updated_at"),
        Index("ix_todo_tasks_assignee_due", "assignee_id", "due_at"),
        # Reminders and overdue digests scan due dates across every project.
        Index("ix_todo_tasks_due_at", "due_at"),
    )

    project_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("todo_projects.id", ondelete="CASCADE")
    )
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    description_html: Mapped[str] = mapped_column(Text, default="")
    column_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("todo_columns.id"))
    priority: Mapped[int] = mapped_column(SmallInteger, default=0)
    due_at: Mapped[datetime | None] = mapped_column(default=None)
    assignee_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    position: Mapped[int] = mapped_column(Integer, default=0)
    completed_at: Mapped[datetime | None] = mapped_column(default=None)
    version: Mapped[int] = mapped_column(Integer, default=1)
    reminded_due_at: Mapped[datetime | None] = mapped_column(default=None)
    """The due date the assignee was last reminded of: a new due date earns a new reminder."""

    labels: Mapped[list[TaskLabel]] = relationship(
        lazy="raise",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="TaskLabel.label",
    )
    subtasks: Mapped[list[Subtask]] = relationship(
        lazy="raise",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="Subtask.position",
    )

    @property
    def label_names(self) -> list[str]:
        return [label.label for label in self.labels]


class TaskLabel(Base):
    """One label of a task. ``?label=`` probes each candidate task's labels by this primary
    key: a list is always confined to the caller's projects, and an index by label would lead
    PostgreSQL to hash every task carrying the label in every project instead."""

    __tablename__ = "todo_task_labels"

    task_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("todo_tasks.id", ondelete="CASCADE"), primary_key=True
    )
    label: Mapped[str] = mapped_column(String(40), primary_key=True)


class Subtask(IdMixin, Base):
    """A checklist item of a task, ordered by ``position`` (0, 1, ..., n-1)."""

    __tablename__ = "todo_subtasks"
    __table_args__ = (Index("ix_todo_subtasks_task", "task_id", "position"),)

    task_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("todo_tasks.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    done: Mapped[bool] = mapped_column(default=False)
    position: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Comment(IdMixin, TimestampMixin, Base):
    """A comment on a task, in Markdown, stored with its sanitised HTML."""

    __tablename__ = "todo_comments"
    __table_args__ = (Index("ix_todo_comments_task", "task_id", "id"),)

    task_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("todo_tasks.id", ondelete="CASCADE"))
    author_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    body: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)


class TaskActivity(IdMixin, Base):
    """One entry of a task's history: who did what, when, and which fields changed how.

    ``changes`` is a list of ``{"field", "from", "to"}``; long text (the description) is
    recorded as changed without its content.
    """

    __tablename__ = "todo_task_activity"
    __table_args__ = (Index("ix_todo_task_activity_task", "task_id", "id"),)

    task_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("todo_tasks.id", ondelete="CASCADE"))
    actor_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    action: Mapped[str] = mapped_column(String(32))
    changes: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CalendarFeed(IdMixin, Base):
    """A member's secret iCalendar URL for a project's due dates; only its hash is stored.

    One feed per (project, user): creating a new one replaces (revokes) the old one.
    """

    __tablename__ = "todo_calendar_feeds"
    __table_args__ = (UniqueConstraint("project_id", "user_id"),)

    project_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("todo_projects.id", ondelete="CASCADE")
    )
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProjectInvitation(IdMixin, Base):
    """An invitation of an e-mail address into a project with a role.

    Its link carries a random token of which only the SHA-256 is stored (``token_hash``); a
    resend replaces the token, so only the newest link works. It is open until accepted
    (``accepted_at``), revoked (``revoked_at``) or past ``expires_at``. Nothing here names an
    account until someone accepts: inviting never looks the address up.
    """

    __tablename__ = "todo_project_invitations"
    __table_args__ = (
        CheckConstraint(_in("role", ROLES), name="role"),
        # The owners' list of a project's open invitations, newest first.
        Index("ix_todo_project_invitations_project", "project_id", "created_at"),
        # One open invitation per address and project is looked up on every invite.
        Index("ix_todo_project_invitations_email", "project_id", "email"),
    )

    project_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("todo_projects.id", ondelete="CASCADE")
    )
    email: Mapped[str] = mapped_column(String(254))
    role: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    invited_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)
    """When the newest link was mailed: resends are spaced by it."""
    sends: Mapped[int] = mapped_column(Integer, default=1)
    expires_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None] = mapped_column(default=None)
    accepted_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


__all__ = [
    "DEFAULT_COLUMNS",
    "PRIORITIES",
    "ROLES",
    "BoardColumn",
    "CalendarFeed",
    "Comment",
    "Project",
    "ProjectInvitation",
    "ProjectMember",
    "Subtask",
    "Task",
    "TaskActivity",
    "TaskLabel",
]
