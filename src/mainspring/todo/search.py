"""Full-text search over task titles and descriptions, on either database.

- SQLite: an FTS5 table ``todo_tasks_fts`` whose rowid is the task's rowid, kept in sync by
  triggers on ``todo_tasks`` (created by the migration).
- PostgreSQL: a GIN index on ``to_tsvector('simple', title || ' ' || description)``; the query
  below repeats that expression word for word so that the planner uses the index.

Both sides see the same query: the words of the user's text (letters and digits), each matched
as a prefix, all of them required. Operators typed by the user are never passed through, so no
input can make the search engine fail with a syntax error.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, false, literal_column, select, table, text

MAX_WORDS = 16
_WORD = re.compile(r"[^\W_]+")

SQLITE_FTS_TABLE = "todo_tasks_fts"
POSTGRES_DOCUMENT = "to_tsvector('simple', todo_tasks.title || ' ' || todo_tasks.description)"
"""The indexed expression, exactly as the migration's ``todo_tasks_fts_gin`` index declares it."""


def words(query: str) -> list[str]:
    return [word.lower() for word in _WORD.findall(query)][:MAX_WORDS]


def matches(dialect: str, query: str) -> ColumnElement[bool]:
    """A WHERE clause on ``todo_tasks`` true for the tasks matching every word of ``query``."""
    found = words(query)
    if not found:
        return false()
    if dialect == "postgresql":
        tsquery = " & ".join(f"{word}:*" for word in found)
        return and_(
            text(f"{POSTGRES_DOCUMENT} @@ to_tsquery('simple', :todo_q)").bindparams(todo_q=tsquery)
        )
    fts_query = " ".join(f'"{word}"*' for word in found)
    matching: Select[Any] = (
        select(literal_column("rowid"))
        .select_from(table(SQLITE_FTS_TABLE))
        .where(text(f"{SQLITE_FTS_TABLE} MATCH :todo_q").bindparams(todo_q=fts_query))
    )
    return literal_column("todo_tasks.rowid").in_(matching)
