"""Background work on the database broker: transactional enqueue, leases, retries, schedules.

Jobs are enqueued through test routes (a real request, committed or rolled back by the
request's unit of work) and run by ``drain_jobs`` or by real ``Worker`` loops. Redis streams
have their own tests (test_background_redis.py).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Integer, MetaData, String, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from mainspring.app import create_app
from mainspring.core.background import (
    Background,
    Every,
    JobContext,
    Schedule,
    Scheduler,
    Worker,
    enqueue,
    registry,
    schedule,
    task,
)
from mainspring.core.background.timing import RETRY_BASE_DELAY
from mainspring.core.config import Settings
from mainspring.core.db import Database, utcnow
from mainspring.core.deps import SessionDep
from mainspring.core.errors import Conflict
from mainspring.core.models import Job, ScheduleRun
from tests.fixtures.jobs import DrainJobs

# --- what the tasks write -----------------------------------------------------------------------


class ScratchBase(DeclarativeBase):
    metadata = MetaData()


class Run(ScratchBase):
    """One committed run of a test task."""

    __tablename__ = "test_job_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    n: Mapped[int] = mapped_column(Integer)
    attempt: Mapped[int] = mapped_column(Integer)
    worker: Mapped[str] = mapped_column(String(120))
    note: Mapped[str | None] = mapped_column(String(100), default=None)


@dataclass
class Gate:
    """Holds a task's first attempt until the test opens it."""

    started: asyncio.Event = field(default_factory=asyncio.Event)
    opened: asyncio.Event = field(default_factory=asyncio.Event)


GATES: dict[str, Gate] = {}


@task("tests.background.record")
async def record(ctx: JobContext, payload: dict[str, Any]) -> None:
    ctx.session.add(Run(n=payload["n"], attempt=ctx.attempt, worker=ctx.worker))
    await asyncio.sleep(payload.get("pause", 0))


@task("tests.background.record_slot")
async def record_slot(ctx: JobContext, payload: dict[str, Any]) -> None:
    ctx.session.add(Run(n=0, attempt=ctx.attempt, worker=ctx.worker, note=payload["slot"]))


@task("tests.background.gated")
async def gated(ctx: JobContext, payload: dict[str, Any]) -> None:
    if ctx.attempt == 1:  # wait before touching the database: SQLite has one writer
        gate = GATES[payload["gate"]]
        gate.started.set()
        await gate.opened.wait()
    ctx.session.add(Run(n=payload["n"], attempt=ctx.attempt, worker=ctx.worker))


@task("tests.background.explode")
async def explode(ctx: JobContext, payload: dict[str, Any]) -> None:
    ctx.session.add(Run(n=payload["n"], attempt=ctx.attempt, worker=ctx.worker))
    await ctx.session.flush()  # written, then rolled back by the failure
    raise ValueError(f"exploded on attempt {ctx.attempt}")


@task("tests.background.explode_once", max_attempts=1)
async def explode_once(ctx: JobContext, payload: dict[str, Any]) -> None:
    raise RuntimeError("no second chance")


