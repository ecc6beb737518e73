"""Migration ``0014_todo`` with data in the tables: statuses become the default board's
columns and back, and nothing that hangs off a task is lost on the way (on SQLite the task
table is rebuilt, and dropping the old one would cascade). Runs on a fresh SQLite file, and on
a database of its own next to ``MAINSPRING_TEST_DATABASE_URL`` when that is PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from mainspring.core import migrations
from mainspring.core.db import UTCDateTime, create_engine, uuid7
from tests.conftest import TEST_DATABASE_URL, _create_postgres_database, make_settings

AFTER = "0014_todo"


def _down_revision(revision: str) -> str:
    """The revision before ``revision`` (whatever it is re-chained onto when branches merge)."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(migrations.alembic_config(make_settings("sqlite://")))
    down = script.get_revision(revision).down_revision
    assert isinstance(down, str)
    return down


BEFORE = _down_revision(AFTER)
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

projects = sa.table(
    "todo_projects",
    *(sa.column(n, t) for n, t in (("id", sa.Uuid()), ("name", sa.String()))),
    sa.column("description", sa.Text()),
    sa.column("archived", sa.Boolean()),
    sa.column("created_at", UTCDateTime()),
    sa.column("updated_at", UTCDateTime()),
)
tasks = sa.table(
    "todo_tasks",
    sa.column("id", sa.Uuid()),
    sa.column("project_id", sa.Uuid()),
    sa.column("title", sa.String()),
    sa.column("description", sa.Text()),
    sa.column("description_html", sa.Text()),
    sa.column("status", sa.String()),
    sa.column("column_id", sa.Uuid()),
    sa.column("priority", sa.Integer()),
    sa.column("position", sa.Integer()),
    sa.column("version", sa.Integer()),
    sa.column("completed_at", UTCDateTime()),
    sa.column("created_at", UTCDateTime()),
    sa.column("updated_at", UTCDateTime()),
)
labels = sa.table("todo_task_labels", sa.column("task_id", sa.Uuid()), sa.column("label"))
columns = sa.table(
    "todo_columns",
    sa.column("id", sa.Uuid()),
    sa.column("project_id", sa.Uuid()),
    sa.column("name", sa.String()),
    sa.column("position", sa.Integer()),
    sa.column("is_done", sa.Boolean()),
)
# Two projects; (title, status, position) per task, positions dense per status.
BOARD = [
    ("a", "todo", 0),
    ("b", "todo", 1),
    ("c", "in_progress", 0),
    ("d", "done", 0),
    ("e", "done", 1),
]


async def _run(url: str, work: Any) -> Any:
    engine = create_engine(url, make_settings(url))
    try:
        async with engine.begin() as conn:
            return await work(conn)
    finally:
        await engine.dispose()


async def _seed(conn: Any) -> dict[str, uuid.UUID]:
    ids: dict[str, uuid.UUID] = {}
    for project in ("p", "q"):
        project_id = ids[project] = uuid7()
        await conn.execute(
            sa.insert(projects).values(
                id=project_id,
                name=project,
                description="",
                archived=False,
                created_at=NOW,
                updated_at=NOW,
            )
        )
        for title, status, position in BOARD:
            task_id = ids[project + title] = uuid7()
            await conn.execute(
                sa.insert(tasks).values(
                    id=task_id,
                    project_id=project_id,
                    title=f"{project}{title}",
                    description="",
                    description_html="",
                    status=status,
                    priority=0,
                    position=position,
                    version=1,
                    completed_at=None,  # a done task without one gets its updated_at
                    created_at=NOW,
                    updated_at=NOW,
                )
            )
            await conn.execute(sa.insert(labels).values(task_id=task_id, label="kept"))
    return ids


async def _board(conn: Any) -> list[tuple[str, str, int, bool]]:
    rows = await conn.execute(
        sa.select(tasks.c.title, columns.c.name, tasks.c.position, tasks.c.completed_at)
        .join(columns, columns.c.id == tasks.c.column_id)
        .order_by(tasks.c.title)
    )
    return [(r[0], r[1], r[2], r[3] is not None) for r in rows]


async def _statuses(conn: Any) -> list[tuple[str, str, int, bool]]:
    rows = await conn.execute(
        sa.select(tasks.c.title, tasks.c.status, tasks.c.position, tasks.c.completed_at).order_by(
            tasks.c.title
        )
    )
    return [(r[0], r[1], r[2], r[3] is not None) for r in rows]


