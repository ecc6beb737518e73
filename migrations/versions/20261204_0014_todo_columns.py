"""Task manager: board columns defined by each project's owners replace the fixed statuses.

Every project gets the default board (To do, In progress, Done); each task goes to the column
of its status (``todo`` -> To do, ``in_progress`` -> In progress, ``done`` -> Done) at the same
position, so positions stay 0..n-1 per column; ``completed_at`` is made to hold exactly for
tasks in the done column (the rule the services keep from now on); the ``status`` column and
its CHECK go. The downgrade maps back: a done column -> ``done``, each project's first other
column -> ``todo``, any other -> ``in_progress``, positions renumbered per status in board
order.

SQLite cannot drop a column named by a CHECK, nor make one NOT NULL, in place: ``todo_tasks`` is
rebuilt (batch mode). Dropping the old table runs an implicit DELETE whose ``ON DELETE
CASCADE`` would empty the tables that reference tasks (``PRAGMA foreign_keys`` cannot be
switched off inside the migration's transaction), so their rows are kept aside in temporary
tables and put back; the table's FTS5 triggers go with the old table and the rowids change,
so the search index is rebuilt (as ``0006`` made it).

Revision ID: 0014_todo
Revises: 0013_shortener
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import mainspring.core.db

revision: str = "0014_todo"
down_revision: str | None = "0013_shortener"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DEFAULT_COLUMNS = (
    # position, name, colour, is_done, the status it stands for
    (0, "To do", "#64748b", False, "todo"),
    (1, "In progress", "#2563eb", False, "in_progress"),
    (2, "Done", "#16a34a", True, "done"),
)
TASK_CHILDREN = ("todo_task_labels", "todo_subtasks", "todo_comments", "todo_task_activity")
"""The tables whose rows reference a task with ``ON DELETE CASCADE``."""
STATUS_CHECK = "status IN ('todo', 'in_progress', 'done')"
SQLITE_SEARCH = (  # as migration 0006 made them
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


def _columns_table() -> sa.TableClause:
    return sa.table(
        "todo_columns",
        sa.column("id", sa.Uuid()),
        sa.column("project_id", sa.Uuid()),
        sa.column("name", sa.String()),
        sa.column("position", sa.Integer()),
        sa.column("colour", sa.String()),
        sa.column("wip_limit", sa.Integer()),
        sa.column("is_done", sa.Boolean()),
        sa.column("archived_at", mainspring.core.db.UTCDateTime(timezone=True)),
        sa.column("created_at", mainspring.core.db.UTCDateTime(timezone=True)),
        sa.column("updated_at", mainspring.core.db.UTCDateTime(timezone=True)),
    )


@contextmanager
def _tasks_rebuilt() -> Iterator[None]:
    """Around a batch rebuild of ``todo_tasks`` on SQLite: keep the rows of the tables that
    reference tasks (the old table's DROP would cascade to them) and the search index."""
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        for table in TASK_CHILDREN:
            op.execute(f"CREATE TEMP TABLE keep_{table} AS SELECT * FROM {table}")  # noqa: S608
    yield
    if sqlite:
        for table in TASK_CHILDREN:
            op.execute(f"DELETE FROM {table}")  # noqa: S608
            op.execute(f"INSERT INTO {table} SELECT * FROM keep_{table}")  # noqa: S608
            op.execute(f"DROP TABLE keep_{table}")
        for trigger in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS todo_tasks_fts_{trigger}")
        op.execute("DROP TABLE IF EXISTS todo_tasks_fts")
        for statement in SQLITE_SEARCH:
            op.execute(statement)
        op.execute(
            "INSERT INTO todo_tasks_fts (rowid, title, description) "
            "SELECT rowid, title, description FROM todo_tasks"
        )


def upgrade() -> None:
    op.create_table(
        "todo_columns",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("colour", sa.String(length=7), nullable=False),
        sa.Column("wip_limit", sa.Integer(), nullable=True),
        sa.Column("is_done", sa.Boolean(), nullable=False),
        sa.Column("archived_at", mainspring.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", mainspring.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", mainspring.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "wip_limit IS NULL OR wip_limit >= 1", name=op.f("ck_todo_columns_wip_limit")
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["todo_projects.id"],
            name=op.f("fk_todo_columns_project_id_todo_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_todo_columns")),
    )
    with op.batch_alter_table("todo_columns", schema=None) as batch_op:
        batch_op.create_index("ix_todo_columns_project", ["project_id", "position"], unique=False)

    # The default board of every project, ids made here (UUIDv7, like the application's).
    bind = op.get_bind()
    now = datetime.now(UTC)
    projects = sa.table("todo_projects", sa.column("id", sa.Uuid()))
    project_ids = bind.execute(sa.select(projects.c.id)).scalars().all()
    rows = [
        {
            "id": mainspring.core.db.uuid7(),
            "project_id": project_id,
            "name": name,
            "position": position,
            "colour": colour,
            "wip_limit": None,
            "is_done": is_done,
            "archived_at": None,
            "created_at": now,
            "updated_at": now,
        }
        for project_id in project_ids
        for position, name, colour, is_done, _ in DEFAULT_COLUMNS
    ]
    if rows:
        op.bulk_insert(_columns_table(), rows)

    with op.batch_alter_table("todo_tasks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("column_id", sa.Uuid(), nullable=True))
    op.execute(
        "UPDATE todo_tasks SET column_id = (SELECT c.id FROM todo_columns c "
        "WHERE c.project_id = todo_tasks.project_id "
        "AND c.position = CASE todo_tasks.status "
        "WHEN 'todo' THEN 0 WHEN 'in_progress' THEN 1 ELSE 2 END), "
        "completed_at = CASE WHEN todo_tasks.status = 'done' "
        "THEN COALESCE(todo_tasks.completed_at, todo_tasks.updated_at) ELSE NULL END"
    )

    with _tasks_rebuilt(), op.batch_alter_table("todo_tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_todo_tasks_board")
        batch_op.drop_constraint(batch_op.f("ck_todo_tasks_status"), type_="check")
        batch_op.drop_column("status")
        batch_op.alter_column("column_id", existing_type=sa.Uuid(), nullable=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_todo_tasks_column_id_todo_columns"),
            "todo_columns",
            ["column_id"],
            ["id"],
        )
        batch_op.create_index(
            "ix_todo_tasks_board", ["project_id", "column_id", "position", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("todo_tasks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("status", sa.String(length=16), nullable=True))
    # A done column -> done; the project's first other column -> todo; others -> in_progress.
    op.execute(
        "UPDATE todo_tasks SET status = (SELECT CASE "
        "WHEN c.is_done THEN 'done' "
        "WHEN NOT EXISTS (SELECT 1 FROM todo_columns f WHERE f.project_id = c.project_id "
        "AND NOT f.is_done AND (f.position < c.position "
        "OR (f.position = c.position AND f.id < c.id))) THEN 'todo' "
        "ELSE 'in_progress' END FROM todo_columns c WHERE c.id = todo_tasks.column_id)"
    )
    # Positions 0..n-1 per (project, status), in board order then the old positions.
    op.execute(
        "UPDATE todo_tasks SET position = (SELECT r.n FROM (SELECT t.id, ROW_NUMBER() OVER ("
        "PARTITION BY t.project_id, t.status ORDER BY c.position, t.position, t.id) - 1 AS n "
        "FROM todo_tasks t JOIN todo_columns c ON c.id = t.column_id) r "
        "WHERE r.id = todo_tasks.id)"
    )
    op.execute(
        "UPDATE todo_tasks SET completed_at = CASE WHEN status = 'done' "
        "THEN COALESCE(completed_at, updated_at) ELSE NULL END"
    )
    with _tasks_rebuilt(), op.batch_alter_table("todo_tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_todo_tasks_board")
        batch_op.drop_constraint(
            batch_op.f("fk_todo_tasks_column_id_todo_columns"), type_="foreignkey"
        )
        batch_op.drop_column("column_id")
        batch_op.alter_column("status", existing_type=sa.String(length=16), nullable=False)
        batch_op.create_check_constraint(batch_op.f("ck_todo_tasks_status"), STATUS_CHECK)
        batch_op.create_index(
            "ix_todo_tasks_board", ["project_id", "status", "position", "id"], unique=False
        )
    with op.batch_alter_table("todo_columns", schema=None) as batch_op:
        batch_op.drop_index("ix_todo_columns_project")
    op.drop_table("todo_columns")
