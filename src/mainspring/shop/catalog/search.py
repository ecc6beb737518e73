"""Full-text search over product names and descriptions (``core/search.py``): an FTS5 table
``shop_products_fts`` on SQLite, a GIN index ``shop_products_fts_gin`` on PostgreSQL, both
created by the migration."""

from __future__ import annotations

from mainspring.core.search import FullTextIndex

PRODUCTS = FullTextIndex(
    table="shop_products",
    sqlite_fts_table="shop_products_fts",
    postgres_document=(
        "to_tsvector('simple', shop_products.name || ' ' || shop_products.description)"
    ),
    parameter="shop_q",
)
