"""Board columns over HTTP: the default board, adding, renaming, recolouring, WIP limits, the
done flag, reordering, archiving and deleting with ``move_tasks_to``; and what tasks, filters
and ETags make of them. (Who may do what: ``test_permissions.py``; racing writers:
``test_concurrency.py``.)"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.todo.workspace import Team, column, columns, get_task, new_task


def columns_url(team: Team) -> str:
    return f"/api/v1/projects/{team.project_id}/columns"


async def board(client: httpx.AsyncClient, team: Team) -> list[dict[str, Any]]:
    response = await client.get(columns_url(team), headers=team.viewer.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def patch(
    client: httpx.AsyncClient, team: Team, column_id: str, **body: Any
) -> httpx.Response:
    return await client.patch(
        f"{columns_url(team)}/{column_id}", json=body, headers=team.owner.headers
    )


async def test_a_new_project_starts_with_the_default_board(
    client: httpx.AsyncClient, team: Team
) -> None:
    items = await board(client, team)
    assert [(c["name"], c["position"], c["is_done"]) for c in items] == [
        ("To do", 0, False),
        ("In progress", 1, False),
        ("Done", 2, True),
    ]
    assert all(c["wip_limit"] is None and c["archived_at"] is None for c in items)
    await new_task(client, team.owner, team.project_id)
    one = await client.get(f"{columns_url(team)}/{items[0]['id']}", headers=team.viewer.headers)
    assert one.status_code == 200
    assert one.json()["task_count"] == 1
    again = await client.get(
        f"{columns_url(team)}/{items[0]['id']}",
        headers=team.viewer.with_headers(if_none_match=one.headers["etag"]),
    )
    assert again.status_code == 304
    await new_task(client, team.owner, team.project_id)  # a task in it: another ETag
    changed = await client.get(
        f"{columns_url(team)}/{items[0]['id']}",
        headers=team.viewer.with_headers(if_none_match=one.headers["etag"]),
    )
    assert (changed.status_code, changed.json()["task_count"]) == (200, 2)


async def test_add_columns_where_you_want_them(client: httpx.AsyncClient, team: Team) -> None:
    created = await client.post(
        columns_url(team),
        json={"name": "Review", "colour": "#F59E0B", "wip_limit": 3, "position": 2},
        headers=team.owner.headers,
    )
    assert created.status_code == 201, created.text
    review = created.json()
    assert created.headers["location"] == f"{columns_url(team)}/{review['id']}"
    assert (review["colour"], review["wip_limit"], review["is_done"]) == ("#f59e0b", 3, False)
    last = await client.post(columns_url(team), json={"name": "Later"}, headers=team.owner.headers)
    assert last.json()["position"] == 4
    assert [(c["name"], c["position"]) for c in await board(client, team)] == [
        ("To do", 0),
        ("In progress", 1),
        ("Review", 2),
        ("Done", 3),
        ("Later", 4),
    ]


@pytest.mark.parametrize(
    "body",
    [
        {"name": ""},
        {"name": "x" * 61},
        {"name": "x", "colour": "red"},
        {"name": "x", "wip_limit": 0},
        {"name": "x", "position": -1},
        {"name": "x", "archived_at": None},  # unknown fields are refused
    ],
)
async def test_invalid_columns_are_refused(
    client: httpx.AsyncClient, team: Team, body: dict[str, Any]
) -> None:
    response = await client.post(columns_url(team), json=body, headers=team.owner.headers)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


async def test_reorder_keeps_positions_dense(client: httpx.AsyncClient, team: Team) -> None:
    ids = {c["name"]: c["id"] for c in await board(client, team)}
    moved = await patch(client, team, ids["Done"], position=0)
    assert moved.json()["position"] == 0
    assert [c["name"] for c in await board(client, team)] == ["Done", "To do", "In progress"]
    far = await patch(client, team, ids["Done"], position=99)
    assert far.json()["position"] == 2
    assert [(c["name"], c["position"]) for c in await board(client, team)] == [
        ("To do", 0),
        ("In progress", 1),
        ("Done", 2),
    ]


async def test_renaming_a_column_changes_its_tasks_representation(
    client: httpx.AsyncClient, team: Team
) -> None:
    task = await new_task(client, team.owner, team.project_id)
    to_do = task["column"]["id"]
    renamed = await patch(client, team, to_do, name="Backlog", colour="#000000")
    assert (renamed.json()["name"], renamed.json()["colour"]) == ("Backlog", "#000000")
    after = await get_task(client, team.owner, task["id"])
    assert after["column"]["name"] == "Backlog"
    assert after["version"] > task["version"]  # its ETag changed with what it shows
    assert after["updated_at"] == task["updated_at"]  # but nobody edited it
    stale = await client.patch(
        f"{columns_url(team)}/{to_do}",
        json={"name": "Icebox"},
        headers=team.owner.with_headers(if_match='W/"nope"'),
    )
    assert stale.status_code == 412


async def test_the_done_flag_drives_completion_and_overdue(
    client: httpx.AsyncClient, team: Team
) -> None:
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    task = await new_task(client, team.owner, team.project_id, column="in_progress", due_at=past)
    assert (task["completed_at"], task["overdue"]) == (None, True)
    ids = await columns(client, team.owner, team.project_id)
    flagged = await patch(client, team, ids["in_progress"], is_done=True)
    assert flagged.json()["is_done"] is True
    done = await get_task(client, team.owner, task["id"])
    assert done["completed_at"] is not None
    assert (done["overdue"], done["column"]["is_done"]) == (False, True)
    listed = await client.get(
        "/api/v1/tasks",
        params={"project_id": team.project_id, "done": "true"},
        headers=team.owner.headers,
    )
    assert [t["id"] for t in listed.json()["items"]] == [task["id"]]
    await patch(client, team, ids["in_progress"], is_done=False)
    reopened = await get_task(client, team.owner, task["id"])
    assert (reopened["completed_at"], reopened["overdue"]) == (None, True)


async def test_a_full_column_refuses_new_tasks(client: httpx.AsyncClient, team: Team) -> None:
    ids = await columns(client, team.owner, team.project_id)
    assert (await patch(client, team, ids["in_progress"], wip_limit=1)).status_code == 200
    first = await new_task(client, team.owner, team.project_id, column="in_progress")
    waiting = await new_task(client, team.owner, team.project_id)
    created = await client.post(
        "/api/v1/tasks",
        json={"project_id": team.project_id, "title": "x", "column_id": ids["in_progress"]},
        headers=team.editor.headers,
    )
    moved = await client.post(
        f"/api/v1/tasks/{waiting['id']}/move",
        json={"column_id": ids["in_progress"]},
        headers=team.editor.headers,
    )
    patched = await client.patch(
        f"/api/v1/tasks/{waiting['id']}",
        json={"column_id": ids["in_progress"]},
        headers=team.editor.with_headers(if_match="*"),
    )
    bulk = await client.post(
        "/api/v1/tasks/bulk-move",
        json={"ids": [waiting["id"]], "column_id": ids["in_progress"]},
        headers=team.editor.headers,
    )
    for refused in (created, moved, patched, bulk):
        assert refused.status_code == 409, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["code"] == "wip-limit-reached"
        assert "In progress" in refused.json()["detail"]
    # Moving inside the full column is fine; so is entering once the limit is lifted.
    inside = await client.post(
        f"/api/v1/tasks/{first['id']}/move", json={"position": 0}, headers=team.editor.headers
    )
    assert inside.status_code == 200
    assert (await patch(client, team, ids["in_progress"], wip_limit=None)).json()[
        "wip_limit"
    ] is None
    assert moved.status_code == 409
    again = await client.post(
        f"/api/v1/tasks/{waiting['id']}/move",
        json={"column_id": ids["in_progress"]},
        headers=team.editor.headers,
    )
    assert again.status_code == 200
    assert await column(client, team.owner, team.project_id, "in_progress") == [
        ("A task", 0),
        ("A task", 1),
    ]


async def test_archived_columns_take_no_new_task(client: httpx.AsyncClient, team: Team) -> None:
    ids = await columns(client, team.owner, team.project_id)
    kept = await new_task(client, team.owner, team.project_id, column="in_progress")
    archived = await patch(client, team, ids["in_progress"], archived=True)
    assert archived.json()["archived_at"] is not None
    assert (await get_task(client, team.owner, kept["id"]))["column"]["id"] == ids["in_progress"]
    refused = await client.post(
        "/api/v1/tasks",
        json={"project_id": team.project_id, "title": "x", "column_id": ids["in_progress"]},
        headers=team.owner.headers,
    )
    assert (refused.status_code, refused.json()["code"]) == (409, "column-archived")
    # With the first column archived too, new tasks land in the first open one.
    await patch(client, team, ids["todo"], archived=True)
    landed = await new_task(client, team.owner, team.project_id)
    assert landed["column"]["name"] == "Done"
    last = await patch(client, team, ids["done"], archived=True)
    assert (last.status_code, last.json()["code"]) == (409, "last-column")
    restored = await patch(client, team, ids["in_progress"], archived=False)
    assert restored.json()["archived_at"] is None


async def test_deleting_a_column_says_where_its_tasks_go(
    client: httpx.AsyncClient, team: Team
) -> None:
    ids = await columns(client, team.owner, team.project_id)
    for title in ("a", "b"):
        await new_task(client, team.owner, team.project_id, title=title, column="in_progress")
    await new_task(client, team.owner, team.project_id, title="z", column="done")
    url = f"{columns_url(team)}/{ids['in_progress']}"
    refused = await client.delete(url, headers=team.owner.headers)
    assert (refused.status_code, refused.json()["code"]) == (409, "column-not-empty")
    itself = await client.delete(
        url, params={"move_tasks_to": ids["in_progress"]}, headers=team.owner.headers
    )
    assert (itself.status_code, itself.json()["code"]) == (409, "invalid-reference")
    await patch(client, team, ids["done"], wip_limit=2)
    full = await client.delete(
        url, params={"move_tasks_to": ids["done"]}, headers=team.owner.headers
    )
    assert (full.status_code, full.json()["code"]) == (409, "wip-limit-reached")
    await patch(client, team, ids["done"], wip_limit=None)
    deleted = await client.delete(
        url, params={"move_tasks_to": ids["done"]}, headers=team.owner.headers
    )
    assert deleted.status_code == 204
    assert [(c["name"], c["position"]) for c in await board(client, team)] == [
        ("To do", 0),
        ("Done", 1),
    ]
    assert await column(client, team.owner, team.project_id, "done") == [
        ("z", 0),
        ("a", 1),
        ("b", 2),
    ]
    listed = await client.get(
        "/api/v1/tasks",
        params={"project_id": team.project_id, "column_id": ids["done"], "sort": "position"},
        headers=team.owner.headers,
    )
    moved = listed.json()["items"][1]
    assert moved["completed_at"] is not None  # it entered a done column
    history = await client.get(f"/api/v1/tasks/{moved['id']}/activity", headers=team.owner.headers)
    latest = history.json()["items"][0]
    assert latest["action"] == "moved"
    assert {"field": "column_id", "old": ids["in_progress"], "new": ids["done"]} in latest[
        "changes"
    ]
    empty = await client.delete(f"{columns_url(team)}/{ids['todo']}", headers=team.owner.headers)
    assert empty.status_code == 204
    last = await client.delete(f"{columns_url(team)}/{ids['done']}", headers=team.owner.headers)
    assert (last.status_code, last.json()["code"]) == (409, "last-column")
    gone = await client.get(f"{columns_url(team)}/{ids['todo']}", headers=team.owner.headers)
    assert (gone.status_code, gone.json()["code"]) == (404, "column-not-found")


async def test_the_board_runs_the_same_statements_whatever_its_size(
    client: httpx.AsyncClient, team: Team
) -> None:
    """Task counts come with the page (a correlated count), never one query per column."""
    for i in range(4):
        await client.post(columns_url(team), json={"name": f"c{i}"}, headers=team.owner.headers)
        await new_task(client, team.owner, team.project_id)
    await board(client, team)  # the viewer's first request also checks their session
    counts = set()
    for size in (1, 3, 7):
        response = await client.get(
            columns_url(team), params={"page_size": size}, headers=team.viewer.headers
        )
        assert len(response.json()["items"]) == size
        counts.add(response.headers["x-db-statements"])
    assert len(counts) == 1, counts
    assert response.json()["total"] == 7
    assert [c["task_count"] for c in response.json()["items"]] == [4, 0, 0, 0, 0, 0, 0]


async def test_moving_between_done_columns_keeps_the_completion_time(
    client: httpx.AsyncClient, team: Team
) -> None:
    wont_do = await client.post(
        columns_url(team), json={"name": "Won't do", "is_done": True}, headers=team.owner.headers
    )
    task = await new_task(client, team.owner, team.project_id, column="done")
    moved = await client.post(
        f"/api/v1/tasks/{task['id']}/move",
        json={"column_id": wont_do.json()["id"]},
        headers=team.editor.headers,
    )
    assert moved.json()["column"] == {
        "id": wont_do.json()["id"],
        "name": "Won't do",
        "is_done": True,
    }
    assert moved.json()["completed_at"] == task["completed_at"]
