"""Pub/sub: in-process delivery, Redis across app instances and reconnection, after-commit."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis

from mainspring.app import create_app
from mainspring.core.config import Settings
from mainspring.core.deps import SessionDep
from mainspring.core.errors import Conflict
from mainspring.core.pubsub import (
    MemoryPubSub,
    Message,
    PubSub,
    Subscription,
    SubscriptionOverflow,
    publish_after_commit,
)
from mainspring.core.pubsub_redis import RedisPubSub
from tests.conftest import TEST_REDIS_URL, not_configured, unavailable


async def receive(subscription: Subscription, seconds: float = 5.0) -> Message:
    async with asyncio.timeout(seconds):
        return await anext(subscription)


def channel() -> str:
    """A channel of this test alone (Redis pub/sub is shared by every database number)."""
    return f"test.{uuid.uuid4().hex}"


@pytest.fixture
async def memory() -> AsyncIterator[PubSub]:
    pubsub = MemoryPubSub()
    await pubsub.start()
    try:
        yield pubsub
    finally:
        await pubsub.stop()


async def redis_apps(settings: Settings, stack: AsyncExitStack, count: int) -> list[FastAPI]:
    """``count`` app instances on the test Redis, started; stopped when ``stack`` closes."""
    if not TEST_REDIS_URL:
        not_configured("MAINSPRING_TEST_REDIS_URL is not set")
    assert TEST_REDIS_URL is not None
    try:
        async with Redis.from_url(TEST_REDIS_URL) as probe:
            await probe.ping()
    except OSError as exc:
        unavailable(f"Redis at MAINSPRING_TEST_REDIS_URL does not answer: {exc}")
    apps = []
    for _ in range(count):
        app = create_app(settings.model_copy(update={"pubsub_url": TEST_REDIS_URL}))
        await stack.enter_async_context(app.router.lifespan_context(app))
        apps.append(app)
    return apps


# --- in process ---------------------------------------------------------------------------------


async def test_in_process_delivery_by_channel(memory: PubSub) -> None:
    a, b = channel(), channel()
    async with memory.subscribe(a, b) as both, memory.subscribe(a) as only_a:
        await memory.publish(a, {"n": 1})
        await memory.publish(channel(), {"n": 2})  # nobody listens there
        await memory.publish(b, {"n": 3})
        assert await receive(both) == Message(a, {"n": 1})
        assert await receive(both) == Message(b, {"n": 3})
        assert await receive(only_a) == Message(a, {"n": 1})
        await memory.publish(a, {"n": 4})
        assert (await receive(only_a)).data == {"n": 4}
    with pytest.raises(StopAsyncIteration):
        await anext(both)  # unsubscribed: the iterator has ended


async def test_messages_travel_as_json(memory: PubSub) -> None:
    name = channel()
    async with memory.subscribe(name) as subscription:
        original: dict[str, Any] = {"items": [1, 2], "nested": {"ok": True}}
        await memory.publish(name, original)
        received = await receive(subscription)
        assert received.data == original
        assert received.data is not original  # a decoded copy, as from Redis
        with pytest.raises(TypeError):
            await memory.publish(name, {"not json": {1, 2}})


async def test_a_slow_subscriber_is_cut_off(memory: PubSub) -> None:
    name = channel()
    async with (
        memory.subscribe(name, max_pending=3) as slow,
        memory.subscribe(name) as steady,
    ):
        for n in range(4):
            await memory.publish(name, {"n": n})
        with pytest.raises(SubscriptionOverflow):
            await anext(slow)
        with pytest.raises(SubscriptionOverflow):
            await anext(slow)  # stays cut off
        assert [(await receive(steady)).data["n"] for _ in range(4)] == [0, 1, 2, 3]


async def test_subscriptions_end_when_the_service_stops() -> None:
    pubsub = MemoryPubSub()
    async with pubsub.subscribe(channel()) as subscription:
        waiting = asyncio.create_task(anext(subscription))
        await asyncio.sleep(0)
        await pubsub.stop()
        with pytest.raises(StopAsyncIteration):
            await waiting


# --- after the commit ---------------------------------------------------------------------------


@pytest.fixture
def announcing_app(app: FastAPI) -> FastAPI:
    @app.post("/_test/announce")
    async def announce(
        session: SessionDep, channel: str, n: int, fail: bool = False
    ) -> dict[str, int]:
        publish_after_commit(session, channel, {"n": n})
        publish_after_commit(session, channel, {"n": n, "second": True})
        if fail:
            raise Conflict("rolled back")
        return {"n": n}

    return app


async def test_a_rolled_back_request_publishes_nothing(
    client: httpx.AsyncClient, announcing_app: FastAPI
) -> None:
    name = channel()
    async with announcing_app.state.pubsub.subscribe(name) as subscription:
        failed = await client.post(
            "/_test/announce", params={"channel": name, "n": 1, "fail": True}
        )
        assert failed.status_code == 409
        done = await client.post("/_test/announce", params={"channel": name, "n": 2})
        assert done.status_code == 200
        # The first message to arrive is the committed request's, then its second one, in order.
        assert (await receive(subscription)).data == {"n": 2}
        assert (await receive(subscription)).data == {"n": 2, "second": True}


async def test_publish_after_commit_outside_a_request(app: FastAPI) -> None:
    name = channel()
    async with app.state.pubsub.subscribe(name) as subscription:
        async with app.state.db.session() as session:
            publish_after_commit(session, name, {"job": "done"})
        assert (await receive(subscription)).data == {"job": "done"}
        with pytest.raises(TypeError):
            async with app.state.db.session() as session:
                publish_after_commit(session, name, {"bad": object()})


# --- Redis --------------------------------------------------------------------------------------


async def test_redis_delivers_across_app_instances(settings: Settings) -> None:
    async with AsyncExitStack() as stack:
        first, second = await redis_apps(settings, stack, 2)
        assert isinstance(first.state.pubsub, RedisPubSub)
        name = channel()
        async with (
            second.state.pubsub.subscribe(name) as remote,
            first.state.pubsub.subscribe(name) as local,
        ):
            await first.state.pubsub.publish(name, {"text": "hello"})
            assert await receive(remote) == Message(name, {"text": "hello"})
            assert await receive(local) == Message(name, {"text": "hello"})


async def test_redis_listener_reconnects_and_resubscribes(settings: Settings) -> None:
    async with AsyncExitStack() as stack:
        publisher, listener = await redis_apps(settings, stack, 2)
        pubsub: RedisPubSub = listener.state.pubsub
        admin = await stack.enter_async_context(Redis.from_url(str(TEST_REDIS_URL)))
        name = channel()
        async with pubsub.subscribe(name) as subscription:
            killed = await _listener_ids(admin, pubsub.client_name)
            assert len(killed) == 1
            assert await admin.client_kill_filter(_id=killed[0]) == 1

            # Published while the listener reconnects, a message may be lost (at most once);
            # keep publishing until one arrives through the new connection.
            async with asyncio.timeout(5):
                n = 0
                while True:
                    n += 1
                    await publisher.state.pubsub.publish(name, {"n": n})
                    try:
                        message = await receive(subscription, seconds=0.1)
                    except TimeoutError:
                        continue
                    break
            assert message.channel == name
            assert 1 <= message.data["n"] <= n
            renewed = await _listener_ids(admin, pubsub.client_name)
            assert len(renewed) == 1
            assert renewed != killed

            ready = await _readyz(listener)
            assert ready["checks"]["pubsub"]["status"] == "ok"


async def test_readyz_reports_the_redis_backend_only(settings: Settings) -> None:
    memory_app = create_app(settings.model_copy(update={"pubsub_url": "memory://"}))
    async with memory_app.router.lifespan_context(memory_app):
        assert "pubsub" not in (await _readyz(memory_app))["checks"]
    broken = create_app(settings.model_copy(update={"pubsub_url": "redis://127.0.0.1:1/0"}))
    async with broken.router.lifespan_context(broken):
        report = await _readyz(broken)
        assert report["status"] == "unready"
        assert report["checks"]["pubsub"]["status"] == "fail"


async def _listener_ids(admin: Redis, name: str) -> list[str]:
    clients = await admin.client_list(_type="pubsub")
    return [client["id"] for client in clients if client["name"] == name]


async def _readyz(app: FastAPI) -> dict[str, Any]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        report: dict[str, Any] = (await client.get("/readyz")).json()
    return report
