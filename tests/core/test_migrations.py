"""Migrations: an empty database migrates to head, and the models match the migrations."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect, text

from mainspring.core import migrations
from mainspring.core.config import Settings
from mainspring.core.db import create_engine
from mainspring.models import metadata
from tests.conftest import make_settings


async def _drift_and_tables(settings: Settings) -> tuple[list[object], set[str], set[str]]:
    engine = create_engine(settings.database_url, settings)
    try:
        async with engine.connect() as conn:
            drift = await conn.run_sync(migrations.pending_changes, metadata)
            tables = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
            versions = set(
                (await conn.scalars(text("SELECT version_num FROM alembic_version"))).all()
            )
    finally:
        await engine.dispose()
    return drift, tables, versions


def _heads() -> set[str]:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(migrations.alembic_config(make_settings("sqlite://")))
    return set(script.get_heads())


async def test_models_and_migrations_agree(settings: Settings) -> None:
    """The session database was migrated from empty (SQLite, or PostgreSQL in CI) at start-up."""
    drift, tables, versions = await _drift_and_tables(settings)
    assert drift == [], f"models differ from migrations; write a migration: {drift}"
    assert {t.name for t in metadata.sorted_tables} <= tables
    assert versions == _heads()


def test_upgrade_downgrade_upgrade_on_a_fresh_sqlite_file(tmp_path: Path) -> None:
    settings = make_settings(f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}")
    migrations.upgrade(settings)
    migrations.downgrade(settings, "base")
    migrations.upgrade(settings)
    import asyncio

    drift, tables, versions = asyncio.run(_drift_and_tables(settings))
    assert drift == []
    assert "kernel_jobs" in tables
    assert versions == _heads()
