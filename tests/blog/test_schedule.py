"""Scheduled articles: hidden until their time, then published by the background schedule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import update

from mainspring.blog.background import PUBLISH_SCHEDULED
from mainspring.blog.models import Article
from mainspring.core.background import enqueue
from mainspring.core.background.registry import SCHEDULES
from tests.blog.writers import ARTICLES, Writers
from tests.fixtures.jobs import DrainJobs


async def test_a_scheduled_article_is_published_at_its_time(
    app: FastAPI, client: httpx.AsyncClient, writer: Writers, drain_jobs: DrainJobs
) -> None:
    assert PUBLISH_SCHEDULED in SCHEDULES  # it runs every minute on the workers
    ada = await writer("ada")
    publish_at = datetime.now(UTC) + timedelta(hours=1)
    created = await client.post(
        ARTICLES,
        json={
            "title": "Soon",
            "body": "b",
            "status": "scheduled",
            "publish_at": publish_at.isoformat(),
        },
        headers=ada.headers,
    )
    assert created.status_code == 201, created.text
    assert created.json()["published_at"] is None
    assert (await client.get(f"{ARTICLES}/soon")).status_code == 404
    assert (await client.get(ARTICLES)).json()["items"] == []

    async def run_schedule() -> None:
        async with app.state.db.session() as session:
            await enqueue(session, PUBLISH_SCHEDULED, {"slot": datetime.now(UTC).isoformat()})
        assert [outcome.status for outcome in await drain_jobs()] == ["done"]

    await run_schedule()  # too early: nothing changes
    assert (await client.get(f"{ARTICLES}/soon")).status_code == 404

    # Time passes (without sleeping): the article's moment is now a second ago.
    publish_at = datetime.now(UTC) - timedelta(seconds=1)
    async with app.state.db.session() as session:
        await session.execute(
            update(Article).where(Article.slug == "soon").values(publish_at=publish_at)
        )
    assert (await client.get(f"{ARTICLES}/soon")).status_code == 404  # still scheduled
    await run_schedule()
    article = (await client.get(f"{ARTICLES}/soon")).json()
    assert article["status"] == "published"
    assert datetime.fromisoformat(article["published_at"]) == publish_at  # its own time
    assert [item["slug"] for item in (await client.get(ARTICLES)).json()["items"]] == ["soon"]