async def _labels(conn: Any) -> int:
    return int(await conn.scalar(sa.select(sa.func.count()).select_from(labels)))


async def _found(conn: Any) -> tuple[int, int]:
    """Hits of the search index: for a title the migration copied, and for one the update
    trigger wrote (then put back)."""

    hits = sa.text("SELECT count(*) FROM todo_tasks_fts WHERE title MATCH :word")
    copied = int(await conn.scalar(hits, {"word": "pa"}))
    await conn.execute(sa.update(tasks).where(tasks.c.title == "pa").values(title="renamed"))
    written = int(await conn.scalar(hits, {"word": "renamed"}))
    await conn.execute(sa.update(tasks).where(tasks.c.title == "renamed").values(title="pa"))
    return copied, written


def _check(url: str) -> None:
    settings = make_settings(url)
    migrations.upgrade(settings, BEFORE)
    asyncio.run(_run(url, _seed))
    migrations.upgrade(settings, AFTER)
    names = {"todo": "To do", "in_progress": "In progress", "done": "Done"}
    assert asyncio.run(_run(url, _board)) == [
        (f"{p}{title}", names[status], position, status == "done")
        for p in ("p", "q")
        for title, status, position in BOARD
    ]
    assert asyncio.run(_run(url, _labels)) == 10  # nothing cascaded away
    if url.startswith("sqlite"):  # the rebuilt table's search index and triggers
        assert asyncio.run(_run(url, _found)) == (1, 1)

    # An owner adds a column between the others: it goes back as in_progress, after them.
    async def review(conn: Any) -> None:
        project = await conn.scalar(sa.select(projects.c.id).where(projects.c.name == "p"))
        await conn.execute(
            sa.update(columns)
            .where(columns.c.project_id == project, columns.c.position == 2)
            .values(position=3)
        )
        review_id = uuid7()
        await conn.execute(
            sa.text(
                "INSERT INTO todo_columns (id, project_id, name, position, colour, is_done, "
                "created_at, updated_at) VALUES (:id, :project, 'Review', 2, '#000000', false, "
                ":now, :now)"
            ).bindparams(
                sa.bindparam("id", type_=sa.Uuid()),
                sa.bindparam("project", type_=sa.Uuid()),
                sa.bindparam("now", type_=UTCDateTime()),
            ),
            {"id": review_id, "project": project, "now": NOW},
        )
        await conn.execute(
            sa.update(tasks).where(tasks.c.title == "pa").values(column_id=review_id, position=0)
        )
        await conn.execute(sa.update(tasks).where(tasks.c.title == "pb").values(position=0))

    asyncio.run(_run(url, review))
    migrations.downgrade(settings, BEFORE)
    assert asyncio.run(_run(url, _statuses)) == [
        ("pa", "in_progress", 1, False),  # after "c", the board's order
        ("pb", "todo", 0, False),
        ("pc", "in_progress", 0, False),
        ("pd", "done", 0, True),
        ("pe", "done", 1, True),
        ("qa", "todo", 0, False),
        ("qb", "todo", 1, False),
        ("qc", "in_progress", 0, False),
        ("qd", "done", 0, True),
        ("qe", "done", 1, True),
    ]
    assert asyncio.run(_run(url, _labels)) == 10
    migrations.upgrade(settings)


def test_statuses_become_columns_and_back_on_sqlite(tmp_path: Path) -> None:
    _check(f"sqlite+aiosqlite:///{tmp_path / 'columns.db'}")


def test_statuses_become_columns_and_back_on_postgresql() -> None:
    import pytest

    if not TEST_DATABASE_URL:
        pytest.skip("MAINSPRING_TEST_DATABASE_URL is not set")
    target = make_url(TEST_DATABASE_URL)
    url = target.set(database=f"{target.database}_m13").render_as_string(hide_password=False)

    async def fresh() -> None:
        await _create_postgres_database(url)

        async def reset(conn: Any) -> None:
            await conn.execute(sa.text("DROP SCHEMA IF EXISTS public CASCADE"))
            await conn.execute(sa.text("CREATE SCHEMA public"))

        await _run(url, reset)

    asyncio.run(fresh())
    _check(url)
