"""``mainspring jobs`` and ``mainspring worker``, on an embedded database of their own."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from mainspring.cli import app
from mainspring.core.background import Background
from mainspring.core.config import Settings
from mainspring.core.db import utcnow
from mainspring.core.mail import send_mail
from mainspring.core.models import Job

runner = CliRunner()


@pytest.fixture
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("MAINSPRING_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("MAINSPRING_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("MAINSPRING_MAIL_URL", "console:")
    monkeypatch.setenv("MAINSPRING_JOB_POLL_SECONDS", "0.1")
    monkeypatch.setenv("COLUMNS", "250")  # rich lays the job table out on a wide terminal
    assert runner.invoke(app, ["migrate"]).exit_code == 0
    return tmp_path


async def _send_welcome(settings: Settings, subject: str) -> uuid.UUID:
    async with Background.open(settings) as background, background.database.session() as session:
        return await send_mail(
            session,
            to="ada@example.com",
            template="core/notice",
            context={"subject": subject, "body": "Hello."},
        )


async def _bury(settings: Settings, job_id: uuid.UUID) -> None:
    """Make the job dead, as its last failed attempt would."""
    async with Background.open(settings) as background, background.database.session() as session:
        job = await session.get(Job, job_id)
        assert job is not None
        job.status, job.attempts, job.finished_at = "dead", job.max_attempts, utcnow()
        job.last_error = "Traceback (most recent call last):\nSMTPConnectError: refused"


async def _job(settings: Settings, job_id: uuid.UUID) -> Job | None:
    async with (
        Background.open(settings) as background,
        background.database.read_session() as session,
    ):
        job: Job | None = await session.get(Job, job_id)
        return job


def test_jobs_lists_and_retries_dead_jobs(isolated_env: Path) -> None:
    settings = Settings()
    assert "No queued or running or dead jobs." in runner.invoke(app, ["jobs"]).output
    queued = asyncio.run(_send_welcome(settings, "Queued one"))
    dead = asyncio.run(_send_welcome(settings, "Dead one"))
    asyncio.run(_bury(settings, dead))

    listing = runner.invoke(app, ["jobs"])
    assert listing.exit_code == 0, listing.output
    assert str(queued) in listing.output
    assert str(dead) in listing.output
    assert "SMTPConnectError: refused" in listing.output  # the last line of the last error
    only_dead = runner.invoke(app, ["jobs", "--status", "dead"]).output
    assert str(dead) in only_dead
    assert str(queued) not in only_dead
    assert runner.invoke(app, ["jobs", "--status", "lost"]).exit_code == 2

    retried = runner.invoke(app, ["jobs", "retry", str(dead)])
    assert retried.exit_code == 0, retried.output
    job = asyncio.run(_job(settings, dead))
    assert job is not None
    assert (job.status, job.attempts, job.finished_at) == ("queued", 0, None)
    assert job.run_at <= utcnow() + timedelta(seconds=1)
    again = runner.invoke(app, ["jobs", "retry", str(dead)])  # no longer dead
    assert again.exit_code == 1
    assert "No dead job" in again.output


async def _jobs_left(settings: Settings) -> int:
    async with (
        Background.open(settings) as background,
        background.database.read_session() as session,
    ):
        return int(await session.scalar(select(func.count(Job.id))) or 0)


def test_the_worker_command_runs_jobs_until_sigterm(isolated_env: Path) -> None:
    settings = Settings()
    asyncio.run(_send_welcome(settings, "Sent by the worker"))

    def stop_once_done() -> None:  # as an operator would: SIGTERM, once the queue is empty
        deadline = time.monotonic() + 60
        while asyncio.run(_jobs_left(settings)) and time.monotonic() < deadline:
            time.sleep(0.05)
        # Never before the worker handles SIGTERM: the default action would end this process,
        # the test runner with it (seen once, with the worker still migrating on a loaded
        # machine when the deadline passed).
        while signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGTERM)

    watcher = threading.Thread(target=stop_once_done)
    watcher.start()
    result = runner.invoke(app, ["worker", "--concurrency", "2"])
    watcher.join()
    assert result.exit_code == 0, result.output
    assert "Subject: Sent by the worker" in result.output  # the console transport printed it
    assert asyncio.run(_jobs_left(settings)) == 0
