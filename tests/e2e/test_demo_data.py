"""`mainspring seed --demo`: realistic data every module can serve, and accounts that work."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import text

from mainspring import seed
from mainspring.core.config import Settings
from mainspring.core.db import Database


async def test_demo_data_is_served_by_every_module(
    settings: Settings, client: httpx.AsyncClient
) -> None:
    accounts = await seed.seed_demo(settings, size=1)
    assert [a.username for a in accounts] == ["demo", "moderator", "chief"]
    assert not await seed.database_is_empty(settings)

    login = await client.post(
        "/api/v1/auth/login", json={"identifier": "demo", "password": seed.DEMO_PASSWORD}
    )
    assert login.status_code == 200, login.text
    auth = {"Authorization": f"Bearer {login.json()['access_token']}"}

    articles = (await client.get("/api/v1/articles", params={"limit": 5})).json()
    assert len(articles["items"]) == 5
    assert (await client.get("/api/v1/tags")).json()
    timeline = await client.get("/api/v1/timeline", headers=auth)
    assert timeline.status_code == 200, timeline.text
    assert timeline.json()["items"]
    projects = await client.get("/api/v1/projects", headers=auth)
    assert projects.status_code == 200, projects.text
    assert projects.json()["total"] >= 1


async def test_the_demo_data_leaves_postgresql_with_statistics(settings: Settings) -> None:
    """A bulk load leaves tables the planner believes empty until autovacuum comes by; the
    seed measures them itself (`Database.refresh_statistics`)."""
    if not settings.database_url.startswith("postgresql"):
        pytest.skip("SQLite keeps no statistics unless asked, and the seed does not ask")
    database = Database(settings)

    async def analyses() -> int:
        async with database.session() as session:
            count = await session.scalar(
                text("SELECT analyze_count FROM pg_stat_user_tables WHERE relname = 'posts'")
            )
        return int(count or 0)

    try:
        before = await analyses()
        await seed.seed_demo(settings, size=1)
        assert await analyses() == before + 1
    finally:
        await database.dispose()
