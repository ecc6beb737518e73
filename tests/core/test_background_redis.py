"""Background work on Redis streams: job ids announced after commit, acknowledged after the run.

Needs MAINSPRING_TEST_REDIS_URL (skipped without it on a laptop, a failure in CI). Each test
uses a queue of its own, hence a stream of its own, deleted afterwards.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import httpx
import pytest
import redis
from fastapi import FastAPI
from redis.asyncio import Redis

from mainspring.core.background import Background, JobContext, Worker, enqueue, task
from mainspring.core.background.streams import CONSUMER_GROUP, stream_key
from mainspring.core.config import Settings
from mainspring.core.db import Database
from mainspring.core.deps import SessionDep
from mainspring.core.errors import Conflict
from tests.conftest import TEST_REDIS_URL, not_configured, unavailable

RAN: list[tuple[int, int]] = []


@task("tests.redis.record")
async def record(ctx: JobContext, payload: dict[str, Any]) -> None:
    RAN.append((payload["n"], ctx.attempt))


@pytest.fixture
def redis_url() -> str:
    if not TEST_REDIS_URL:
        not_configured("MAINSPRING_TEST_REDIS_URL is not set: the Redis broker is not tested")
    assert TEST_REDIS_URL is not None
    try:
        redis.Redis.from_url(TEST_REDIS_URL, socket_timeout=2).ping()
    except (redis.ConnectionError, OSError) as exc:
        unavailable(f"Redis at MAINSPRING_TEST_REDIS_URL does not answer: {exc}")
    return TEST_REDIS_URL


@pytest.fixture
def settings(settings: Settings, redis_url: str) -> Settings:
    """Redis streams; a poll so slow that only the stream can deliver within a test."""
    return settings.model_copy(
        update={"broker_url": redis_url, "job_poll_seconds": 60, "job_lease_seconds": 5}
    )


@pytest.fixture
def queue() -> Iterator[str]:
    RAN.clear()
    yield f"test-{uuid.uuid4().hex[:12]}"
    RAN.clear()


@pytest.fixture
async def stream(redis_url: str, queue: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    try:
        yield client
    finally:
        await client.delete(stream_key(queue))
        await client.aclose()


@pytest.fixture
def routes(app: FastAPI, queue: str) -> FastAPI:
    @app.post("/_test/redis-jobs", status_code=201)
    async def create(session: SessionDep, n: int, fail: bool = False) -> dict[str, str]:
        job_id = await enqueue(session, "tests.redis.record", {"n": n}, queue=queue)
        if fail:
            raise Conflict("the request fails after enqueueing")
        return {"job_id": str(job_id)}

    return app


async def _eventually(check: Callable[[], Awaitable[bool]]) -> None:
    deadline = time.monotonic() + 15
    while not await check():
        assert time.monotonic() < deadline, "the condition did not become true in time"
        await asyncio.sleep(0.05)


async def _pending(stream: Redis, queue: str) -> int:
    summary = await stream.xpending(stream_key(queue), CONSUMER_GROUP)
    return int(summary["pending"])


async def test_only_committed_jobs_are_announced_on_the_stream(
    client: httpx.AsyncClient, routes: FastAPI, queue: str, stream: Redis
) -> None:
    background: Background = routes.state.background
    assert background.stream is not None
    async with background.stream.consume([queue], consumer="test", batch=1) as deliveries:
        rolled_back = await client.post("/_test/redis-jobs", params={"n": 1, "fail": True})
        assert rolled_back.status_code == 409
        committed = await client.post("/_test/redis-jobs", params={"n": 2})
        job_id = uuid.UUID(committed.json()["job_id"])

        delivery = await asyncio.wait_for(anext(deliveries), 10)
        assert delivery.job_id == job_id
        assert await stream.xlen(stream_key(queue)) == 1  # nothing for the rolled-back one
        assert await _pending(stream, queue) == 1
        await delivery.ack()
        assert await _pending(stream, queue) == 0


async def test_a_worker_runs_announced_jobs_and_acknowledges_them(
    client: httpx.AsyncClient, routes: FastAPI, queue: str, stream: Redis
) -> None:
    worker = Worker(routes.state.background, queues=[queue], concurrency=2, schedules=())
    await worker.start()
    try:

        async def listening() -> bool:  # the worker created the stream's consumer group
            if not await stream.exists(stream_key(queue)):
                return False
            return bool(await stream.xinfo_groups(stream_key(queue)))

        await _eventually(listening)
        for n in (1, 2, 3):
            assert (await client.post("/_test/redis-jobs", params={"n": n})).status_code == 201

        async def ran_and_acknowledged() -> bool:
            return sorted(RAN) == [(1, 1), (2, 1), (3, 1)] and await _pending(stream, queue) == 0

        await _eventually(ran_and_acknowledged)  # the poll sleeps 60 s: the stream delivered
    finally:
        await worker.stop(grace=5)
    assert await stream.xinfo_consumers(stream_key(queue), CONSUMER_GROUP) == []  # it left


async def test_a_job_whose_announcement_was_lost_still_runs(
    client: httpx.AsyncClient, routes: FastAPI, settings: Settings, queue: str, stream: Redis
) -> None:
    assert (await client.post("/_test/redis-jobs", params={"n": 9})).status_code == 201
    await stream.xtrim(stream_key(queue), maxlen=0)  # the message is gone; the row is not
    polling = settings.model_copy(update={"job_poll_seconds": 0.05})
    database = Database(polling)
    worker = Worker(Background(polling, database), queues=[queue], schedules=())
    await worker.start()
    try:

        async def ran() -> bool:
            return RAN == [(9, 1)]

        await _eventually(ran)
    finally:
        await worker.stop(grace=5)
        await database.dispose()


async def test_readyz_reports_the_redis_broker(client: httpx.AsyncClient) -> None:
    body = (await client.get("/readyz")).json()
    assert body["checks"]["broker:redis"]["status"] == "ok"
