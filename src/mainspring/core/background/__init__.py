"""Background work: jobs enqueued in the caller's transaction, run by workers, at least once.

What modules use::

    from mainspring.core.background import JobContext, enqueue, schedule, task

    @task("blog.notify_followers")                   # in <module>/background.py
    async def notify_followers(ctx: JobContext, payload: dict[str, Any]) -> None: ...

    await enqueue(session, "blog.notify_followers", {"article_id": str(article.id)})

    @schedule("shortener.expire_links", every=timedelta(minutes=5))
    async def expire_links(ctx: JobContext, payload: dict[str, Any]) -> None: ...

How it fits together:

``registry.py``  tasks and schedules by name; ``JobContext``
``queue.py``     the ``kernel_jobs`` row life cycle: claim with a lease, complete, retry, dead
``broker.py``    ``Background`` (one per app): database or Redis streams; ``enqueue``
``streams.py``   the Redis streams transport (taskiq-redis), acknowledged deliveries
``worker.py``    ``Worker``: the poll, listen and tick loops, running tasks; ``run_worker``
``scheduler.py`` once-per-slot schedules across workers
``timing.py``    cron expressions, fixed periods, retry backoff
"""

from __future__ import annotations

from functools import partial

from fastapi import FastAPI

from mainspring.core.background.broker import Background, enqueue
from mainspring.core.background.queue import JOB_STATUSES, ClaimedJob, JobOutcome, JobStatus
from mainspring.core.background.registry import (
    DEFAULT_QUEUE,
    JobContext,
    Schedule,
    Task,
    discover_tasks,
    schedule,
    task,
)
from mainspring.core.background.scheduler import Scheduler
from mainspring.core.background.timing import Cron, Every
from mainspring.core.background.worker import Worker, run_worker
from mainspring.core.config import Settings
from mainspring.core.health import register_readiness_check


def install(app: FastAPI, settings: Settings) -> None:
    """Put ``Background`` on ``app.state.background``, check its broker in ``/readyz``
    (``broker:database`` or ``broker:redis``) and, with ``MAINSPRING_WORKER_IN_PROCESS``, run
    a worker from the application's startup to its shutdown."""
    discover_tasks()
    background = Background(settings, app.state.db, app.state)
    app.state.background = background
    register_readiness_check(app, f"broker:{background.backend}", background.ping)
    app.state.startup_hooks.append(background.start)
    app.state.shutdown_hooks.append(background.stop)
    if settings.worker_in_process:
        worker = Worker(background, name="in-process")
        app.state.startup_hooks.append(worker.start)
        # On SIGTERM the server first drains its requests, then gives running jobs the same
        # grace before giving their leases back.
        app.state.shutdown_hooks.append(partial(worker.stop, settings.shutdown_grace_seconds))


__all__ = [
    "DEFAULT_QUEUE",
    "JOB_STATUSES",
    "Background",
    "ClaimedJob",
    "Cron",
    "Every",
    "JobContext",
    "JobOutcome",
    "JobStatus",
    "Schedule",
    "Scheduler",
    "Task",
    "Worker",
    "enqueue",
    "install",
    "run_worker",
    "schedule",
    "task",
]
