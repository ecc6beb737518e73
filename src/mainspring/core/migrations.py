"""Alembic driven from code: ``upgrade`` to head, ``pending_changes`` (models vs. migrations)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, MetaData

from mainspring.core.config import Settings
from mainspring.core.db import UNMANAGED_KEY

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


def object_filter(metadata: MetaData) -> Callable[..., bool]:
    """Alembic's ``include_object`` for ``metadata``: leave out the hand-made objects that the
    modules named with ``core.db.register_unmanaged``."""
    prefixes: set[str] = metadata.info.get(UNMANAGED_KEY, set())

    def include_object(
        obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
    ) -> bool:
        unmanaged = name is not None and any(name.startswith(p) for p in prefixes)
        return not (reflected and compare_to is None and unmanaged)

    return include_object


def pending_changes(connection: Connection, metadata: MetaData) -> list[Any]:
    """What autogenerate would add to a new migration for ``metadata`` (every model's, which the
    application assembles in ``mainspring.models``): empty when models and migrations agree."""
    context = MigrationContext.configure(
        connection,
        opts={
            "compare_type": True,
            "render_as_batch": True,
            "include_object": object_filter(metadata),
        },
    )
    return list(compare_metadata(context, metadata))
