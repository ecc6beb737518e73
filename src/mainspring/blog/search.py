"""Full-text search over articles' title, description and body, on each database's own engine.

- SQLite: ``articles_fts``, a contentless FTS5 table (porter stemmer over unicode61) that
  triggers keep in step with ``articles``; its integer rowids are mapped to article ids by
  ``articles_fts_keys``. A user's words are quoted one by one before they reach ``MATCH``, so
  FTS5 operators or a stray quote in a query are searched for, never parsed (a syntax error there
  would fail the request).
- PostgreSQL: a GIN index on ``to_tsvector('english', title || ' ' || description || ' ' ||
  body)``. The condition below repeats that expression word for word, with the configuration as
  a literal: the planner uses an expression index only for the very same expression.
  ``websearch_to_tsquery`` accepts anything a user types (quotes, ``-word``, ``or``).

Both are created by the migration (``migrations/versions/20261121_0004_blog.py``).
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import (
    ColumnClause,
    ColumnElement,
    column,
    false,
    func,
    literal_column,
    select,
    table,
)

from mainspring.blog.models import Article

FTS_TABLE = "articles_fts"
QUERY_MAX = 200

_WORDS = re.compile(r"\w+")

# The indexed document; the migration's ``ix_articles_search`` holds the same expression.
PG_DOCUMENT: ColumnClause[Any] = literal_column(
    "to_tsvector('english'::regconfig, "
    "articles.title || ' ' || articles.description || ' ' || articles.body)"
)

_fts = table(FTS_TABLE, column("rowid"), column(FTS_TABLE))
_fts_keys = table(f"{FTS_TABLE}_keys", column("rowid"), column("article_id"))


def fts5_query(text: str) -> str | None:
    """A user's words as an FTS5 query matching articles that contain all of them.

    ``C++ "rust`` becomes ``"C" "rust"``: every word quoted, operators dropped. None when
    nothing searchable is left.
    """
    words = _WORDS.findall(text)
    return " ".join(f'"{word}"' for word in words) or None


def matches(dialect: str, text: str) -> ColumnElement[bool]:
    """The WHERE condition selecting articles that match the search ``text``."""
    if dialect == "postgresql":
        query = func.websearch_to_tsquery(literal_column("'english'::regconfig"), text)
        return PG_DOCUMENT.bool_op("@@")(query)
    expression = fts5_query(text)
    if expression is None:
        return false()
    rowids = select(_fts.c.rowid).where(_fts.c[FTS_TABLE].match(expression))
    ids = select(_fts_keys.c.article_id).where(_fts_keys.c.rowid.in_(rowids))
    return Article.id.in_(ids)
