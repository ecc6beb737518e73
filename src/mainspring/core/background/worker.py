"""The worker: claims jobs, runs their tasks, records what became of them, fires schedules.

A worker runs inside ``mainspring serve`` (``MAINSPRING_WORKER_IN_PROCESS``, the laptop
default) or alone (``mainspring worker``); any number of them share the queue. Each runs up to
``concurrency`` jobs at once, fed by up to three loops:

* **poll** — claim as many due jobs as there are free slots, or sleep ``job_poll_seconds``.
  It is the whole delivery with the database broker; with Redis it picks up what the stream
  does not announce (delayed jobs, retries, jobs whose worker died).
* **listen** (Redis) — read job ids from the streams of this worker's queues, claim each job
  by id, and acknowledge the message once the job's outcome is recorded.
* **tick** — fire the schedules whose slot came (``scheduler.py``).

A job runs in a fresh session with a timeout of one lease; its changes and the deletion of its
row commit together. A failure is recorded in a second transaction (retry or dead).

Stopping: ``stop()`` stops claiming, gives running jobs ``grace`` seconds to finish, then
cancels the rest and gives their leases back (``queue.release``), so another worker runs them
at once (a rolling restart loses no time). A cancelled or killed run changes nothing in its
row; if its lease cannot be given back (``kill -9``, the database down) it expires and another
worker runs the job again. The lease is the single recovery mechanism, whether a worker was
stopped, crashed, lost its database connection or was killed with ``kill -9``; a database
outage costs at most one lease of delay, never a job.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import socket
import time
import traceback
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
from datetime import datetime
from typing import Any

import structlog
from fastapi import FastAPI

from mainspring.core.background.broker import JOBS, Background
from mainspring.core.background.queue import ClaimedJob, JobOutcome
from mainspring.core.background.registry import (
    DEFAULT_QUEUE,
    TASKS,
    JobContext,
    Schedule,
    check_queue,
)
from mainspring.core.background.scheduler import Scheduler
from mainspring.core.db import utcnow

SCHEDULE_TICK_SECONDS = 1.0
SHUTDOWN_GRACE_SECONDS = 10.0
RELEASE_TIMEOUT_SECONDS = 5.0
STOP_TIMEOUT_SECONDS = 5.0
_METRIC_OUTCOME = {"done": "done", "retry": "failed", "dead": "dead", "lost": "lost"}

logger = structlog.get_logger("mainspring.jobs")
Ack = Callable[[], Awaitable[None]]


class LeaseLost(Exception):
    """The job's lease passed to another worker before this run could commit."""