@task("tests.background.sleepy")
async def sleepy(ctx: JobContext, payload: dict[str, Any]) -> None:
    await asyncio.sleep(30)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The database broker whatever the environment; short leases and polls; 3 attempts."""
    return settings.model_copy(
        update={
            "broker_url": "database",
            "job_lease_seconds": 1,
            "job_poll_seconds": 0.05,
            "job_max_attempts": 3,
        }
    )


@pytest.fixture
async def jobs_app(app: FastAPI) -> AsyncIterator[FastAPI]:
    async with app.state.db.engine.begin() as conn:
        await conn.run_sync(ScratchBase.metadata.create_all)

    @app.post("/_test/jobs", status_code=201)
    async def create(
        session: SessionDep,
        task_name: str = "tests.background.record",
        n: int = 1,
        fail: bool = False,
        delay_seconds: int | None = None,
        queue: str = "default",
        gate: str | None = None,
    ) -> dict[str, str]:
        payload: dict[str, Any] = {"n": n, **({"gate": gate} if gate else {})}
        delay = timedelta(seconds=delay_seconds) if delay_seconds is not None else None
        job_id = await enqueue(session, task_name, payload, queue=queue, delay=delay)
        if fail:
            raise Conflict("the request fails after enqueueing")
        return {"job_id": str(job_id)}

    try:
        yield app
    finally:
        async with app.state.db.engine.begin() as conn:
            await conn.run_sync(ScratchBase.metadata.drop_all)


async def _post(client: httpx.AsyncClient, **params: Any) -> uuid.UUID:
    response = await client.post("/_test/jobs", params=params)
    assert response.status_code == 201, response.text
    return uuid.UUID(response.json()["job_id"])


async def _runs(app: FastAPI) -> list[Run]:
    async with app.state.db.read_session() as session:
        return list((await session.scalars(select(Run).order_by(Run.id))).all())


async def _job(app: FastAPI, job_id: uuid.UUID) -> Job | None:
    async with app.state.db.read_session() as session:
        job: Job | None = await session.get(Job, job_id)
        return job


async def _jobs_left(app: FastAPI) -> int:
    async with app.state.db.read_session() as session:
        return int(await session.scalar(select(func.count(Job.id))) or 0)


async def _eventually(check: Callable[[], Awaitable[bool]]) -> None:
    deadline = time.monotonic() + 15
    while not await check():
        assert time.monotonic() < deadline, "the condition did not become true in time"
        await asyncio.sleep(0.05)


# --- enqueue belongs to the transaction ---------------------------------------------------------


async def test_a_job_enqueued_in_a_rolled_back_request_never_runs(
    client: httpx.AsyncClient, jobs_app: FastAPI, drain_jobs: DrainJobs
) -> None:
    response = await client.post("/_test/jobs", params={"n": 7, "fail": True})
    assert response.status_code == 409
    assert await _jobs_left(jobs_app) == 0
    assert await drain_jobs() == []
    assert await _runs(jobs_app) == []


async def test_a_committed_job_runs_once_in_its_own_unit_of_work(
    client: httpx.AsyncClient, jobs_app: FastAPI, drain_jobs: DrainJobs
) -> None:
    job_id = await _post(client, n=7)
    job = await _job(jobs_app, job_id)
    assert job is not None
    assert (job.status, job.task_name, job.payload, job.max_attempts) == (
        "queued",
        "tests.background.record",
        {"n": 7},
        3,
    )
    [outcome] = await drain_jobs()
    assert (outcome.job_id, outcome.status, outcome.attempt) == (job_id, "done", 1)
    assert [(run.n, run.attempt) for run in await _runs(jobs_app)] == [(7, 1)]
    assert await _job(jobs_app, job_id) is None  # done jobs leave the table with their commit
    assert await drain_jobs() == []


async def test_a_delayed_job_waits_for_its_time(
    client: httpx.AsyncClient, jobs_app: FastAPI, drain_jobs: DrainJobs
) -> None:
    await _post(client, n=1, delay_seconds=3600)
    assert await drain_jobs() == []
    [outcome] = await drain_jobs(at=utcnow() + timedelta(seconds=3601))
    assert outcome.status == "done"


async def test_workers_take_only_their_queues(
    client: httpx.AsyncClient, jobs_app: FastAPI, drain_jobs: DrainJobs
) -> None:
    await _post(client, n=1, queue="reports")
    await _post(client, n=2)
    assert [o.status for o in await drain_jobs(queues=["default"])] == ["done"]
    assert [run.n for run in await _runs(jobs_app)] == [2]
    assert [o.status for o in await drain_jobs()] == ["done"]  # every queue
    assert [run.n for run in await _runs(jobs_app)] == [2, 1]


async def test_enqueue_refuses_what_a_worker_could_not_run(app: FastAPI) -> None:
    record_task = "tests.background.record"
    async with app.state.db.session() as session:
        with pytest.raises(TypeError, match="not JSON"):
            await enqueue(session, record_task, {"when": datetime.now(UTC)})
        with pytest.raises(TypeError, match="must be a dict"):
            await enqueue(session, record_task, [1, 2])  # type: ignore[arg-type]
        with pytest.raises(LookupError, match="no task named"):
            await enqueue(session, "tests.background.unknown", {})
        with pytest.raises(ValueError, match="queue name"):
            await enqueue(session, record_task, {}, queue="Not A Queue")
        with pytest.raises(ValueError, match="negative"):
            await enqueue(session, record_task, {}, delay=timedelta(seconds=-1))
    async with AsyncSession(app.state.db.engine) as foreign:
        with pytest.raises(RuntimeError, match="no Background"):
            await enqueue(foreign, record_task, {})
    assert await _jobs_left(app) == 0


# --- failures, retries, dead jobs ---------------------------------------------------------------


async def test_failures_back_off_then_the_job_is_dead_with_its_last_error(
    client: httpx.AsyncClient, jobs_app: FastAPI, drain_jobs: DrainJobs
) -> None:
    job_id = await _post(client, task_name="tests.background.explode", n=1)
    at = utcnow()
    for attempt in (1, 2):
        [outcome] = await drain_jobs(at=at)
        assert (outcome.status, outcome.attempt) == ("retry", attempt)
        assert outcome.retry_at is not None
        ceiling = RETRY_BASE_DELAY * 2 ** (attempt - 1)
        assert ceiling / 2 <= outcome.retry_at - at <= ceiling  # exponential, with jitter
        assert await drain_jobs(at=outcome.retry_at - timedelta(milliseconds=1)) == []
        at = outcome.retry_at
    [last] = await drain_jobs(at=at)
    assert (last.status, last.attempt) == ("dead", 3)
    job = await _job(jobs_app, job_id)
    assert job is not None
    assert (job.status, job.attempts, job.locked_by) == ("dead", 3, None)
    assert job.last_error is not None
    assert job.last_error.endswith("ValueError: exploded on attempt 3")
    assert "Traceback" in job.last_error
    assert await _runs(jobs_app) == []  # every failed run was rolled back
    assert await drain_jobs(at=at + timedelta(days=1)) == []  # dead stays dead


async def test_a_job_of_an_unknown_task_fails_like_any_other(
    app: FastAPI, drain_jobs: DrainJobs
) -> None:
    async with app.state.db.session() as session:
        session.add(
            app.state.background.queue.new_job(
                "tests.background.removed", {}, queue="default", run_at=utcnow(), max_attempts=None
            )
        )
    [outcome] = await drain_jobs()
    assert outcome.status == "retry"
    assert outcome.error is not None
    assert "LookupError: no task named 'tests.background.removed'" in outcome.error


async def test_a_task_running_past_its_lease_is_timed_out_and_retried(
    client: httpx.AsyncClient, jobs_app: FastAPI, drain_jobs: DrainJobs
) -> None:
    await _post(client, task_name="tests.background.sleepy", n=1)
    [outcome] = await drain_jobs()
    assert outcome.status == "retry"
    assert outcome.error == "TimeoutError: the task ran past its lease of 1 s"


# --- leases: dead workers, several workers ------------------------------------------------------


async def test_a_job_survives_its_worker_being_killed_mid_run(
    client: httpx.AsyncClient, jobs_app: FastAPI, drain_jobs: DrainJobs
) -> None:
    GATES["killed"] = gate = Gate()
    job_id = await _post(client, task_name="tests.background.gated", n=5, gate="killed")
    doomed = Worker(jobs_app.state.background, concurrency=1, name="doomed", schedules=())
    running = asyncio.create_task(doomed.run())
    await asyncio.wait_for(gate.started.wait(), 10)
    running.cancel()  # as good as kill -9 for the job: its row is left as it was
    with pytest.raises(asyncio.CancelledError):
        await running

    job = await _job(jobs_app, job_id)
    assert job is not None
    assert job.locked_until is not None
    assert (job.status, job.attempts) == ("running", 1)
    assert await drain_jobs() == []  # the lease still holds
    [outcome] = await drain_jobs(at=job.locked_until + timedelta(milliseconds=1))
    assert (outcome.status, outcome.attempt) == ("done", 2)
    assert [(run.n, run.attempt) for run in await _runs(jobs_app)] == [(5, 2)]


async def test_a_run_whose_lease_passed_to_another_worker_commits_nothing(
    client: httpx.AsyncClient, jobs_app: FastAPI, drain_jobs: DrainJobs
) -> None:
    GATES["slow"] = gate = Gate()
    await _post(client, task_name="tests.background.gated", n=6, gate="slow")
    slow = Worker(jobs_app.state.background, concurrency=1, name="slow", schedules=())
    first = asyncio.create_task(slow.drain())
    await asyncio.wait_for(gate.started.wait(), 10)
    [second] = await drain_jobs(at=utcnow() + timedelta(seconds=2))  # after the lease
    assert (second.status, second.attempt) == ("done", 2)
    gate.opened.set()  # the first run finishes, too late
    [late] = await asyncio.wait_for(first, 10)
    assert (late.status, late.attempt) == ("lost", 1)
    assert [(run.n, run.attempt) for run in await _runs(jobs_app)] == [(6, 2)]


async def test_two_workers_run_each_job_exactly_once(jobs_app: FastAPI, settings: Settings) -> None:
    async with jobs_app.state.db.session() as session:
        for n in range(40):
            await enqueue(session, "tests.background.record", {"n": n, "pause": 0.005})
    worker_settings = settings.model_copy(update={"job_lease_seconds": 30})
    databases = [Database(worker_settings) for _ in range(2)]
    workers = [
        Worker(Background(worker_settings, database), concurrency=4, name=f"w{i}", schedules=())
        for i, database in enumerate(databases)
    ]
    try:
        for worker in workers:
            await worker.start()

        async def all_done() -> bool:
            return await _jobs_left(jobs_app) == 0

        await _eventually(all_done)
    finally:
        for worker in workers:
            await worker.stop(grace=5)
        for database in databases:
            await database.dispose()
    runs = await _runs(jobs_app)
    assert sorted(run.n for run in runs) == list(range(40))  # each job once, none lost
    assert {run.attempt for run in runs} == {1}
    assert {run.worker for run in runs} == {worker.name for worker in workers}  # both took part


async def test_serve_runs_a_worker_in_process(jobs_app: FastAPI, settings: Settings) -> None:
    served = create_app(settings.model_copy(update={"worker_in_process": True}))
    async with served.router.lifespan_context(served):
        async with served.state.db.session() as session:
            job_id = await enqueue(session, "tests.background.record", {"n": 42})

        async def ran() -> bool:
            return [run.n for run in await _runs(jobs_app)] == [42]

        await _eventually(ran)
    assert await _job(jobs_app, job_id) is None


# --- schedules ----------------------------------------------------------------------------------


async def test_a_schedule_fires_once_per_slot_with_two_workers(
    jobs_app: FastAPI, settings: Settings, drain_jobs: DrainJobs
) -> None:
    minutely = Schedule(
        "tests.background.minutely", "tests.background.record_slot", Every(timedelta(minutes=1))
    )
    other_database = Database(settings)
    backgrounds = [jobs_app.state.background, Background(settings, other_database)]
    schedulers = [Scheduler(bg, f"worker-{i}", [minutely]) for i, bg in enumerate(backgrounds)]

    async def tick(now: datetime) -> list[str]:
        fired = await asyncio.gather(*(scheduler.tick(now) for scheduler in schedulers))
        return [name for names in fired for name in names]

    noon = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    try:
        assert await tick(noon + timedelta(seconds=30)) == ["tests.background.minutely"]
        assert await tick(noon + timedelta(seconds=59)) == []  # same slot: nothing
        assert await tick(noon + timedelta(minutes=1)) == ["tests.background.minutely"]
        assert await tick(noon + timedelta(minutes=1, seconds=1)) == []
    finally:
        await other_database.dispose()
    assert [o.status for o in await drain_jobs()] == ["done", "done"]
    slots = sorted(run.note or "" for run in await _runs(jobs_app))
    assert slots == [noon.isoformat(), (noon + timedelta(minutes=1)).isoformat()]

    fresh = Scheduler(jobs_app.state.background, "worker-late", [minutely])
    assert await fresh.tick(noon + timedelta(days=2)) == ["tests.background.minutely"]
    async with jobs_app.state.db.read_session() as session:
        kept = (await session.scalars(select(ScheduleRun.slot))).all()
    assert kept == [noon + timedelta(days=2)]  # runs older than a day are pruned


def test_tasks_and_schedules_are_declared_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "TASKS", {})
    monkeypatch.setattr(registry, "SCHEDULES", {})

    @schedule("tests.nightly", cron="0 3 * * *")
    async def nightly(ctx: JobContext, payload: dict[str, Any]) -> None:
        """A schedule is a task plus its timing."""

    assert registry.TASKS["tests.nightly"].handler is nightly
    declared = registry.SCHEDULES["tests.nightly"]
    assert declared.task == "tests.nightly"
    assert declared.slot(datetime(2026, 5, 1, 3, 30, tzinfo=UTC)) == datetime(
        2026, 5, 1, 3, 0, tzinfo=UTC
    )
    with pytest.raises(ValueError, match="already registered"):
        task("tests.nightly")(nightly)
    with pytest.raises(ValueError, match="exactly one"):
        schedule("tests.both", cron="* * * * *", every=timedelta(minutes=1))
    with pytest.raises(ValueError, match="task name"):
        task("NotAName")(nightly)


# --- operations ---------------------------------------------------------------------------------


async def test_readyz_reports_the_database_broker(client: httpx.AsyncClient) -> None:
    body = (await client.get("/readyz")).json()
    assert body["checks"]["broker:database"]["status"] == "ok"


async def _job_counts(client: httpx.AsyncClient) -> dict[tuple[str, str], float]:
    text = (await client.get("/metrics")).text
    return {
        (sample.labels["task"], sample.labels["outcome"]): sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "mainspring_jobs"
        for sample in family.samples
        if sample.name == "mainspring_jobs_total"
    }


async def test_metrics_count_jobs_by_outcome(
    client: httpx.AsyncClient, jobs_app: FastAPI, drain_jobs: DrainJobs
) -> None:
    before = await _job_counts(client)
    await _post(client, n=1)
    await client.post("/_test/jobs", params={"n": 2, "fail": True})  # rolled back: not counted
    await _post(client, task_name="tests.background.explode", n=3)
    await _post(client, task_name="tests.background.explode_once", n=4)
    await drain_jobs()
    after = await _job_counts(client)

    def delta(task_name: str, outcome: str) -> float:
        key = (f"tests.background.{task_name}", outcome)
        return after.get(key, 0) - before.get(key, 0)

    assert delta("record", "enqueued") == 1
    assert delta("record", "done") == 1
    assert delta("explode", "failed") == 1
    assert delta("explode_once", "dead") == 1  # its own max_attempts=1


async def test_a_graceful_stop_gives_back_the_leases_of_unfinished_jobs(
    client: httpx.AsyncClient, jobs_app: FastAPI, drain_jobs: DrainJobs
) -> None:
    GATES["stopped"] = gate = Gate()
    job_id = await _post(client, task_name="tests.background.gated", n=7, gate="stopped")
    stopping = Worker(jobs_app.state.background, concurrency=1, name="stopping", schedules=())
    await stopping.start()
    await asyncio.wait_for(gate.started.wait(), 10)
    await stopping.stop(grace=0)  # SIGTERM with no time left for the job

    job = await _job(jobs_app, job_id)
    assert job is not None
    assert (job.status, job.attempts, job.locked_by) == ("queued", 0, None)
    gate.opened.set()
    [outcome] = await drain_jobs()  # due at once: no lease to wait for
    assert (outcome.status, outcome.attempt) == ("done", 1)
    assert [(run.n, run.attempt) for run in await _runs(jobs_app)] == [(7, 1)]
