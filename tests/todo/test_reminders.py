"""Mail over a real SMTP server: due-date reminders (once per task and due date), the daily
overdue digest, and the notice to a new member. Jobs run when the test drains the queue."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI

from mainspring.core.background import enqueue
from mainspring.core.config import Settings
from tests.fixtures.jobs import DrainJobs
from tests.fixtures.mail import ReceivedMail, SMTPServer
from tests.todo.conftest import People
from tests.todo.workspace import Team, add_member, new_project, new_task


@pytest.fixture
def settings(settings: Settings, smtp_server: SMTPServer) -> Settings:
    return smtp_server.configure(settings)


def at(**delta: float) -> str:
    return (datetime.now(UTC) + timedelta(**delta)).isoformat()


async def run(app: FastAPI, drain_jobs: DrainJobs, task: str) -> None:
    """What the schedule does at its slot: enqueue the task; then let the worker run it (and
    the mails it enqueues)."""
    async with app.state.db.session() as session:
        await enqueue(session, task, {})
    outcomes = await drain_jobs()
    assert {outcome.status for outcome in outcomes} == {"done"}


def reminders(smtp: SMTPServer) -> list[ReceivedMail]:
    return [m for m in smtp.messages if m.subject.startswith("Due soon")]


async def test_assignees_are_reminded_once_per_due_date(
    app: FastAPI,
    client: httpx.AsyncClient,
    drain_jobs: DrainJobs,
    smtp_server: SMTPServer,
    team: Team,
) -> None:
    p, editor = team.project_id, str(team.editor.id)
    soon = await new_task(
        client, team.owner, p, title="Renew the domain", due_at=at(hours=3), assignee_id=editor
    )
    await new_task(client, team.owner, p, title="Later", due_at=at(hours=30), assignee_id=editor)
    await new_task(
        client, team.owner, p, title="Done", due_at=at(hours=2), column="done", assignee_id=editor
    )
    await new_task(client, team.owner, p, title="Nobody's", due_at=at(hours=2))
    await new_task(client, team.owner, p, title="Past", due_at=at(hours=-2), assignee_id=editor)

    await run(app, drain_jobs, "todo.remind_due_soon")
    [mail] = reminders(smtp_server)
    assert mail.recipients == ["eddie@example.com"]
    assert mail.subject == "Due soon: Renew the domain"
    assert "Launch" in mail.text
    assert mail.html is not None
    assert "<strong>Renew the domain</strong>" in mail.html

    await run(app, drain_jobs, "todo.remind_due_soon")
    assert len(reminders(smtp_server)) == 1  # once

    # A new due date deserves a new reminder; the reminder leaves the version alone.
    before = (await client.get(f"/api/v1/tasks/{soon['id']}", headers=team.owner.headers)).json()
    await client.patch(
        f"/api/v1/tasks/{soon['id']}",
        json={"due_at": at(hours=5)},
        headers=team.owner.with_headers(if_match=f'"{before["version"]}"'),
    )
    await run(app, drain_jobs, "todo.remind_due_soon")
    assert [m.subject for m in reminders(smtp_server)] == ["Due soon: Renew the domain"] * 2


async def test_the_overdue_digest_lists_each_assignees_overdue_tasks(
    app: FastAPI,
    client: httpx.AsyncClient,
    drain_jobs: DrainJobs,
    smtp_server: SMTPServer,
    team: Team,
) -> None:
    p = team.project_id
    for i in range(12):
        await new_task(
            client,
            team.owner,
            p,
            title=f"Late {i:02d}",
            due_at=at(days=-20 + i),
            assignee_id=str(team.editor.id),
        )
    await new_task(
        client, team.owner, p, title="Mine", due_at=at(days=-1), assignee_id=str(team.owner.id)
    )
    await new_task(
        client,
        team.owner,
        p,
        title="Finished",
        due_at=at(days=-1),
        column="done",
        assignee_id=str(team.viewer.id),
    )
    await new_task(
        client, team.owner, p, title="Future", due_at=at(days=1), assignee_id=str(team.viewer.id)
    )

    await run(app, drain_jobs, "todo.overdue_digest")
    digests = {m.recipients[0]: m for m in smtp_server.messages if "overdue" in m.subject}
    assert set(digests) == {"eddie@example.com", "olivia@example.com"}
    eddie = digests["eddie@example.com"]
    assert eddie.subject == "12 overdue tasks"
    listed = [line for line in eddie.text.splitlines() if line.startswith("- ")]
    assert [line.split(" (")[0] for line in listed] == [f"- Late {i:02d}" for i in range(10)]
    assert "the 10 most overdue" in eddie.text
    assert digests["olivia@example.com"].subject == "1 overdue task"


async def test_a_new_member_is_told_by_mail(
    client: httpx.AsyncClient, drain_jobs: DrainJobs, smtp_server: SMTPServer, people: People
) -> None:
    ada, bob = await people("ada"), await people("bob")
    project = await new_project(client, ada, "Garden")
    await add_member(client, project, ada, bob, "viewer")
    await drain_jobs()
    [mail] = smtp_server.messages
    assert mail.recipients == ["bob@example.com"]
    assert mail.subject == "ada added you to Garden"
    assert "as viewer" in mail.text
