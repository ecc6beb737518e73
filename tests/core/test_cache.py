"""The cache on each backend: hits and misses, JSON values, TTLs, the stampede lock, tags,
two replicas sharing one Redis, and a Redis outage that still answers."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis

from mainspring.app import create_app
from mainspring.core.cache import (
    TAG_PREFIX,
    Cache,
    CachedBytes,
    CacheDep,
)
from mainspring.core.cache_commit import invalidate_after_commit
from mainspring.core.cache_entries import UNKNOWN
from mainspring.core.config import Settings
from mainspring.core.db import Database
from tests.conftest import TEST_REDIS_URL, not_configured, unavailable

# Marked at collection (not only by conftest's auto-marking, which runs later): anyio would
# otherwise re-create the async tests for its backend and drop their own parameters.
pytestmark = pytest.mark.anyio

ON_EACH_BACKEND = pytest.mark.parametrize("backend", ["memory", "redis"])
UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1


class Loader:
    """A loader that counts its calls and takes ``delay`` seconds, like a slow query."""

    def __init__(self, value: Any = None, *, delay: float = 0.0) -> None:
        self.value = value
        self.delay = delay
        self.calls = 0

    async def __call__(self) -> Any:
        self.calls += 1
        await asyncio.sleep(self.delay)
        return self.value


@pytest.fixture
def kind() -> str:
    """A key prefix unique to the test: entries left in Redis by other runs never match."""
    return f"test{uuid.uuid4().hex[:12]}"


async def redis_url() -> str:
    if not TEST_REDIS_URL:
        not_configured("MAINSPRING_TEST_REDIS_URL is not set")
    assert TEST_REDIS_URL
    client = Redis.from_url(TEST_REDIS_URL)
    try:
        await client.ping()
    except OSError as exc:
        unavailable(f"Redis at MAINSPRING_TEST_REDIS_URL does not answer: {exc}")
    finally:
        await client.aclose()
    return TEST_REDIS_URL


@asynccontextmanager
async def running(settings: Settings, cache_url: str) -> AsyncIterator[FastAPI]:
    app = create_app(settings.model_copy(update={"cache_url": cache_url}))

    @app.get("/_test/cached/{name}")
    async def cached(name: str, cache: CacheDep) -> dict[str, Any]:
        async def load() -> dict[str, Any]:
            return {"name": name, "loaded_at": datetime.now(UTC)}

        value: dict[str, Any] = await cache.get_or_set(f"{name}:page", load, ttl=60)
        return value

    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def cache_app(backend: str, settings: Settings) -> AsyncIterator[FastAPI]:
    """An app with its cache on each backend: in process, then Redis when the run has one."""
    url = "mem://" if backend == "memory" else await redis_url()
    async with running(settings, url) as app:
        yield app


@pytest.fixture
def cache(cache_app: FastAPI) -> Cache:
    cache: Cache = cache_app.state.cache
    return cache


@pytest.fixture
async def unreachable_app(settings: Settings) -> AsyncIterator[FastAPI]:
    """An app whose Redis is down (created in a fixture, so caplog sees its logs)."""
    async with running(settings, UNREACHABLE_REDIS) as app:
        yield app


def client_for(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


@ON_EACH_BACKEND
async def test_a_miss_loads_and_a_hit_does_not(cache: Cache, kind: str) -> None:
    loader = Loader({"title": "Hello"})
    assert await cache.get(f"{kind}:1", "absent") == "absent"
    assert await cache.get_or_set(f"{kind}:1", loader, ttl=60) == {"title": "Hello"}
    assert await cache.get_or_set(f"{kind}:1", loader, ttl=60) == {"title": "Hello"}
    assert await cache.get(f"{kind}:1") == {"title": "Hello"}
    assert loader.calls == 1


@ON_EACH_BACKEND
async def test_values_are_json_whether_hit_or_miss(cache: Cache, kind: str) -> None:
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    loader = Loader({"tags": ("a", "b"), "at": when})
    missed = await cache.get_or_set(f"{kind}:doc", loader, ttl=60)
    hit = await cache.get_or_set(f"{kind}:doc", loader, ttl=60)
    assert missed == hit == {"tags": ["a", "b"], "at": "2026-01-02T03:04:05+00:00"}

    await cache.set(f"{kind}:nothing", None, ttl=60)  # None is a value, not an absence
    assert await cache.get(f"{kind}:nothing", "absent") is None

    with pytest.raises(TypeError):
        await cache.set(f"{kind}:object", object(), ttl=60)
    with pytest.raises(ValueError, match="TTL"):
        await cache.set(f"{kind}:forever", 1, ttl=0)


@ON_EACH_BACKEND
async def test_entries_expire_after_their_ttl(cache: Cache, kind: str) -> None:
    loader = Loader("fresh")
    await cache.get_or_set(f"{kind}:short", loader, ttl=0.3)
    assert await cache.get(f"{kind}:short") == "fresh"
    await asyncio.sleep(0.45)
    assert await cache.get(f"{kind}:short", "expired") == "expired"
    await cache.get_or_set(f"{kind}:short", loader, ttl=0.3)
    assert loader.calls == 2


@ON_EACH_BACKEND
async def test_set_and_delete(cache: Cache, kind: str) -> None:
    await cache.set(f"{kind}:k", {"n": 1}, ttl=60)
    assert await cache.get(f"{kind}:k") == {"n": 1}
    await cache.delete(f"{kind}:k")
    assert await cache.get(f"{kind}:k", "gone") == "gone"


@ON_EACH_BACKEND
async def test_several_keys_are_read_in_one_round_trip(
    cache: Cache, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    await cache.set(f"{kind}:a", {"n": 1}, ttl=60)
    await cache.set(f"{kind}:tagged", [1, 2], ttl=60, tags=[f"{kind}-tag"])
    reads: list[tuple[str, ...]] = []
    backend = cache._backend
    read = backend.get_many

    async def counted(*keys: str) -> tuple[bytes | None, ...]:
        reads.append(keys)
        return await read(*keys)

    monkeypatch.setattr(backend, "get_many", counted)

    assert await cache.get_many(f"{kind}:a", f"{kind}:none", default="absent") == [
        {"n": 1},
        "absent",
    ]
    assert len(reads) == 1  # one MGET with Redis, where two gets are two round trips
    # An entry kept under tags is checked against them, as `get` checks it.
    assert await cache.get_many(f"{kind}:tagged", f"{kind}:a") == [[1, 2], {"n": 1}]
    await cache.invalidate_tags(f"{kind}-tag")
    assert await cache.get_many(f"{kind}:tagged", f"{kind}:a") == [None, {"n": 1}]


@ON_EACH_BACKEND
async def test_a_stampede_runs_the_loader_once(cache: Cache, kind: str) -> None:
    loader = Loader({"expensive": True}, delay=0.1)
    results = await asyncio.gather(
        *(cache.get_or_set(f"{kind}:hot", loader, ttl=60) for _ in range(20))
    )
    assert loader.calls == 1
    assert results == [{"expensive": True}] * 20


@ON_EACH_BACKEND
async def test_a_failing_loader_fails_its_waiters_and_is_not_cached(
    cache: Cache, kind: str
) -> None:
    calls = 0

    async def broken() -> Any:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)
        raise LookupError("the database said no")

    results = await asyncio.gather(
        *(cache.get_or_set(f"{kind}:bad", broken, ttl=60) for _ in range(5)),
        return_exceptions=True,
    )
    assert calls == 1
    assert all(isinstance(result, LookupError) for result in results)
    assert await cache.get_or_set(f"{kind}:bad", Loader("recovered"), ttl=60) == "recovered"


@ON_EACH_BACKEND
async def test_invalidating_a_tag_drops_its_entries_only(cache: Cache, kind: str) -> None:
    await cache.set(f"{kind}:article", "body", ttl=60, tags=[f"{kind}:article:1"])
    await cache.set(
        f"{kind}:feed", ["1", "2"], ttl=60, tags=[f"{kind}:article:1", f"{kind}:article:2"]
    )
    await cache.set(f"{kind}:other", "other body", ttl=60, tags=[f"{kind}:article:2"])
    await cache.set(f"{kind}:untagged", "plain", ttl=60)

    await cache.invalidate_tags(f"{kind}:article:1")
    await cache.invalidate_tags()  # nothing to do, and no error that would stop the cache

    assert await cache.get(f"{kind}:article") is None
    assert await cache.get(f"{kind}:feed") is None
    assert await cache.get(f"{kind}:other") == "other body"
    assert await cache.get(f"{kind}:untagged") == "plain"
    await cache.set(f"{kind}:article", "new body", ttl=60, tags=[f"{kind}:article:1"])
    assert await cache.get(f"{kind}:article") == "new body"


@ON_EACH_BACKEND
async def test_an_invalidation_during_the_load_makes_the_value_stale(
    cache: Cache, kind: str
) -> None:
    tag = f"{kind}:article:1"

    async def load_while_someone_edits() -> str:
        await cache.invalidate_tags(tag)  # committed after our read, before our write
        return "read before the edit"

    assert await cache.get_or_set(f"{kind}:a", load_while_someone_edits, ttl=60, tags=[tag]) == (
        "read before the edit"
    )
    assert await cache.get(f"{kind}:a", "stale") == "stale"


@ON_EACH_BACKEND
async def test_lookups_are_counted_and_redis_is_checked(
    cache_app: FastAPI, kind: str, backend: str
) -> None:
    cache: Cache = cache_app.state.cache
    await cache.get_or_set(f"{kind}:1", Loader(1), ttl=60)
    await cache.get_or_set(f"{kind}:1", Loader(1), ttl=60)
    await cache.get(f"{kind}:1")
    async with client_for(cache_app) as client:
        metrics = (await client.get("/metrics")).text
        checks = (await client.get("/readyz")).json()["checks"]
    assert f'mainspring_cache_lookups_total{{name="{kind}",result="miss"}} 1.0' in metrics
    assert f'mainspring_cache_lookups_total{{name="{kind}",result="hit"}} 2.0' in metrics
    if backend == "redis":
        assert checks["cache"]["status"] == "ok"
    else:
        assert "cache" not in checks  # the memory backend has nothing to check


async def test_two_instances_share_entries_and_invalidations(settings: Settings, kind: str) -> None:
    url = await redis_url()
    async with running(settings, url) as one, running(settings, url) as two:
        first: Cache = one.state.cache
        second: Cache = two.state.cache
        tag = f"{kind}:article:1"
        loader = Loader({"v": 1})
        assert await first.get_or_set(f"{kind}:a", loader, ttl=60, tags=[tag]) == {"v": 1}
        assert await second.get_or_set(f"{kind}:a", loader, ttl=60, tags=[tag]) == {"v": 1}
        assert loader.calls == 1

        await second.invalidate_tags(tag)
        assert await first.get(f"{kind}:a", "stale") == "stale"

        await first.set(f"{kind}:b", "set on one", ttl=60)
        assert await second.get(f"{kind}:b") == "set on one"
        await second.delete(f"{kind}:b")
        assert await first.get(f"{kind}:b", "deleted") == "deleted"

        # A stampede over two replicas: one computes, the other waits on the Redis lock.
        slow = Loader("computed once", delay=0.2)
        results = await asyncio.gather(
            *(cache.get_or_set(f"{kind}:hot", slow, ttl=60) for cache in [first, second] * 10)
        )
        assert slow.calls == 1
        assert set(results) == {"computed once"}


async def test_a_redis_outage_is_a_miss_not_an_error(
    unreachable_app: FastAPI, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("WARNING", logger="mainspring.cache")
    cache: Cache = unreachable_app.state.cache
    async with client_for(unreachable_app) as client:
        first = await client.get(f"/_test/cached/{kind}")
        second = await client.get(f"/_test/cached/{kind}")
        ready = await client.get("/readyz")
        metrics = (await client.get("/metrics")).text

    assert first.status_code == second.status_code == 200
    assert first.json()["name"] == kind
    assert first.json()["loaded_at"] != second.json()["loaded_at"]  # nothing could be cached
    # Writes and invalidations are skipped without an error either.
    await cache.set(f"{kind}:x", 1, ttl=60, tags=["t"])
    await cache.invalidate_tags("t")
    await cache.delete(f"{kind}:x")
    assert await cache.get(f"{kind}:x", "miss") == "miss"
    assert await cache.get_many(f"{kind}:x", f"{kind}:y", default="miss") == ["miss", "miss"]

    warnings = [
        r.msg
        for r in caplog.records
        if isinstance(r.msg, dict) and r.msg.get("event") == "cache_backend_unavailable"
    ]
    assert len(warnings) == 1  # logged once, not once per lookup
    assert warnings[0]["error"] == "ConnectionError"
    assert ready.status_code == 503
    assert ready.json()["checks"]["cache"]["status"] == "fail"
    assert "mainspring_cache_backend_errors_total" in metrics


@ON_EACH_BACKEND
async def test_bytes_entries_keep_their_bytes_meta_and_a_version_per_tag_state(
    cache: Cache, kind: str
) -> None:
    body = b'{"items": ["a\\nb"]}\n and a raw newline, kept as it is'
    calls = 0

    async def load() -> CachedBytes:
        nonlocal calls
        calls += 1
        return CachedBytes(body, {"next_cursor": f"c{calls}"})

    tag = f"{kind}:list"
    missed = await cache.get_or_set_bytes(f"{kind}:page", load, ttl=60, tags=[tag])
    hit = await cache.get_or_set_bytes(f"{kind}:page", load, ttl=60, tags=[tag])
    assert (missed.body, missed.meta) == (hit.body, hit.meta) == (body, {"next_cursor": "c1"})
    assert missed.version == hit.version
    assert hit.version.startswith('W/"')
    assert calls == 1
    assert await cache.get(f"{kind}:page", "absent") == "absent"  # JSON entries are apart

    await cache.invalidate_tags(tag)
    fresh = await cache.get_or_set_bytes(f"{kind}:page", load, ttl=60, tags=[tag])
    assert (fresh.meta, calls) == ({"next_cursor": "c2"}, 2)
    assert fresh.version != hit.version  # a new state of the tag, a new version


@ON_EACH_BACKEND
async def test_invalidations_wait_for_the_commit_and_a_rollback_drops_them(
    cache_app: FastAPI, kind: str
) -> None:
    cache: Cache = cache_app.state.cache
    database: Database = cache_app.state.db
    tag = f"{kind}:article"
    await cache.set(f"{kind}:a", "cached", ttl=60, tags=[tag])

    async def failing_request() -> None:
        async with database.session() as session:
            invalidate_after_commit(session, tag)
            raise RuntimeError("the request failed: its transaction rolls back")

    with pytest.raises(RuntimeError):
        await failing_request()
    assert await cache.get(f"{kind}:a") == "cached"

    async with database.session() as session:
        invalidate_after_commit(session, tag)
        assert await cache.get(f"{kind}:a") == "cached"  # not before the commit
    assert await cache.get(f"{kind}:a") is None  # stale as soon as the commit returned

    await cache.set(f"{kind}:a", "cached", ttl=60, tags=[tag])
    apart = Database(cache_app.state.settings)  # a script's database: no cache installed
    try:
        async with apart.session() as session:
            invalidate_after_commit(session, tag)
    finally:
        await apart.dispose()
    assert await cache.get(f"{kind}:a") == "cached"


async def _until(condition: Any, what: str) -> None:
    """Wait (at most 2 s) for ``condition()``: a message on another connection is in flight."""
    for _ in range(200):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"still not {what} after 2 s")


async def test_each_process_keeps_the_tag_versions_and_redis_says_when_they_change(
    settings: Settings, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = await redis_url()
    async with running(settings, url) as one, running(settings, url) as two:
        first: Cache = one.state.cache
        second: Cache = two.state.cache
        mirror = first._mirror
        assert mirror is not None
        await _until(lambda: mirror.live, "tracking")
        tag, other = f"{kind}:article:1", f"{kind}:article:2"

        async def load() -> CachedBytes:
            return CachedBytes(b'{"v": 1}', {})

        cached = await first.get_or_set_bytes(f"{kind}:a", load, ttl=60, tags=[tag, other])
        reads: list[tuple[str, ...]] = []
        read = first._backend.get_many

        async def counted(*keys: str) -> tuple[bytes | None, ...]:
            reads.append(keys)
            return await read(*keys)

        monkeypatch.setattr(first._backend, "get_many", counted)

        # Once read, the versions are this process's: checking them costs no round trip.
        assert await first.is_current(f"{kind}:a", [tag, other], cached.version)
        reads.clear()
        assert await first.is_current(f"{kind}:a", [tag, other], cached.version)
        assert reads == []
        # A hit reads the entry alone, not its tags.
        assert (await first.get_or_set_bytes(f"{kind}:a", load, ttl=60, tags=[tag])).body
        assert [len(keys) for keys in reads] == [1]

        # Another replica's invalidation reaches this process's copy through Redis.
        await second.invalidate_tags(tag)
        await _until(lambda: mirror.known(TAG_PREFIX + tag) is UNKNOWN, "told of the invalidation")
        assert not await first.is_current(f"{kind}:a", [tag, other], cached.version)

        # So does any change made without Mainspring (a script, an expiry)...
        assert isinstance(mirror.known(TAG_PREFIX + other), bytes)
        raw = Redis.from_url(url)
        try:
            await raw.delete(TAG_PREFIX + other)
            await _until(lambda: mirror.known(TAG_PREFIX + other) is UNKNOWN, "told of the change")

            # ...and a process whose listening connection is lost stops using its copy at once,
            # reads from Redis meanwhile, and tracks again once reconnected.
            await _learn(first, second, other)
            clients = await raw.client_list()
            (listener,) = [c for c in clients if c["name"] == mirror.client_name]
            await raw.client_kill_filter(_id=listener["id"])
            await _until(lambda: not mirror.live, "down")
            assert mirror.known(TAG_PREFIX + other) is UNKNOWN
            await raw.delete(TAG_PREFIX + other)
            reads.clear()
            assert await first._versions([other]) == {other: None}
            assert len(reads) == 1
            await _until(lambda: mirror.live, "tracking again")
            await _learn(first, second, other)
            await raw.delete(TAG_PREFIX + other)
            await _until(lambda: mirror.known(TAG_PREFIX + other) is UNKNOWN, "told once back")
        finally:
            await raw.aclose()


async def _learn(reader: Cache, writer: Cache, tag: str) -> None:
    """``writer`` gives ``tag`` a version and ``reader`` reads it until its copy keeps it (a read
    overtaken by the message of the version's creation is not kept: that is the rule)."""
    await writer._stamps([tag])
    mirror = reader._mirror
    assert mirror is not None
    for _ in range(200):
        await reader._versions([tag])
        if isinstance(mirror.known(TAG_PREFIX + tag), bytes):
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{tag} was never kept")


async def test_an_invalidating_process_never_reads_its_old_version(
    settings: Settings, kind: str
) -> None:
    url = await redis_url()
    async with running(settings, url) as app:
        cache: Cache = app.state.cache
        assert cache._mirror is not None
        await _until(lambda: cache._mirror is not None and cache._mirror.live, "tracking")
        tag = f"{kind}:t"
        cached = await cache.get_or_set_bytes(f"{kind}:a", lambda: _bytes(b"1"), ttl=60, tags=[tag])
        assert await cache.is_current(f"{kind}:a", [tag], cached.version)
        await cache.invalidate_tags(tag)
        # No wait for Redis's message: the process forgot the version itself.
        assert not await cache.is_current(f"{kind}:a", [tag], cached.version)


async def _bytes(body: bytes) -> CachedBytes:
    return CachedBytes(body, {})
