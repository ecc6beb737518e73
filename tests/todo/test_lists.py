"""The task list: every filter, every sort key, page pagination with totals and links, full-text
search, and a number of SQL statements that does not grow with the page size."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.todo.workspace import Person, Team, columns, new_task

NOW = datetime.now(UTC)


def at(hours: int) -> str:
    return (NOW + timedelta(hours=hours)).isoformat()


@pytest.fixture
async def board(client: httpx.AsyncClient, team: Team) -> Team:
    """Seven tasks in the team's project, one in the editor's own project."""
    owner, editor = team.owner, team.editor
    p = team.project_id
    await new_task(
        client,
        owner,
        p,
        title="Write release notes",
        description="Summarise the **changelog**",
        priority="high",
        due_at=at(-48),
        labels=["docs", "release"],
        assignee_id=str(editor.id),
    )
    await new_task(
        client,
        owner,
        p,
        title="Fix login bug",
        priority="urgent",
        due_at=at(-2),
        labels=["bug"],
        assignee_id=str(owner.id),
    )
    await new_task(
        client, owner, p, title="Deploy to production", due_at=at(24), labels=["release", "ops"]
    )
    await new_task(client, owner, p, title="Plan Q4", priority="low", column="in_progress")
    await new_task(
        client,
        owner,
        p,
        title="Old finished thing",
        column="done",
        due_at=at(-100),
        assignee_id=str(editor.id),
    )
    await new_task(client, owner, p, title="Design onboarding", priority="medium", due_at=at(72))
    await new_task(
        client, owner, p, title="Review deployment checklist", labels=["ops"], due_at=at(200)
    )
    own = (
        await client.post("/api/v1/projects", json={"name": "Mine"}, headers=editor.headers)
    ).json()["id"]
    await new_task(client, editor, own, title="Editor's private errand", priority="high")
    return team


async def titles(client: httpx.AsyncClient, person: Person, **params: Any) -> list[str]:
    response = await client.get("/api/v1/tasks", params=params, headers=person.headers)
    assert response.status_code == 200, response.text
    return [task["title"] for task in response.json()["items"]]


async def test_filters(client: httpx.AsyncClient, board: Team) -> None:
    owner, editor = board.owner, board.editor
    p = board.project_id
    sort = {"sort": "created_at"}
    assert await titles(client, owner, **sort) == [
        "Write release notes",
        "Fix login bug",
        "Deploy to production",
        "Plan Q4",
        "Old finished thing",
        "Design onboarding",
        "Review deployment checklist",
    ]
    assert len(await titles(client, editor, **sort)) == 8  # both of the editor's projects
    board_columns = await columns(client, owner, p)
    in_progress_or_done = [board_columns["in_progress"], board_columns["done"]]
    assert await titles(client, editor, project_id=p, column_id=in_progress_or_done, **sort) == [
        "Plan Q4",
        "Old finished thing",
    ]
    assert await titles(client, editor, project_id=p, done=True, **sort) == ["Old finished thing"]
    assert "Old finished thing" not in await titles(client, editor, project_id=p, done=False)
    assert await titles(client, editor, project_id=p, assignee="me", **sort) == [
        "Write release notes",
        "Old finished thing",
    ]
    assert await titles(client, owner, assignee=str(owner.id), **sort) == ["Fix login bug"]
    assert await titles(client, owner, assignee=["unassigned"], priority="low", **sort) == [
        "Plan Q4"
    ]
    assert await titles(client, owner, assignee=["me", "unassigned"], label="ops", **sort) == [
        "Deploy to production",
        "Review deployment checklist",
    ]
    assert await titles(client, owner, label=["release", "OPS"], **sort) == ["Deploy to production"]
    assert await titles(client, owner, priority=["high", "urgent"], **sort) == [
        "Write release notes",
        "Fix login bug",
    ]
    assert await titles(client, owner, due_after=at(0), due_before=at(100), **sort) == [
        "Deploy to production",
        "Design onboarding",
    ]
    assert await titles(client, owner, overdue=True, **sort) == [
        "Write release notes",
        "Fix login bug",
    ]
    not_overdue = await titles(client, owner, overdue=False, **sort)
    assert "Old finished thing" in not_overdue
    assert "Fix login bug" not in not_overdue
    assert await titles(client, board.outsider) == []


async def test_full_text_search(client: httpx.AsyncClient, board: Team) -> None:
    owner = board.owner
    sort = {"sort": "created_at"}
    assert await titles(client, owner, q="release", **sort) == ["Write release notes"]
    assert await titles(client, owner, q="deploy", **sort) == [
        "Deploy to production",
        "Review deployment checklist",  # words match as prefixes
    ]
    assert await titles(client, owner, q="changelog summarise", **sort) == [
        "Write release notes"  # the description is searched too, all words required
    ]
    assert await titles(client, owner, q="deploy production", **sort) == ["Deploy to production"]
    to_do = (await columns(client, owner, board.project_id))["todo"]
    assert await titles(client, owner, q="LOGIN", column_id=to_do, **sort) == ["Fix login bug"]
    for hostile in ('"unbalanced', "a OR b) AND", "*", "NEAR(", "-deploy", "!!!", "' ; --"):
        response = await client.get("/api/v1/tasks", params={"q": hostile}, headers=owner.headers)
        assert response.status_code == 200, hostile
    assert await titles(client, owner, q="!!!") == []
    # The index follows changes: renamed tasks are found by their new words only.
    task_id = (
        await client.get("/api/v1/tasks", params={"q": "onboarding"}, headers=owner.headers)
    ).json()["items"][0]["id"]
    await client.patch(
        f"/api/v1/tasks/{task_id}",
        json={"title": "Design welcome emails"},
        headers=owner.with_headers(if_match="*"),
    )
    assert await titles(client, owner, q="onboarding") == []
    assert await titles(client, owner, q="welcome") == ["Design welcome emails"]
    await client.delete(f"/api/v1/tasks/{task_id}", headers=owner.headers)
    assert await titles(client, owner, q="welcome") == []


async def test_sorting(client: httpx.AsyncClient, board: Team) -> None:
    owner = board.owner
    p = board.project_id
    assert await titles(client, owner, project_id=p, sort="due_at") == [
        "Old finished thing",
        "Write release notes",
        "Fix login bug",
        "Deploy to production",
        "Design onboarding",
        "Review deployment checklist",
        "Plan Q4",  # no due date: last
    ]
    assert (await titles(client, owner, project_id=p, sort="-due_at"))[-1] == "Plan Q4"
    by_priority = await titles(client, owner, project_id=p, sort="-priority,created_at")
    assert by_priority[:4] == [
        "Fix login bug",
        "Write release notes",
        "Design onboarding",
        "Plan Q4",
    ]
    to_do = (await columns(client, owner, p))["todo"]
    assert await titles(client, owner, project_id=p, column_id=to_do, sort="position") == [
        "Write release notes",
        "Fix login bug",
        "Deploy to production",
        "Design onboarding",
        "Review deployment checklist",
    ]
    newest = await titles(client, owner, project_id=p)
    assert newest[0] == "Review deployment checklist"  # default: newest first
    first = newest[-1]
    task_id = (
        await client.get("/api/v1/tasks", params={"q": "release notes"}, headers=owner.headers)
    ).json()["items"][0]["id"]
    await client.patch(
        f"/api/v1/tasks/{task_id}",
        json={"priority": "low"},
        headers=owner.with_headers(if_match="*"),
    )
    assert (await titles(client, owner, project_id=p, sort="-updated_at"))[0] == first
    for bad in ("title", "due_at,", "-", "priority;drop"):
        response = await client.get("/api/v1/tasks", params={"sort": bad}, headers=owner.headers)
        assert response.status_code == 422, bad


async def test_archived_projects_are_left_out_unless_named(
    client: httpx.AsyncClient, board: Team
) -> None:
    owner = board.owner
    await client.patch(
        f"/api/v1/projects/{board.project_id}", json={"archived": True}, headers=owner.headers
    )
    assert await titles(client, owner) == []
    assert len(await titles(client, owner, include_archived=True)) == 7
    assert len(await titles(client, owner, project_id=board.project_id)) == 7


async def test_pages_have_totals_and_links(client: httpx.AsyncClient, board: Team) -> None:
    response = await client.get(
        "/api/v1/tasks",
        params={"page": 2, "page_size": 3, "sort": "created_at", "project_id": board.project_id},
        headers=board.owner.headers,
    )
    body = response.json()
    assert (body["total"], body["page"], body["page_size"]) == (7, 2, 3)
    assert [t["title"] for t in body["items"]] == [
        "Plan Q4",
        "Old finished thing",
        "Design onboarding",
    ]
    links = response.headers["link"]
    assert 'rel="prev"' in links
    assert 'rel="next"' in links
    assert 'rel="last"' in links
    assert "page=3&page_size=3" in links


async def test_a_page_past_the_end_and_an_empty_list_still_say_their_totals(
    client: httpx.AsyncClient, board: Team
) -> None:
    """The total comes with the page's rows; with none, it is counted (past the end) or 0."""
    headers = board.owner.headers
    query: dict[str, Any] = {"page_size": 3, "project_id": board.project_id}
    past = await client.get("/api/v1/tasks", params={**query, "page": 9}, headers=headers)
    assert past.status_code == 200
    assert (past.json()["items"], past.json()["total"]) == ([], 7)
    assert 'rel="last"' in past.headers["link"]
    last = await client.get("/api/v1/tasks", params={**query, "page": 3}, headers=headers)
    assert (len(last.json()["items"]), last.json()["total"]) == (1, 7)
    none = await client.get("/api/v1/tasks", params={**query, "q": "zzzz"}, headers=headers)
    assert (none.json()["items"], none.json()["total"]) == ([], 0)


async def test_the_list_runs_the_same_statements_whatever_the_page_size(
    client: httpx.AsyncClient, board: Team
) -> None:
    """Labels, assignees and checklist counts come with the page, never one query per task."""
    owner = board.owner
    for i in range(6):
        await new_task(
            client,
            owner,
            board.project_id,
            title=f"extra {i}",
            labels=["x", f"l{i}"],
            subtasks=["a", "b"],
            assignee_id=str(board.viewer.id),
        )
    counts = set()
    for size in (1, 5, 13):
        response = await client.get(
            "/api/v1/tasks",
            params={"page_size": size, "label": "x", "assignee": str(board.viewer.id)},
            headers=owner.headers,
        )
        assert len(response.json()["items"]) == min(size, 6)
        counts.add(response.headers["x-db-statements"])
    assert len(counts) == 1, counts
    item = response.json()["items"][0]
    assert (item["subtasks_done"], item["subtasks_total"]) == (0, 2)
    assert item["assignee"]["username"] == "vera"
