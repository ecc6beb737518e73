"""The member permission matrix: every action of the task manager, tried by a non-member, a
viewer, an editor and an owner of the project, in that order (so that an action that succeeds
and destroys its target does so last).

A non-member is told the project or task does not exist (404); a viewer is refused (403) every
change; an editor changes tasks but not the project; an owner does everything.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.todo.conftest import People
from tests.todo.workspace import Person, Team, new_task

# Marked at collection, so that anyio keeps the parametrization of the matrix.
pytestmark = pytest.mark.anyio
ROLES = ("outsider", "viewer", "editor", "owner")


@dataclass
class Stage:
    """The project of the team with one task (by the owner), one subtask and one comment."""

    client: httpx.AsyncClient
    team: Team
    people: People
    task: dict[str, Any]
    comment_id: str

    @property
    def project(self) -> str:
        return f"/api/v1/projects/{self.team.project_id}"

    @property
    def task_url(self) -> str:
        return f"/api/v1/tasks/{self.task['id']}"

    async def fresh_task(self) -> str:
        """A new task of the owner's, for actions that destroy theirs."""
        return str((await new_task(self.client, self.team.owner, self.team.project_id))["id"])

    async def fresh_subtask(self) -> str:
        response = await self.client.post(
            f"{self.task_url}/subtasks", json={"title": "Step"}, headers=self.team.owner.headers
        )
        return str(response.json()["id"])

    async def fresh_member(self, username: str) -> Person:
        person = await self.people(username)
        response = await self.client.post(
            f"{self.project}/members",
            json={"username": username, "role": "editor"},
            headers=self.team.owner.headers,
        )
        assert response.status_code == 201
        return person


Action = Callable[[Stage, Person], Awaitable[httpx.Response]]


async def _get(stage: Stage, who: Person, url: str) -> httpx.Response:
    return await stage.client.get(url, headers=who.headers)


def get(path: Callable[[Stage], str]) -> Action:
    async def act(stage: Stage, who: Person) -> httpx.Response:
        return await _get(stage, who, path(stage))

    return act


async def patch_project(stage: Stage, who: Person) -> httpx.Response:
    return await stage.client.patch(stage.project, json={"name": "Renamed"}, headers=who.headers)


async def delete_project(stage: Stage, who: Person) -> httpx.Response:
    return await stage.client.delete(stage.project, headers=who.headers)


async def add_member(stage: Stage, who: Person) -> httpx.Response:
    # Each role tries to add someone new (the owner, last, succeeds).
    name = f"new{who.username}"
    await stage.people(name)
    return await stage.client.post(
        f"{stage.project}/members", json={"username": name}, headers=who.headers
    )


async def change_role(stage: Stage, who: Person) -> httpx.Response:
    member = await stage.fresh_member(f"m{who.username}")
    return await stage.client.patch(
        f"{stage.project}/members/{member.id}", json={"role": "viewer"}, headers=who.headers
    )


async def remove_member(stage: Stage, who: Person) -> httpx.Response:
    member = await stage.fresh_member(f"r{who.username}")
    return await stage.client.delete(f"{stage.project}/members/{member.id}", headers=who.headers)


async def create_task(stage: Stage, who: Person) -> httpx.Response:
    body = {"title": "New", "project_id": stage.team.project_id}
    return await stage.client.post("/api/v1/tasks", json=body, headers=who.headers)


async def patch_task(stage: Stage, who: Person) -> httpx.Response:
    return await stage.client.patch(
        stage.task_url, json={"priority": "high"}, headers=who.with_headers(if_match="*")
    )


async def move_task(stage: Stage, who: Person) -> httpx.Response:
    return await stage.client.post(
        f"{stage.task_url}/move", json={"position": 0}, headers=who.headers
    )


async def delete_task(stage: Stage, who: Person) -> httpx.Response:
    task_id = await stage.fresh_task()
    return await stage.client.delete(f"/api/v1/tasks/{task_id}", headers=who.headers)


