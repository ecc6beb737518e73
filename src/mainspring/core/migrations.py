"""Alembic driven from code: ``upgrade`` to head, ``pending_changes`` (models vs. migrations)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection

from mainspring.core.config import Settings

PROJECT_ROOT = Path(__file__).resolve().parents[3]
MIGRATIONS_DIR = PROJECT_ROOT / "migrations"


def alembic_config(settings: Settings) -> Config:
    """An Alembic config for ``settings``' database (``migrations/env.py`` reads its URL)."""
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["settings"] = settings
    return config


def upgrade(settings: Settings, revision: str = "heads") -> None:
    """Migrate the database to ``revision`` (default: every head, as modules may branch).

    Synchronous: call it outside the event loop."""
    command.upgrade(alembic_config(settings), revision)


def downgrade(settings: Settings, revision: str) -> None:
    command.downgrade(alembic_config(settings), revision)


def unmanaged(name: str | None) -> bool:
    """Whether a database object is created by hand in a migration, outside the models.

    Full-text search tables (SQLite FTS5 and its shadow tables), triggers and expression indexes
    cannot be declared as SQLAlchemy models; a module registers their name prefixes with
    ``register_unmanaged("articles_fts")`` so that autogenerate neither drops nor re-creates them.
    """
    return name is not None and any(name.startswith(p) for p in UNMANAGED_PREFIXES)


UNMANAGED_PREFIXES: set[str] = set()


def register_unmanaged(*prefixes: str) -> None:
    UNMANAGED_PREFIXES.update(prefixes)


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Alembic's filter: leave out the hand-made objects of ``register_unmanaged``."""
    return not (reflected and compare_to is None and unmanaged(name))


def pending_changes(connection: Connection) -> list[Any]:
    """What autogenerate would add to a new migration: empty when models and migrations agree."""
    from mainspring.models import metadata

    context = MigrationContext.configure(
        connection,
        opts={"compare_type": True, "render_as_batch": True, "include_object": include_object},
    )
    return list(compare_metadata(context, metadata))
