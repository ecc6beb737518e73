"""Full-text search over product names and descriptions, on either database.

- SQLite: an FTS5 table ``shop_products_fts`` whose rowid is the product's rowid, kept in sync
  by triggers on ``shop_products`` (created by the migration).
- PostgreSQL: a GIN index on ``to_tsvector('simple', name || ' ' || description)``; the query
  below repeats that expression word for word so that the planner uses the index.

Both see the same query: the words of the user's text (letters and digits), each a prefix, all
required. Operators typed by the user are never passed through, so no input can make the search
engine fail with a syntax error.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import ColumnElement, Select, false, literal_column, select, table, text

MAX_WORDS = 16
_WORD = re.compile(r"[^\W_]+")

SQLITE_FTS_TABLE = "shop_products_fts"
POSTGRES_DOCUMENT = "to_tsvector('simple', shop_products.name || ' ' || shop_products.description)"
"""The indexed expression, exactly as the migration's ``shop_products_fts_gin`` declares it."""


def words(query: str) -> list[str]:
    return [word.lower() for word in _WORD.findall(query)][:MAX_WORDS]


def matches(dialect: str, query: str) -> ColumnElement[bool]:
    """A WHERE clause on ``shop_products``, true for products matching every word."""
    found = words(query)
    if not found:
        return false()
    if dialect == "postgresql":
        tsquery = " & ".join(f"{word}:*" for word in found)
        return text(f"{POSTGRES_DOCUMENT} @@ to_tsquery('simple', :shop_q)").bindparams(
            shop_q=tsquery
        )  # type: ignore[return-value]
    fts_query = " ".join(f'"{word}"*' for word in found)
    matching: Select[Any] = (
        select(literal_column("rowid"))
        .select_from(table(SQLITE_FTS_TABLE))
        .where(text(f"{SQLITE_FTS_TABLE} MATCH :shop_q").bindparams(shop_q=fts_query))
    )
    return literal_column("shop_products.rowid").in_(matching)