class Worker:
    """Runs the jobs of ``queues`` (``drain`` ignores them and takes every queue's jobs)."""

    def __init__(
        self,
        background: Background,
        *,
        concurrency: int | None = None,
        queues: Sequence[str] = (DEFAULT_QUEUE,),
        name: str | None = None,
        schedules: Iterable[Schedule] | None = None,
    ) -> None:
        self.background = background
        self.settings = background.settings
        self.concurrency = concurrency or self.settings.worker_concurrency
        if self.concurrency < 1:
            raise ValueError("a worker runs at least one job at a time")
        self.queues = tuple(check_queue(queue) for queue in queues)
        if not self.queues:
            raise ValueError("a worker serves at least one queue")
        label = name or secrets.token_hex(4)
        self.name = f"{socket.gethostname()}:{os.getpid()}:{label}"[:80]
        self.scheduler = Scheduler(background, self.name, schedules)
        self._slots = asyncio.Semaphore(self.concurrency)
        self._running: dict[asyncio.Task[None], ClaimedJob] = {}
        self._stopping = asyncio.Event()
        self._grace = SHUTDOWN_GRACE_SECONDS
        self._task: asyncio.Task[None] | None = None

    # --- life cycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Run in the background of the current event loop (the server's startup hook)."""
        self._stopping.clear()
        self._task = asyncio.create_task(self.run(), name=f"worker {self.name}")

    def request_stop(self, grace: float = SHUTDOWN_GRACE_SECONDS) -> None:
        """Ask ``run()`` to return (a signal handler can call this)."""
        self._grace = grace
        self._stopping.set()

    async def stop(self, grace: float = SHUTDOWN_GRACE_SECONDS) -> None:
        """Stop claiming, let running jobs finish for ``grace`` seconds, cancel the rest."""
        self.request_stop(grace)
        if self._task is not None:
            task, self._task = self._task, None
            await task

    async def run(self) -> None:
        """Claim and run jobs, and tick schedules, until ``request_stop()``."""
        loops: list[Coroutine[Any, Any, None]] = [self._poll(), self._tick()]
        if self.background.stream is not None:
            loops.append(self._listen())
        tasks = [
            asyncio.create_task(loop, name=f"worker {name}")
            for name, loop in zip(("poll", "tick", "listen"), loops, strict=False)
        ]
        logger.info(
            "worker_started",
            worker=self.name,
            queues=list(self.queues),
            concurrency=self.concurrency,
            broker=self.background.backend,
        )
        try:
            await self._stopping.wait()
            for loop_task in tasks:
                loop_task.cancel()
            await _settle(tasks)
            if self._running:
                await asyncio.wait(list(self._running), timeout=self._grace)
            # A graceful stop gives back the leases of the jobs that did not finish in time.
            unfinished = dict(self._running)
            for running in unfinished:
                running.cancel()
            await _settle(unfinished)
            await self._release(list(unfinished.values()))
        finally:
            # Cancelled itself (not stopped): whatever still runs is abandoned as by kill -9;
            # its lease expires and another worker runs the job again.
            leftovers = [*tasks, *self._running]
            for leftover in leftovers:
                leftover.cancel()
            await _settle(leftovers)
            logger.info("worker_stopped", worker=self.name)

    async def _release(self, jobs: list[ClaimedJob]) -> None:
        if not jobs:
            return
        try:
            async with asyncio.timeout(RELEASE_TIMEOUT_SECONDS):
                released = await self.background.queue.release(jobs, utcnow())
        except Exception as exc:  # their leases expire instead
            logger.warning("job_release_failed", worker=self.name, error=repr(exc))
        else:
            logger.info("jobs_released", worker=self.name, released=released)

    # --- running jobs ----------------------------------------------------------------------

    async def drain(
        self, *, queues: Sequence[str] | None = None, at: datetime | None = None
    ) -> list[JobOutcome]:
        """Run every job due now (or at ``at``) until none is left; what became of each.

        For tests and scripts: the jobs a request enqueued, run in this process, now. Jobs
        that fail are retried later, not within this call (their ``run_at`` moved on).
        """
        outcomes: list[JobOutcome] = []
        while True:
            claimed = await self.background.queue.claim(
                self._lease(), self.concurrency, queues, at or utcnow()
            )
            if not claimed:
                return outcomes
            outcomes += await asyncio.gather(*(self.execute(job, at=at) for job in claimed))

    async def execute(self, job: ClaimedJob, *, at: datetime | None = None) -> JobOutcome:
        """Run one claimed job and record its outcome (``at`` stands in for the clock)."""
        started = time.perf_counter()
        if job.attempt > job.max_attempts:
            error = "LeaseExpired: the worker running the last attempt stopped before finishing"
            outcome = await self.background.queue.fail(job, error, at or utcnow())
        else:
            outcome = await self._run_task(job, at)
        JOBS.labels(job.task, _METRIC_OUTCOME[outcome.status]).inc()
        _log(outcome, self.name, round((time.perf_counter() - started) * 1000, 2))
        return outcome

    async def _run_task(self, job: ClaimedJob, at: datetime | None) -> JobOutcome:
        declared = TASKS.get(job.task)
        lease_seconds = self.settings.job_lease_seconds
        deadline = asyncio.timeout(lease_seconds)
        try:
            if declared is None:
                raise LookupError(f"no task named {job.task!r} is registered in this worker")
            async with deadline, self.background.database.session() as session:
                context = JobContext(
                    session=session,
                    settings=self.settings,
                    state=self.background.state,
                    job_id=job.id,
                    task=job.task,
                    attempt=job.attempt,
                    worker=self.name,
                )
                await declared.handler(context, job.payload)
                if not await self.background.queue.complete(session, job):
                    raise LeaseLost
        except LeaseLost:
            return JobOutcome(job.id, job.task, job.attempt, "lost")
        except Exception as exc:
            if deadline.expired():
                error = f"TimeoutError: the task ran past its lease of {lease_seconds} s"
            else:
                error = "".join(traceback.format_exception(exc)).strip()
            return await self.background.queue.fail(job, error, at or utcnow())
        return JobOutcome(job.id, job.task, job.attempt, "done")

    def _lease(self) -> str:
        """A ``locked_by`` value unique to one claim, so a run can tell its lease from a later
        claim of the same job by the same worker."""
        return f"{self.name}#{secrets.token_hex(4)}"

    def _start(self, job: ClaimedJob, ack: Ack | None = None) -> None:
        """Run ``job`` in a task of its own; its slot is already taken."""
        running = asyncio.create_task(self._process(job, ack), name=f"job {job.id}")
        self._running[running] = job
        running.add_done_callback(self._forget)

    def _forget(self, running: asyncio.Task[None]) -> None:
        self._running.pop(running, None)

    async def _process(self, job: ClaimedJob, ack: Ack | None) -> None:
        try:
            await self.execute(job)
            if ack is not None:
                await ack()  # only once the outcome is in the row
        except Exception as exc:  # the row is the truth: its lease brings the job back
            logger.warning("job_not_settled", job_id=str(job.id), error=repr(exc))
        finally:
            self._slots.release()

    # --- the loops -------------------------------------------------------------------------

    async def _poll(self) -> None:
        while True:
            free = await self._take_free_slots()
            try:
                claimed = await self.background.queue.claim(
                    self._lease(), free, self.queues, utcnow()
                )
            except Exception as exc:
                logger.warning("job_claim_failed", worker=self.name, error=repr(exc))
                claimed = []
            for _ in range(free - len(claimed)):
                self._slots.release()
            for job in claimed:
                self._start(job)
            if len(claimed) < free:
                await asyncio.sleep(self.settings.job_poll_seconds)

    async def _take_free_slots(self) -> int:
        """Wait for one free slot, then take every other one free right now."""
        await self._slots.acquire()
        taken = 1
        while taken < self.concurrency and not self._slots.locked():
            await self._slots.acquire()
            taken += 1
        return taken

    async def _listen(self) -> None:
        stream = self.background.stream
        assert stream is not None
        while True:
            try:
                async with stream.consume(
                    self.queues, consumer=self.name, batch=self.concurrency
                ) as deliveries:
                    async for delivery in deliveries:
                        await self._slots.acquire()
                        job = None
                        try:
                            if delivery.job_id is not None:
                                job = await self.background.queue.claim_one(
                                    delivery.job_id, self._lease(), utcnow()
                                )
                        finally:
                            if job is None:
                                self._slots.release()
                        if job is None:  # done, taken by the poll loop, or not due yet
                            await delivery.ack()
                        else:
                            self._start(job, delivery.ack)
            except Exception as exc:
                logger.warning("job_stream_failed", worker=self.name, error=repr(exc))
                await asyncio.sleep(self.settings.job_poll_seconds)

    async def _tick(self) -> None:
        while True:
            await self.scheduler.tick(utcnow())
            await asyncio.sleep(SCHEDULE_TICK_SECONDS)


