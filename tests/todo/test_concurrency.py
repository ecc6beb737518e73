"""Concurrent writers: requests sent at the same time, each in its own transaction (on
PostgreSQL each on its own connection). Column positions stay 0..n-1, a WIP limit is never
exceeded and a stale version never wins, whatever the interleaving."""

from __future__ import annotations

import asyncio

import httpx

from tests.todo.workspace import Team, column, columns, new_task


async def test_concurrent_creates_get_distinct_positions(
    client: httpx.AsyncClient, team: Team
) -> None:
    responses = await asyncio.gather(
        *(
            client.post(
                "/api/v1/tasks",
                json={"project_id": team.project_id, "title": f"t{i}"},
                headers=(team.owner if i % 2 else team.editor).headers,
            )
            for i in range(10)
        )
    )
    assert [r.status_code for r in responses] == [201] * 10
    positions = sorted(p for _, p in await column(client, team.owner, team.project_id, "todo"))
    assert positions == list(range(10))


async def test_concurrent_moves_keep_both_columns_dense(
    client: httpx.AsyncClient, team: Team
) -> None:
    ids = [
        (await new_task(client, team.owner, team.project_id, title=f"t{i}"))["id"] for i in range(6)
    ]
    board = await columns(client, team.owner, team.project_id)
    responses = await asyncio.gather(
        *(
            client.post(
                f"/api/v1/tasks/{task_id}/move",
                json={"column_id": board["done" if i % 2 else "in_progress"], "position": 0},
                headers=team.editor.headers,
            )
            for i, task_id in enumerate(ids)
        ),
        client.post(
            f"/api/v1/tasks/{ids[0]}/move", json={"position": 5}, headers=team.owner.headers
        ),
    )
    assert {r.status_code for r in responses} == {200}
    for name, expected in (("todo", 0), ("in_progress", 3), ("done", 3)):
        tasks = await column(client, team.owner, team.project_id, name)
        assert [p for _, p in tasks] == list(range(expected)), name


async def test_concurrent_moves_never_exceed_a_wip_limit(
    client: httpx.AsyncClient, team: Team
) -> None:
    """Six clients move six tasks at once into a column limited to two: two get in, four are
    refused with 409 ``wip-limit-reached``, and both columns stay dense."""
    ids = [
        (await new_task(client, team.owner, team.project_id, title=f"t{i}"))["id"] for i in range(6)
    ]
    board = await columns(client, team.owner, team.project_id)
    limited = await client.patch(
        f"/api/v1/projects/{team.project_id}/columns/{board['in_progress']}",
        json={"wip_limit": 2},
        headers=team.owner.headers,
    )
    assert limited.status_code == 200, limited.text
    responses = await asyncio.gather(
        *(
            client.post(
                f"/api/v1/tasks/{task_id}/move",
                json={"column_id": board["in_progress"], "position": 0},
                headers=(team.owner if i % 2 else team.editor).headers,
            )
            for i, task_id in enumerate(ids)
        )
    )
    assert sorted(r.status_code for r in responses) == [200] * 2 + [409] * 4
    refused = [r.json() for r in responses if r.status_code == 409]
    assert {problem["code"] for problem in refused} == {"wip-limit-reached"}
    assert [p for _, p in await column(client, team.owner, team.project_id, "in_progress")] == [
        0,
        1,
    ]
    assert [p for _, p in await column(client, team.owner, team.project_id, "todo")] == [
        0,
        1,
        2,
        3,
    ]


async def test_of_two_concurrent_edits_of_one_version_one_wins(
    client: httpx.AsyncClient, team: Team
) -> None:
    task = await new_task(client, team.owner, team.project_id, title="Original")
    url = f"/api/v1/tasks/{task['id']}"
    etag = 'W/"1"'
    first, second = await asyncio.gather(
        client.patch(
            url, json={"title": "Owner's"}, headers=team.owner.with_headers(if_match=etag)
        ),
        client.patch(
            url, json={"title": "Editor's"}, headers=team.editor.with_headers(if_match=etag)
        ),
    )
    assert sorted([first.status_code, second.status_code]) == [200, 412]
    winner = first if first.status_code == 200 else second
    final = (await client.get(url, headers=team.viewer.headers)).json()
    assert final["title"] == winner.json()["title"]
    assert final["version"] == 2