async def bulk_update(stage: Stage, who: Person) -> httpx.Response:
    body = {"ids": [stage.task["id"]], "changes": {"add_labels": ["bulk"]}}
    return await stage.client.post("/api/v1/tasks/bulk-update", json=body, headers=who.headers)


async def bulk_move(stage: Stage, who: Person) -> httpx.Response:
    body = {"ids": [stage.task["id"]], "position": 0}
    return await stage.client.post("/api/v1/tasks/bulk-move", json=body, headers=who.headers)


async def add_subtask(stage: Stage, who: Person) -> httpx.Response:
    return await stage.client.post(
        f"{stage.task_url}/subtasks", json={"title": "Step"}, headers=who.headers
    )


async def update_subtask(stage: Stage, who: Person) -> httpx.Response:
    subtask = await stage.fresh_subtask()
    return await stage.client.patch(
        f"{stage.task_url}/subtasks/{subtask}", json={"done": True}, headers=who.headers
    )


async def remove_subtask(stage: Stage, who: Person) -> httpx.Response:
    subtask = await stage.fresh_subtask()
    return await stage.client.delete(f"{stage.task_url}/subtasks/{subtask}", headers=who.headers)


async def comment(stage: Stage, who: Person) -> httpx.Response:
    return await stage.client.post(
        f"{stage.task_url}/comments", json={"body": "Hi"}, headers=who.headers
    )


async def create_feed(stage: Stage, who: Person) -> httpx.Response:
    return await stage.client.post(f"{stage.project}/calendar-feed", headers=who.headers)


async def revoke_feed(stage: Stage, who: Person) -> httpx.Response:
    return await stage.client.delete(f"{stage.project}/calendar-feed", headers=who.headers)


async def first_column(stage: Stage) -> str:
    response = await stage.client.get(f"{stage.project}/columns", headers=stage.team.owner.headers)
    return str(response.json()["items"][0]["id"])


async def add_column(stage: Stage, who: Person) -> httpx.Response:
    return await stage.client.post(
        f"{stage.project}/columns", json={"name": f"By {who.username}"}, headers=who.headers
    )


async def change_column(stage: Stage, who: Person) -> httpx.Response:
    return await stage.client.patch(
        f"{stage.project}/columns/{await first_column(stage)}",
        json={"colour": "#ABCDEF", "wip_limit": 10},
        headers=who.headers,
    )


async def delete_column(stage: Stage, who: Person) -> httpx.Response:
    fresh = await stage.client.post(
        f"{stage.project}/columns", json={"name": "Doomed"}, headers=stage.team.owner.headers
    )
    return await stage.client.delete(
        f"{stage.project}/columns/{fresh.json()['id']}", headers=who.headers
    )


