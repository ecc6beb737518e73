"""Full-text search on either database: the query side of a module's full-text index.

A module declares its index in its migration, one per database:

- SQLite: an FTS5 table whose rowid is the searched row's rowid, kept in step by triggers;
- PostgreSQL: a GIN index on a ``to_tsvector('simple', ...)`` expression of the row's columns.

and describes it once with a ``FullTextIndex`` (its table, the FTS5 table, the indexed
expression word for word, so that the planner uses the index). ``matches`` is the WHERE clause
(``condition`` and ``search_value`` the same, apart, for a statement built once).
Both databases see the same query: the words of the user's text (letters and digits, at most
``MAX_WORDS``), each a prefix, all required. Operators typed by the user are never passed
through, so no input can make the search engine fail with a syntax error.

(The blog's index is of another kind, stemmed English with ``websearch_to_tsquery``: see
``blog/search.py``.)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, false, literal_column, select, table, text

MAX_WORDS = 16
_WORD = re.compile(r"[^\W_]+")


def words(query: str) -> list[str]:
    """The searchable words of ``query``, lower-cased, at most ``MAX_WORDS``."""
    return [word.lower() for word in _WORD.findall(query)][:MAX_WORDS]


@dataclass(frozen=True)
class FullTextIndex:
    """One table's full-text index, as its migration created it."""

    table: str
    """The searched table, e.g. ``todo_tasks``."""
    sqlite_fts_table: str
    """Its FTS5 table (rowid = the row's rowid), e.g. ``todo_tasks_fts``."""
    postgres_document: str
    """The GIN index's expression, exactly as the migration declares it."""
    parameter: str
    """The bind parameter's name: unique in a statement that searches two indexes."""

    def matches(self, dialect: str, query: str) -> ColumnElement[bool]:
        """A WHERE clause on ``table``, true for the rows matching every word of ``query``
        (false when ``query`` has no word)."""
        value = self.search_value(dialect, query)
        if value is None:
            return false()
        return self._clause(dialect, {self.parameter: value})

    def condition(self, dialect: str) -> ColumnElement[bool]:
        """``matches`` with its value left to the bound parameter ``parameter``
        (``search_value`` gives it): for a statement built once and run with many queries."""
        return self._clause(dialect, {})

    def search_value(self, dialect: str, query: str) -> str | None:
        """The value of ``condition``'s parameter for ``query``: every word of it, each a
        prefix, in the database's syntax; None when ``query`` has no word (nothing matches)."""
        found = words(query)
        if not found:
            return None
        if dialect == "postgresql":
            return " & ".join(f"{word}:*" for word in found)
        return " ".join(f'"{word}"*' for word in found)

    def _clause(self, dialect: str, values: dict[str, str]) -> ColumnElement[bool]:
        if dialect == "postgresql":
            condition = f"{self.postgres_document} @@ to_tsquery('simple', :{self.parameter})"
            return text(condition).bindparams(**values)  # type: ignore[return-value]
        matching: Select[Any] = (
            select(literal_column("rowid"))
            .select_from(table(self.sqlite_fts_table))
            .where(text(f"{self.sqlite_fts_table} MATCH :{self.parameter}").bindparams(**values))
        )
        return literal_column(f"{self.table}.rowid").in_(matching)
