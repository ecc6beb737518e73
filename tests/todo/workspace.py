"""What the task manager's tests build on: people with access tokens, a team around a project,
and short ways to create projects and tasks over HTTP."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from tests.fixtures.users import SignedInUser

# A registered, signed-in user (the shared one): ``headers`` carry their access token.
Person = SignedInUser


@dataclass(frozen=True)
class Team:
    """A project with one member of each role, and a stranger to it."""

    project_id: str
    owner: Person
    editor: Person
    viewer: Person
    outsider: Person

    def by_role(self, role: str) -> Person:
        person: Person = getattr(self, role)
        return person


async def new_project(client: httpx.AsyncClient, owner: Person, name: str = "Launch") -> str:
    response = await client.post("/api/v1/projects", json={"name": name}, headers=owner.headers)
    assert response.status_code == 201, response.text
    project_id: str = response.json()["id"]
    return project_id


async def add_member(
    client: httpx.AsyncClient, project_id: str, owner: Person, member: Person, role: str
) -> None:
    response = await client.post(
        f"/api/v1/projects/{project_id}/members",
        json={"username": member.username, "role": role},
        headers=owner.headers,
    )
    assert response.status_code == 201, response.text


async def new_task(
    client: httpx.AsyncClient, person: Person, project_id: str | None, **fields: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {"title": fields.pop("title", "A task"), **fields}
    if project_id is not None:
        body["project_id"] = project_id
    response = await client.post("/api/v1/tasks", json=body, headers=person.headers)
    assert response.status_code == 201, response.text
    task: dict[str, Any] = response.json()
    return task


async def get_task(client: httpx.AsyncClient, person: Person, task_id: str) -> dict[str, Any]:
    response = await client.get(f"/api/v1/tasks/{task_id}", headers=person.headers)
    assert response.status_code == 200, response.text
    task: dict[str, Any] = response.json()
    return task


async def column(
    client: httpx.AsyncClient, person: Person, project_id: str, status: str
) -> list[tuple[str, int]]:
    """The (title, position) of a column's tasks, in position order."""
    response = await client.get(
        "/api/v1/tasks",
        params={"project_id": project_id, "status": status, "sort": "position", "page_size": 100},
        headers=person.headers,
    )
    assert response.status_code == 200, response.text
    return [(task["title"], task["position"]) for task in response.json()["items"]]
