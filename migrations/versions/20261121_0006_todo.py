"""Task manager: projects, members, tasks, labels, subtasks, comments, activity, calendar feeds,
and the full-text search of tasks (SQLite FTS5 table and triggers, PostgreSQL GIN index).

The search objects cannot be declared as models; ``mainspring.todo.models`` registers their
name prefix (``todo_tasks_fts``) as unmanaged so that autogenerate leaves them alone. A later
migration that rebuilds ``todo_tasks`` in SQLite batch mode drops its triggers with the old
table: it must create them again (``_create_sqlite_search``) and rebuild the index.

Revision ID: 0006
Revises: 0003
Create Date: 2026-11-21 05:12:20.815291+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import mainspring.core.db

revision: str = "0006"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


POSTGRES_SEARCH_INDEX = """
CREATE INDEX todo_tasks_fts_gin ON todo_tasks
USING gin (to_tsvector('simple', title || ' ' || description))
"""
SQLITE_SEARCH = (
    # The FTS5 row of a task has the task's rowid.
    "CREATE VIRTUAL TABLE todo_tasks_fts USING fts5(title, description)",
    """CREATE TRIGGER todo_tasks_fts_insert AFTER INSERT ON todo_tasks BEGIN
        INSERT INTO todo_tasks_fts (rowid, title, description)
        VALUES (new.rowid, new.title, new.description);
    END""",
    """CREATE TRIGGER todo_tasks_fts_update AFTER UPDATE OF title, description ON todo_tasks
    BEGIN
        UPDATE todo_tasks_fts SET title = new.title, description = new.description
        WHERE rowid = old.rowid;
    END""",
    """CREATE TRIGGER todo_tasks_fts_delete AFTER DELETE ON todo_tasks BEGIN
        DELETE FROM todo_tasks_fts WHERE rowid = old.rowid;
    END""",
)


def _create_sqlite_search() -> None:
    for statement in SQLITE_SEARCH:
        op.execute(statement)
    op.execute(
        "INSERT INTO todo_tasks_fts (rowid, title, description) "
        "SELECT rowid, title, description FROM todo_tasks"
    )


def upgrade() -> None:
    op.create_table(
        "todo_projects",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("archived", sa.Boolean(), nullable=False),
        sa.Column("inbox_of_id", sa.Uuid(), nullable=True),
        sa.Column("created_by_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", mainspring.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", mainspring.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_todo_projects_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["inbox_of_id"],
            ["users.id"],
            name=op.f("fk_todo_projects_inbox_of_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_todo_projects")),
        sa.UniqueConstraint("inbox_of_id", name=op.f("uq_todo_projects_inbox_of_id")),
    )
    op.create_table(
        "todo_calendar_feeds",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", mainspring.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["todo_projects.id"],
            name=op.f("fk_todo_calendar_feeds_project_id_todo_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_todo_calendar_feeds_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_todo_calendar_feeds")),
        sa.UniqueConstraint(
            "project_id", "user_id", name=op.f("uq_todo_calendar_feeds_project_id_user_id")
        ),
        sa.UniqueConstraint("token_hash", name=op.f("uq_todo_calendar_feeds_token_hash")),
    )
    op.create_table(
        "todo_project_members",
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("created_at", mainspring.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "role IN ('owner', 'editor', 'viewer')", name=op.f("ck_todo_project_members_role")
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["todo_projects.id"],
            name=op.f("fk_todo_project_members_project_id_todo_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_todo_project_members_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("project_id", "user_id", name=op.f("pk_todo_project_members")),
    )
    with op.batch_alter_table("todo_project_members", schema=None) as batch_op:
        batch_op.create_index(
            "ix_todo_project_members_user", ["user_id", "project_id"], unique=False
        )

    op.create_table(
        "todo_tasks",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("description_html", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("priority", sa.SmallInteger(), nullable=False),
        sa.Column("due_at", mainspring.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("assignee_id", sa.Uuid(), nullable=True),
        sa.Column("created_by_id", sa.Uuid(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("completed_at", mainspring.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("reminded_due_at", mainspring.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", mainspring.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", mainspring.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('todo', 'in_progress', 'done')", name=op.f("ck_todo_tasks_status")
        ),
        sa.CheckConstraint("priority BETWEEN 0 AND 4", name=op.f("ck_todo_tasks_priority")),
        sa.ForeignKeyConstraint(
            ["assignee_id"],
            ["users.id"],
            name=op.f("fk_todo_tasks_assignee_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_todo_tasks_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["todo_projects.id"],
            name=op.f("fk_todo_tasks_project_id_todo_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_todo_tasks")),
    )
    with op.batch_alter_table("todo_tasks", schema=None) as batch_op:
        batch_op.create_index("ix_todo_tasks_assignee_due", ["assignee_id", "due_at"], unique=False)
        batch_op.create_index(
            "ix_todo_tasks_board", ["project_id", "status", "position"], unique=False
        )
        batch_op.create_index("ix_todo_tasks_due_at", ["due_at"], unique=False)
        batch_op.create_index(
            "ix_todo_tasks_project_created", ["project_id", "created_at"], unique=False
        )
        batch_op.create_index("ix_todo_tasks_project_due", ["project_id", "due_at"], unique=False)
        batch_op.create_index(
            "ix_todo_tasks_project_priority", ["project_id", "priority"], unique=False
        )
        batch_op.create_index(
            "ix_todo_tasks_project_updated", ["project_id", "updated_at"], unique=False
        )

    op.create_table(
        "todo_comments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("task_id", sa.Uuid(), nullable=False),
        sa.Column("author_id", sa.Uuid(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=False),
        sa.Column("created_at", mainspring.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", mainspring.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["users.id"],
            name=op.f("fk_todo_comments_author_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["todo_tasks.id"],
            name=op.f("fk_todo_comments_task_id_todo_tasks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_todo_comments")),
    )
    with op.batch_alter_table("todo_comments", schema=None) as batch_op:
        batch_op.create_index("ix_todo_comments_task", ["task_id", "id"], unique=False)

    op.create_table(
        "todo_subtasks",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("task_id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("done", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("created_at", mainspring.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["todo_tasks.id"],
            name=op.f("fk_todo_subtasks_task_id_todo_tasks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_todo_subtasks")),
    )
    with op.batch_alter_table("todo_subtasks", schema=None) as batch_op:
        batch_op.create_index("ix_todo_subtasks_task", ["task_id", "position"], unique=False)

    op.create_table(
        "todo_task_activity",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("task_id", sa.Uuid(), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("changes", mainspring.core.db.JSONDocument, nullable=False),
        sa.Column("created_at", mainspring.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["users.id"],
            name=op.f("fk_todo_task_activity_actor_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["todo_tasks.id"],
            name=op.f("fk_todo_task_activity_task_id_todo_tasks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_todo_task_activity")),
    )
    with op.batch_alter_table("todo_task_activity", schema=None) as batch_op:
        batch_op.create_index("ix_todo_task_activity_task", ["task_id", "id"], unique=False)

    op.create_table(
        "todo_task_labels",
        sa.Column("task_id", sa.Uuid(), nullable=False),
        sa.Column("label", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["todo_tasks.id"],
            name=op.f("fk_todo_task_labels_task_id_todo_tasks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("task_id", "label", name=op.f("pk_todo_task_labels")),
    )
    with op.batch_alter_table("todo_task_labels", schema=None) as batch_op:
        batch_op.create_index("ix_todo_task_labels_label", ["label", "task_id"], unique=False)

    if op.get_bind().dialect.name == "sqlite":
        _create_sqlite_search()
    else:
        op.execute(POSTGRES_SEARCH_INDEX)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS todo_tasks_fts_{trigger}")
        op.execute("DROP TABLE IF EXISTS todo_tasks_fts")
    else:
        op.execute("DROP INDEX IF EXISTS todo_tasks_fts_gin")
    with op.batch_alter_table("todo_task_labels", schema=None) as batch_op:
        batch_op.drop_index("ix_todo_task_labels_label")

    op.drop_table("todo_task_labels")
    with op.batch_alter_table("todo_task_activity", schema=None) as batch_op:
        batch_op.drop_index("ix_todo_task_activity_task")

    op.drop_table("todo_task_activity")
    with op.batch_alter_table("todo_subtasks", schema=None) as batch_op:
        batch_op.drop_index("ix_todo_subtasks_task")

    op.drop_table("todo_subtasks")
    with op.batch_alter_table("todo_comments", schema=None) as batch_op:
        batch_op.drop_index("ix_todo_comments_task")

    op.drop_table("todo_comments")
    with op.batch_alter_table("todo_tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_todo_tasks_project_updated")
        batch_op.drop_index("ix_todo_tasks_project_priority")
        batch_op.drop_index("ix_todo_tasks_project_due")
        batch_op.drop_index("ix_todo_tasks_project_created")
        batch_op.drop_index("ix_todo_tasks_due_at")
        batch_op.drop_index("ix_todo_tasks_board")
        batch_op.drop_index("ix_todo_tasks_assignee_due")

    op.drop_table("todo_tasks")
    with op.batch_alter_table("todo_project_members", schema=None) as batch_op:
        batch_op.drop_index("ix_todo_project_members_user")

    op.drop_table("todo_project_members")
    op.drop_table("todo_calendar_feeds")
    op.drop_table("todo_projects")
