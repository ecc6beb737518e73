"""SQL that each database spells its own way, behind one call for every module.

- ``dialect_insert(dialect, table)``: ``INSERT`` with ``ON CONFLICT`` (``DO NOTHING`` /
  ``DO UPDATE``), which SQLite and PostgreSQL share in meaning but not in construct.
- ``one_of(column, name, dialect)``: "``column`` is one of the list bound as ``name``".

Neither imports ``sqlalchemy.dialects.postgresql`` unless asked for PostgreSQL (``one_of``
needs only SQLAlchemy's generic ``ARRAY``), so that a SQLite process never loads that dialect
(about 4 MiB; ``tests/core/test_startup.py`` guards it).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ARRAY, ColumnElement, any_, bindparam


def dialect_insert(dialect: str, table: Any) -> Any:
    """``INSERT INTO table`` in the named dialect, with its ``ON CONFLICT`` clauses.

    ``on_conflict_do_nothing`` / ``on_conflict_do_update`` exist on SQLite and PostgreSQL with
    the same meaning. PostgreSQL's construct is imported here, by its first use, so that a
    SQLite process never imports the PostgreSQL dialect (about 4 MiB).
    """
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        return postgresql_insert(table)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table)


def one_of(column: Any, name: str, dialect: str) -> ColumnElement[bool]:
    """``column`` is one of the values bound as ``name`` (a list), in a statement built once.

    On PostgreSQL: ``column = ANY(:name)``, the list sent as one array parameter, so the
    statement's text is the same for any number of values (one prepared statement, nothing
    rendered per execution). Elsewhere: an expanding ``IN``, which SQLAlchemy renders with one
    parameter per value on every execution (on PostgreSQL, with a cast each: a fifth of a
    signed-in page's CPU for 40 ids; docs/performance.md, "Id lists as one parameter").

    For lookups by key (the ids of a page's rows). Not for filters whose selectivity decides
    the plan: PostgreSQL estimates ``= ANY(array)`` without seeing the values of a prepared
    statement's generic plan, and the task list's filters ran 16 % slower with it."""
    result: ColumnElement[bool]
    if dialect == "postgresql":
        result = column == any_(bindparam(name, type_=ARRAY(column.type)))
    else:
        result = column.in_(bindparam(name, expanding=True))
    return result
