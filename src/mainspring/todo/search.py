"""Full-text search over task titles and descriptions (``core/search.py``): an FTS5 table
``todo_tasks_fts`` on SQLite, a GIN index ``todo_tasks_fts_gin`` on PostgreSQL, both created by
the migration."""

from __future__ import annotations

from mainspring.core.search import FullTextIndex

TASKS = FullTextIndex(
    table="todo_tasks",
    sqlite_fts_table="todo_tasks_fts",
    postgres_document="to_tsvector('simple', todo_tasks.title || ' ' || todo_tasks.description)",
    parameter="todo_q",
)