async def _settle(tasks: Iterable[asyncio.Task[None]]) -> None:
    """Wait for cancelled tasks to end, but not forever: a call stuck on a dependency (a Redis
    connection that never answers) must not hold up the process's shutdown."""
    pending = [task for task in tasks if not task.done()]
    if pending:
        _, stuck = await asyncio.wait(pending, timeout=STOP_TIMEOUT_SECONDS)
        if stuck:
            logger.warning("worker_tasks_abandoned", tasks=sorted(t.get_name() for t in stuck))


def _log(outcome: JobOutcome, worker: str, duration_ms: float) -> None:
    """One line per run: ids, task, attempt, outcome; never the payload. Errors are logged by
    their last line ("Type: message"); the full traceback is kept in the job row."""
    fields: dict[str, Any] = {
        "job_id": str(outcome.job_id),
        "task": outcome.task,
        "attempt": outcome.attempt,
        "worker": worker,
        "duration_ms": duration_ms,
    }
    if outcome.error:
        fields["error"] = outcome.error.splitlines()[-1][:500]
    if outcome.status == "done":
        logger.info("job_done", **fields)
    elif outcome.status == "retry":
        assert outcome.retry_at is not None
        logger.warning("job_failed", retry_at=outcome.retry_at.isoformat(), **fields)
    elif outcome.status == "dead":
        logger.error("job_dead", **fields)
    else:
        logger.warning("job_lease_lost", **fields)


async def run_worker(
    app: FastAPI, *, concurrency: int | None = None, queues: Sequence[str] = (DEFAULT_QUEUE,)
) -> None:
    """``mainspring worker``: the application's services without HTTP, and one worker, until
    SIGINT or SIGTERM (then a graceful stop)."""
    async with app.router.lifespan_context(app):
        worker = Worker(app.state.background, concurrency=concurrency, queues=queues)
        loop = asyncio.get_running_loop()
        grace = float(app.state.settings.shutdown_grace_seconds)
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, worker.request_stop, grace)
        try:
            await worker.run()
        finally:
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(signum)
