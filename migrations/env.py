"""Alembic environment: async engines from Mainspring's settings, batch mode for SQLite."""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import Connection

from mainspring.core.config import Settings
from mainspring.core.db import JSONDocument, create_engine
from mainspring.core.migrations import object_filter
from mainspring.models import metadata

config = context.config
settings: Settings = config.attributes.get("settings") or Settings()


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """Render Mainspring's JSON column type by name instead of its dialect variants."""
    if type_ == "type" and obj is JSONDocument:
        autogen_context.imports.add("import mainspring.core.db")
        return "mainspring.core.db.JSONDocument"
    return False


def run_migrations_offline() -> None:
    """Emit SQL to stdout (``alembic upgrade --sql``) instead of running it."""
    context.configure(
        url=settings.database_url,
        target_metadata=metadata,
        literal_binds=True,
        render_as_batch=settings.is_sqlite,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        render_item=render_item,
        include_object=object_filter(metadata),
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_migrations_online() -> None:
    # No statement timeout: a schema change may rightly take longer than a request.
    engine = create_engine(settings.database_url, settings, statement_timeout_ms=0)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    asyncio.run(run_migrations_online())
