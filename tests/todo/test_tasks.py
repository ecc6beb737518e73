"""Tasks over HTTP: creation, reading with ETags, merge-patch updates under If-Match, moves
that keep column positions consistent, bulk changes, checklists and the history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from tests.todo.workspace import Team, column, columns, get_task, new_task


async def test_create_a_task_with_everything(client: httpx.AsyncClient, team: Team) -> None:
    due = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    response = await client.post(
        "/api/v1/tasks",
        json={
            "project_id": team.project_id,
            "title": "Write the launch post",
            "description": "Ask **Ada**. <script>alert(1)</script> [x](javascript:alert(1))",
            "priority": "high",
            "due_at": due.astimezone(timezone(timedelta(hours=2))).isoformat(),
            "labels": ["Launch", "marketing", "launch"],
            "assignee_id": str(team.editor.id),
            "subtasks": ["Outline", "Draft"],
        },
        headers=team.owner.headers,
    )
    assert response.status_code == 201
    task = response.json()
    assert response.headers["location"] == f"/api/v1/tasks/{task['id']}"
    assert response.headers["etag"] == 'W/"1"'
    to_do = (await columns(client, team.owner, team.project_id))["todo"]
    assert task["column"] == {"id": to_do, "name": "To do", "is_done": False}
    assert task["position"] == 0
    assert task["priority"] == "high"
    assert datetime.fromisoformat(task["due_at"]) == due
    assert task["due_at"].endswith("Z") or task["due_at"].endswith("+00:00")
    assert task["labels"] == ["launch", "marketing"]
    assert task["assignee"] == {"id": str(team.editor.id), "username": "eddie"}
    assert task["created_by"]["username"] == "olivia"
    assert [(s["title"], s["done"], s["position"]) for s in task["subtasks"]] == [
        ("Outline", False, 0),
        ("Draft", False, 1),
    ]
    assert (task["subtasks_done"], task["subtasks_total"]) == (0, 2)
    html = task["description_html"]
    assert "<strong>Ada</strong>" in html
    assert "<script>" not in html
    assert "href" not in html  # the javascript: link was not made
    assert task["completed_at"] is None
    assert task["overdue"] is False


async def test_invalid_tasks_are_refused(client: httpx.AsyncClient, team: Team) -> None:
    base = {"project_id": team.project_id, "title": "x"}
    for bad in (
        {"title": ""},
        {"title": "x" * 201},
        {"due_at": "2026-12-01T10:00:00"},  # no time zone
        {"labels": ["a,b"]},
        {"labels": [f"l{i}" for i in range(21)]},
        {"column_id": "not-a-uuid"},
        {"status": "todo"},  # columns replaced the fixed statuses
        {"priority": "extreme"},
        {"owner_id": str(team.owner.id)},  # unknown fields are refused, never assigned
    ):
        response = await client.post(
            "/api/v1/tasks", json={**base, **bad}, headers=team.owner.headers
        )
        assert response.status_code == 422, bad
    stranger = await client.post(
        "/api/v1/tasks",
        json={**base, "assignee_id": str(team.outsider.id)},
        headers=team.owner.headers,
    )
    assert stranger.status_code == 409  # well-formed; the project's membership refuses it
    assert stranger.json()["errors"][0]["field"] == "assignee_id"


async def test_get_answers_304_for_a_current_copy(client: httpx.AsyncClient, team: Team) -> None:
    task = await new_task(client, team.owner, team.project_id)
    url = f"/api/v1/tasks/{task['id']}"
    first = await client.get(url, headers=team.viewer.headers)
    etag = first.headers["etag"]
    same = await client.get(url, headers=team.viewer.with_headers(if_none_match=etag))
    assert same.status_code == 304
    assert same.content == b""
    assert same.headers["etag"] == etag
    strong = etag.removeprefix("W/")  # If-None-Match compares weakly: W/ or not, it matches
    weak = await client.get(url, headers=team.viewer.with_headers(if_none_match=strong))
    assert weak.status_code == 304
    await client.patch(url, json={"title": "New"}, headers=team.owner.with_headers(if_match=etag))
    changed = await client.get(url, headers=team.viewer.with_headers(if_none_match=etag))
    assert changed.status_code == 200
    assert changed.json()["title"] == "New"


async def test_patch_merges_and_needs_if_match(client: httpx.AsyncClient, team: Team) -> None:
    task = await new_task(
        client,
        team.owner,
        team.project_id,
        description="Keep me",
        labels=["a"],
        due_at="2030-01-01T00:00:00Z",
    )
    url = f"/api/v1/tasks/{task['id']}"
    missing = await client.patch(url, json={"title": "x"}, headers=team.editor.headers)
    assert missing.status_code == 428
    assert missing.json()["code"] == "if-match-required"
    response = await client.patch(
        url,
        json={"title": "Renamed", "priority": "urgent", "due_at": None},
        headers=team.editor.with_headers(if_match='"1"'),
    )
    assert response.status_code == 200
    patched = response.json()
    assert response.headers["etag"] == 'W/"2"'
    assert patched["title"] == "Renamed"
    assert patched["priority"] == "urgent"
    assert patched["due_at"] is None
    assert patched["description"] == "Keep me"  # not sent, not changed
    assert patched["labels"] == ["a"]
    nulled = await client.patch(
        url, json={"title": None}, headers=team.editor.with_headers(if_match='"2"')
    )
    assert nulled.status_code == 422
    # A patch that changes nothing keeps the version.
    same = await client.patch(
        url, json={"title": "Renamed"}, headers=team.editor.with_headers(if_match='"2"')
    )
    assert same.json()["version"] == 2


async def test_a_stale_if_match_is_refused(client: httpx.AsyncClient, team: Team) -> None:
    """Two people read version 1; the first to save wins, the second is told (412)."""
    task = await new_task(client, team.owner, team.project_id)
    url = f"/api/v1/tasks/{task['id']}"
    etag = (await client.get(url, headers=team.owner.headers)).headers["etag"]
    first = await client.patch(
        url, json={"title": "Owner's"}, headers=team.owner.with_headers(if_match=etag)
    )
    assert first.status_code == 200
    second = await client.patch(
        url, json={"priority": "low"}, headers=team.editor.with_headers(if_match=etag)
    )
    assert second.status_code == 412
    assert second.json()["code"] == "stale-version"
    assert second.headers["etag"] == first.headers["etag"]
    # The tag names a version: with or without W/, a stale version stays stale.
    bare = await client.patch(
        url,
        json={"priority": "low"},
        headers=team.editor.with_headers(if_match=etag.removeprefix("W/")),
    )
    assert bare.status_code == 412
    assert (await get_task(client, team.owner, task["id"]))["priority"] == "none"
    anyway = await client.patch(
        url, json={"priority": "low"}, headers=team.editor.with_headers(if_match="*")
    )
    assert anyway.json()["priority"] == "low"
    assert anyway.json()["title"] == "Owner's"
    delete_stale = await client.delete(url, headers=team.owner.with_headers(if_match=etag))
    assert delete_stale.status_code == 412


async def test_column_changes_set_completed_at_and_keep_columns_dense(
    client: httpx.AsyncClient, team: Team
) -> None:
    a, b, c = [
        await new_task(client, team.owner, team.project_id, title=t) for t in ("a", "b", "c")
    ]
    board = await columns(client, team.owner, team.project_id)
    done = await client.patch(
        f"/api/v1/tasks/{a['id']}",
        json={"column_id": board["done"]},
        headers=team.owner.with_headers(if_match="*"),
    )
    assert done.json()["completed_at"] is not None
    assert done.json()["column"] == {"id": board["done"], "name": "Done", "is_done": True}
    assert await column(client, team.owner, team.project_id, "todo") == [("b", 0), ("c", 1)]
    assert await column(client, team.owner, team.project_id, "done") == [("a", 0)]
    reopened = await client.patch(
        f"/api/v1/tasks/{a['id']}",
        json={"column_id": board["todo"]},
        headers=team.owner.with_headers(if_match="*"),
    )
    assert reopened.json()["completed_at"] is None
    assert await column(client, team.owner, team.project_id, "todo") == [
        ("b", 0),
        ("c", 1),
        ("a", 2),
    ]
    # Neighbours shifted by a move get a new version too (their position changed).
    assert (await get_task(client, team.owner, c["id"]))["version"] > c["version"]
    assert b["id"] != c["id"]


async def test_creating_at_a_position_and_deleting_keep_positions_dense(
    client: httpx.AsyncClient, team: Team
) -> None:
    for title in ("a", "b", "c"):
        await new_task(client, team.owner, team.project_id, title=title)
    first = await new_task(client, team.owner, team.project_id, title="first", position=0)
    await new_task(client, team.owner, team.project_id, title="far", position=99)
    assert await column(client, team.owner, team.project_id, "todo") == [
        ("first", 0),
        ("a", 1),
        ("b", 2),
        ("c", 3),
        ("far", 4),
    ]
    assert (
        await client.delete(f"/api/v1/tasks/{first['id']}", headers=team.owner.headers)
    ).status_code == 204
    assert await column(client, team.owner, team.project_id, "todo") == [
        ("a", 0),
        ("b", 1),
        ("c", 2),
        ("far", 3),
    ]


async def test_move_within_and_across_columns_and_projects(
    client: httpx.AsyncClient, team: Team
) -> None:
    tasks = {
        t: await new_task(client, team.owner, team.project_id, title=t)
        for t in ("a", "b", "c", "d")
    }
    url = "/api/v1/tasks/{}/move"
    down = await client.post(
        url.format(tasks["a"]["id"]), json={"position": 2}, headers=team.editor.headers
    )
    assert down.status_code == 200
    assert down.json()["position"] == 2
    assert await column(client, team.owner, team.project_id, "todo") == [
        ("b", 0),
        ("c", 1),
        ("a", 2),
        ("d", 3),
    ]
    in_progress = (await columns(client, team.owner, team.project_id))["in_progress"]
    await client.post(
        url.format(tasks["d"]["id"]),
        json={"position": 0, "column_id": in_progress},
        headers=team.editor.headers,
    )
    await client.post(
        url.format(tasks["b"]["id"]),
        json={"position": 0, "column_id": in_progress},
        headers=team.editor.headers,
    )
    assert await column(client, team.owner, team.project_id, "todo") == [("c", 0), ("a", 1)]
    assert await column(client, team.owner, team.project_id, "in_progress") == [
        ("b", 0),
        ("d", 1),
    ]
    # Another project where the editor is an editor too; the assignee is not a member there.
    other = (
        await client.post("/api/v1/projects", json={"name": "Other"}, headers=team.editor.headers)
    ).json()["id"]
    await client.patch(
        f"/api/v1/tasks/{tasks['c']['id']}",
        json={"assignee_id": str(team.viewer.id)},
        headers=team.owner.with_headers(if_match="*"),
    )
    moved = await client.post(
        url.format(tasks["c"]["id"]), json={"project_id": other}, headers=team.editor.headers
    )
    assert moved.status_code == 200
    assert moved.json()["project_id"] == other
    assert moved.json()["assignee"] is None
    assert await column(client, team.owner, team.project_id, "todo") == [("a", 0)]
    assert await column(client, team.editor, other, "todo") == [("c", 0)]  # its first column
    # A column names its project: the task follows it there (the editor's other project).
    other_done = (await columns(client, team.editor, other))["done"]
    into_column = await client.post(
        url.format(tasks["d"]["id"]), json={"column_id": other_done}, headers=team.editor.headers
    )
    assert into_column.status_code == 200
    assert into_column.json()["project_id"] == other
    assert into_column.json()["column"]["id"] == other_done
    assert into_column.json()["completed_at"] is not None
    assert await column(client, team.owner, team.project_id, "in_progress") == [("b", 0)]
    # A column of another project than the one named, or of a project you cannot see: 422.
    mismatch = await client.post(
        url.format(tasks["a"]["id"]),
        json={"project_id": team.project_id, "column_id": other_done},
        headers=team.editor.headers,
    )
    assert (mismatch.status_code, mismatch.json()["code"]) == (409, "invalid-reference")
    unseen = await client.post(
        url.format(tasks["a"]["id"]), json={"column_id": other_done}, headers=team.owner.headers
    )
    assert (unseen.status_code, unseen.json()["code"]) == (409, "invalid-reference")
    # The owner is not a member of the other project: for them it does not exist.
    refused = await client.post(
        url.format(tasks["a"]["id"]), json={"project_id": other}, headers=team.owner.headers
    )
    assert refused.status_code == 404
    stale = await client.post(
        url.format(tasks["a"]["id"]),
        json={"position": 0},
        headers=team.editor.with_headers(if_match='"1"'),
    )
    assert stale.status_code == 412


async def test_bulk_update_is_all_or_nothing(client: httpx.AsyncClient, team: Team) -> None:
    a = await new_task(client, team.owner, team.project_id, title="a", labels=["x"])
    b = await new_task(client, team.owner, team.project_id, title="b", labels=["y"])
    done = (await columns(client, team.owner, team.project_id))["done"]
    response = await client.post(
        "/api/v1/tasks/bulk-update",
        json={
            "ids": [b["id"], a["id"]],
            "changes": {
                "column_id": done,
                "priority": "medium",
                "assignee_id": str(team.viewer.id),
                "add_labels": ["q4"],
                "remove_labels": ["x"],
            },
        },
        headers=team.editor.headers,
    )
    assert response.status_code == 200
    items = response.json()["items"]
    assert [t["title"] for t in items] == ["b", "a"]
    assert [t["labels"] for t in items] == [["q4", "y"], ["q4"]]
    assert all(t["column"]["id"] == done and t["priority"] == "medium" for t in items)
    assert all(t["completed_at"] is not None for t in items)
    assert all(t["assignee"]["username"] == "vera" for t in items)
    assert await column(client, team.owner, team.project_id, "done") == [("b", 0), ("a", 1)]
    # One task out of reach spoils the batch: nothing changes.
    elsewhere = await new_task(client, team.outsider, None, title="private")
    refused = await client.post(
        "/api/v1/tasks/bulk-update",
        json={"ids": [a["id"], elsewhere["id"]], "changes": {"priority": "low"}},
        headers=team.editor.headers,
    )
    assert refused.status_code == 404
    assert (await get_task(client, team.owner, a["id"]))["priority"] == "medium"
    empty = await client.post(
        "/api/v1/tasks/bulk-update",
        json={"ids": [a["id"]], "changes": {}},
        headers=team.editor.headers,
    )
    assert empty.status_code == 422


async def test_bulk_move_lands_tasks_together_in_order(
    client: httpx.AsyncClient, team: Team
) -> None:
    ids = {
        t: (await new_task(client, team.owner, team.project_id, title=t))["id"]
        for t in ("a", "b", "c", "d", "e")
    }
    done = (await columns(client, team.owner, team.project_id))["done"]
    await client.post(
        f"/api/v1/tasks/{ids['e']}/move", json={"column_id": done}, headers=team.owner.headers
    )
    response = await client.post(
        "/api/v1/tasks/bulk-move",
        json={"ids": [ids["d"], ids["a"]], "column_id": done, "position": 0},
        headers=team.owner.headers,
    )
    assert [t["title"] for t in response.json()["items"]] == ["d", "a"]
    assert await column(client, team.owner, team.project_id, "done") == [
        ("d", 0),
        ("a", 1),
        ("e", 2),
    ]
    assert await column(client, team.owner, team.project_id, "todo") == [("b", 0), ("c", 1)]
    within = await client.post(
        "/api/v1/tasks/bulk-move",
        json={"ids": [ids["c"], ids["b"]], "position": 0},
        headers=team.owner.headers,
    )
    assert within.status_code == 200
    assert await column(client, team.owner, team.project_id, "todo") == [("c", 0), ("b", 1)]


async def test_subtasks_change_the_task_version(client: httpx.AsyncClient, team: Team) -> None:
    task = await new_task(client, team.owner, team.project_id, subtasks=["one", "two"])
    url = f"/api/v1/tasks/{task['id']}/subtasks"
    added = await client.post(url, json={"title": "three"}, headers=team.editor.headers)
    assert added.status_code == 201
    three = added.json()
    assert three["position"] == 2
    assert added.headers["location"] == f"{url}/{three['id']}"
    ticked = await client.patch(
        f"{url}/{three['id']}", json={"done": True, "position": 0}, headers=team.editor.headers
    )
    assert ticked.json() == {**three, "done": True, "position": 0}
    after = await get_task(client, team.owner, task["id"])
    assert [s["title"] for s in after["subtasks"]] == ["three", "one", "two"]
    assert [s["position"] for s in after["subtasks"]] == [0, 1, 2]
    assert (after["subtasks_done"], after["subtasks_total"]) == (1, 3)
    assert after["version"] == task["version"] + 2
    one = after["subtasks"][1]["id"]
    assert (await client.delete(f"{url}/{one}", headers=team.editor.headers)).status_code == 204
    final = await get_task(client, team.owner, task["id"])
    assert [(s["title"], s["position"]) for s in final["subtasks"]] == [("three", 0), ("two", 1)]
    other = await new_task(client, team.owner, team.project_id)
    wrong_task = await client.get(
        f"/api/v1/tasks/{other['id']}/subtasks/{three['id']}", headers=team.owner.headers
    )
    assert wrong_task.status_code == 404


async def test_the_history_tells_who_changed_what(client: httpx.AsyncClient, team: Team) -> None:
    task = await new_task(client, team.owner, team.project_id, title="Draft")
    url = f"/api/v1/tasks/{task['id']}"
    await client.patch(
        url,
        json={"title": "Final", "description": "Long text", "labels": ["x"]},
        headers=team.editor.with_headers(if_match="*"),
    )
    board = await columns(client, team.owner, team.project_id)
    await client.post(f"{url}/move", json={"column_id": board["done"]}, headers=team.owner.headers)
    await client.post(f"{url}/comments", json={"body": "Shipped!"}, headers=team.editor.headers)
    history = (await client.get(f"{url}/activity", headers=team.viewer.headers)).json()
    entries = [(e["actor"]["username"], e["action"]) for e in history["items"]]
    assert entries == [
        ("eddie", "commented"),
        ("olivia", "moved"),
        ("eddie", "updated"),
        ("olivia", "created"),
    ]
    updated = history["items"][2]["changes"]
    assert updated == [
        {"field": "title", "old": "Draft", "new": "Final"},
        {"field": "description", "old": None, "new": None},
        {"field": "labels", "old": [], "new": ["x"]},
    ]
    moved = history["items"][1]["changes"]
    assert {"field": "column_id", "old": board["todo"], "new": board["done"]} in moved
    sliced = (
        await client.get(f"{url}/activity", params={"limit": 3}, headers=team.viewer.headers)
    ).json()
    rest = (
        await client.get(
            f"{url}/activity",
            params={"limit": 3, "cursor": sliced["next_cursor"]},
            headers=team.viewer.headers,
        )
    ).json()
    assert [e["id"] for e in sliced["items"] + rest["items"]] == [e["id"] for e in history["items"]]
    assert rest["next_cursor"] is None


async def test_comments_are_listed_oldest_first(client: httpx.AsyncClient, team: Team) -> None:
    task = await new_task(client, team.owner, team.project_id)
    url = f"/api/v1/tasks/{task['id']}/comments"
    for i in range(3):
        created = await client.post(url, json={"body": f"**{i}**"}, headers=team.editor.headers)
        assert created.status_code == 201
        assert created.headers["location"] == f"{url}/{created.json()['id']}"
    first = (await client.get(url, params={"limit": 2}, headers=team.viewer.headers)).json()
    assert [c["body"] for c in first["items"]] == ["**0**", "**1**"]
    assert first["items"][0]["body_html"] == "<p><strong>0</strong></p>\n"
    assert first["items"][0]["author"]["username"] == "eddie"
    rest = (
        await client.get(
            url, params={"limit": 2, "cursor": first["next_cursor"]}, headers=team.viewer.headers
        )
    ).json()
    assert [c["body"] for c in rest["items"]] == ["**2**"]


async def test_a_retried_creation_with_its_idempotency_key_creates_once(
    client: httpx.AsyncClient, team: Team
) -> None:
    body = {"project_id": team.project_id, "title": "Once"}
    headers = team.editor.with_headers(idempotency_key="c0ffee00-0000-4000-8000-000000000001")
    first = await client.post("/api/v1/tasks", json=body, headers=headers)
    retry = await client.post("/api/v1/tasks", json=body, headers=headers)
    assert first.status_code == retry.status_code == 201
    assert retry.headers["idempotent-replayed"] == "true"
    assert retry.json() == first.json()
    assert await column(client, team.owner, team.project_id, "todo") == [("Once", 0)]
    other_body = await client.post(
        "/api/v1/tasks", json={**body, "title": "Twice"}, headers=headers
    )
    assert other_body.status_code == 422


NOT_NULLABLE = [
    ("TaskUpdate", "title"),
    ("TaskUpdate", "description"),
    ("TaskUpdate", "column_id"),
    ("TaskUpdate", "priority"),
    ("TaskUpdate", "labels"),
    ("BulkChanges", "column_id"),
    ("BulkChanges", "priority"),
    ("SubtaskUpdate", "title"),
    ("SubtaskUpdate", "done"),
    ("SubtaskUpdate", "position"),
    ("ProjectUpdate", "name"),
    ("ProjectUpdate", "description"),
    ("ProjectUpdate", "archived"),
    ("ColumnUpdate", "name"),
    ("ColumnUpdate", "colour"),
    ("ColumnUpdate", "is_done"),
    ("ColumnUpdate", "position"),
    ("ColumnUpdate", "archived"),
]


async def test_the_openapi_says_which_patch_fields_may_be_null(client: httpx.AsyncClient) -> None:
    """Issue 15 item 6b: a field refused when null is documented optional, not nullable; the
    fields that null clears stay nullable."""
    schemas = (await client.get("/openapi.json")).json()["components"]["schemas"]
    for model, field in NOT_NULLABLE:
        prop = schemas[model]["properties"][field]
        assert "null" not in str(prop.get("anyOf", "")), (model, field, prop)
        assert prop.get("type") != "null"
        assert field not in schemas[model].get("required", [])
    nullable = [
        ("TaskUpdate", "due_at"),
        ("TaskUpdate", "assignee_id"),
        ("ColumnUpdate", "wip_limit"),
    ]
    for model, field in nullable:
        assert {"type": "null"} in schemas[model]["properties"][field]["anyOf"]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/tasks/{task}", {"priority": None}),
        ("/api/v1/tasks/{task}/subtasks/{subtask}", {"position": None}),
        ("/api/v1/projects/{project}", {"name": None}),
    ],
)
async def test_null_is_refused_where_the_openapi_says_so(
    client: httpx.AsyncClient, team: Team, path: str, body: dict[str, Any]
) -> None:
    task = await new_task(client, team.owner, team.project_id, subtasks=["one"])
    subtask = (await get_task(client, team.owner, task["id"]))["subtasks"][0]["id"]
    url = path.format(task=task["id"], subtask=subtask, project=team.project_id)
    response = await client.patch(url, json=body, headers=team.owner.with_headers(if_match="*"))
    assert response.status_code == 422
    assert f"{next(iter(body))} cannot be null" in response.text