# action: statuses for (outsider, viewer, editor, owner)
MATRIX: dict[str, tuple[Action, tuple[int, int, int, int]]] = {
    "get-project": (get(lambda s: s.project), (404, 200, 200, 200)),
    "change-project": (patch_project, (404, 403, 403, 200)),
    "delete-project": (delete_project, (404, 403, 403, 204)),
    "list-members": (get(lambda s: f"{s.project}/members"), (404, 200, 200, 200)),
    "get-member": (get(lambda s: f"{s.project}/members/{s.team.owner.id}"), (404, 200, 200, 200)),
    "add-member": (add_member, (404, 403, 403, 201)),
    "change-a-role": (change_role, (404, 403, 403, 200)),
    "remove-a-member": (remove_member, (404, 403, 403, 204)),
    "export-csv": (get(lambda s: f"{s.project}/tasks.csv"), (404, 200, 200, 200)),
    "export-xlsx": (get(lambda s: f"{s.project}/tasks.xlsx"), (404, 200, 200, 200)),
    "create-calendar-feed": (create_feed, (404, 201, 201, 201)),
    "revoke-calendar-feed": (revoke_feed, (404, 204, 204, 204)),
    "list-columns": (get(lambda s: f"{s.project}/columns"), (404, 200, 200, 200)),
    "add-column": (add_column, (404, 403, 403, 201)),
    "change-column": (change_column, (404, 403, 403, 200)),
    "delete-column": (delete_column, (404, 403, 403, 204)),
    "create-task": (create_task, (404, 403, 201, 201)),
    "get-task": (get(lambda s: s.task_url), (404, 200, 200, 200)),
    "change-task": (patch_task, (404, 403, 200, 200)),
    "move-task": (move_task, (404, 403, 200, 200)),
    "delete-task": (delete_task, (404, 403, 204, 204)),
    "bulk-update": (bulk_update, (404, 403, 200, 200)),
    "bulk-move": (bulk_move, (404, 403, 200, 200)),
    "task-history": (get(lambda s: f"{s.task_url}/activity"), (404, 200, 200, 200)),
    "add-subtask": (add_subtask, (404, 403, 201, 201)),
    "get-subtask": (
        get(lambda s: f"{s.task_url}/subtasks/{s.task['subtasks'][0]['id']}"),
        (404, 200, 200, 200),
    ),
    "change-subtask": (update_subtask, (404, 403, 200, 200)),
    "remove-subtask": (remove_subtask, (404, 403, 204, 204)),
    "list-comments": (get(lambda s: f"{s.task_url}/comments"), (404, 200, 200, 200)),
    "get-comment": (get(lambda s: f"{s.task_url}/comments/{s.comment_id}"), (404, 200, 200, 200)),
    "comment": (comment, (404, 403, 201, 201)),
}


@pytest.fixture
async def stage(client: httpx.AsyncClient, team: Team, people: People) -> Stage:
    task = await new_task(client, team.owner, team.project_id, subtasks=["First"])
    response = await client.post(
        f"/api/v1/tasks/{task['id']}/comments", json={"body": "Owner's"}, headers=team.owner.headers
    )
    return Stage(client, team, people, task, response.json()["id"])


@pytest.mark.parametrize("case", list(MATRIX))
async def test_permission_matrix(stage: Stage, case: str) -> None:
    act, expected = MATRIX[case]
    answered = []
    for role in ROLES:
        response = await act(stage, stage.team.by_role(role))
        answered.append(response.status_code)
        if response.status_code >= 400:
            assert response.headers["content-type"] == "application/problem+json"
    assert dict(zip(ROLES, answered, strict=True)) == dict(zip(ROLES, expected, strict=True))


async def test_everything_needs_a_token(client: httpx.AsyncClient, stage: Stage) -> None:
    for url in (stage.project, stage.task_url, "/api/v1/tasks", "/api/v1/projects"):
        response = await client.get(url)
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")


async def test_comments_are_edited_by_their_author_and_deleted_by_owners_too(
    client: httpx.AsyncClient, stage: Stage
) -> None:
    team = stage.team
    mine = (
        await client.post(
            f"{stage.task_url}/comments", json={"body": "Editor's"}, headers=team.editor.headers
        )
    ).json()["id"]
    owners = stage.comment_id
    edit_other = await client.patch(
        f"{stage.task_url}/comments/{owners}", json={"body": "x"}, headers=team.editor.headers
    )
    assert edit_other.status_code == 403
    edited = await client.patch(
        f"{stage.task_url}/comments/{mine}", json={"body": "*Fixed*"}, headers=team.editor.headers
    )
    assert edited.json()["body_html"] == "<p><em>Fixed</em></p>\n"
    delete_other = await client.delete(
        f"{stage.task_url}/comments/{owners}", headers=team.editor.headers
    )
    assert delete_other.status_code == 403
    by_owner = await client.delete(f"{stage.task_url}/comments/{mine}", headers=team.owner.headers)
    assert by_owner.status_code == 204
    by_author = await client.delete(
        f"{stage.task_url}/comments/{owners}", headers=team.owner.headers
    )
    assert by_author.status_code == 204
    left = (await client.get(f"{stage.task_url}/comments", headers=team.viewer.headers)).json()
    assert left["items"] == []
