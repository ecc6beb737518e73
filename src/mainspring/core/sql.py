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

import orjson
from sqlalchemy import ARRAY, ColumnElement, Dialect, String, any_, bindparam, func, select
from sqlalchemy.types import TypeDecorator


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

    The list is one parameter, so the statement's text is the same for any number of values:
    nothing is rendered per execution. An expanding ``IN`` is rendered again with one parameter
    per value on every execution (on PostgreSQL with a cast each: a fifth of a signed-in page's
    CPU for 40 ids; on SQLite 7 %; docs/performance.md, "Id lists as one parameter").

    - PostgreSQL: ``column = ANY(:name)``, the list sent as an array (one prepared statement).
    - SQLite: ``column IN (SELECT value FROM json_each(:name))``, the list sent as a JSON array
      of the values as the column stores them (``JSONList``); SQLite reads the list once and
      searches the column's index for each value, as for an ``IN`` list. The JSON functions
      are SQLite's own (built in since 3.38; the shop's catalogue filters use them too).

    For lookups by key (the ids of a page's rows). Not for filters whose selectivity decides
    the plan: PostgreSQL estimates ``= ANY(array)`` without seeing the values of a prepared
    statement's generic plan, and the task list's filters ran 16 % slower with it."""
    result: ColumnElement[bool]
    if dialect == "postgresql":
        result = column == any_(bindparam(name, type_=ARRAY(column.type)))
    else:
        values = func.json_each(bindparam(name, type_=JSONList(column.type))).table_valued("value")
        result = column.in_(select(values.c.value))
    return result


class JSONList(TypeDecorator[list[Any]]):
    """A list bound as one JSON array (text), each value as ``item_type`` binds it on SQLite
    (a UUID as its 32 hex digits): what ``json_each`` reads in ``one_of``."""

    impl = String
    cache_ok = True

    def __init__(self, item_type: Any) -> None:
        super().__init__()
        self.item_type = item_type

    def process_bind_param(self, value: list[Any] | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        bind = self.item_type.dialect_impl(dialect).bind_processor(dialect)
        items = value if bind is None else [bind(item) for item in value]
        return orjson.dumps(items).decode()
