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


DEFAULT_BOARD = {"todo": "To do", "in_progress": "In progress", "done": "Done"}
"""Short names of the default board's columns in these tests."""


async def columns(client: httpx.AsyncClient, person: Person, project_id: str) -> dict[str, str]:
    """``{name: column id}`` of the project's board, with the default columns also under
    their short names (``todo``, ``in_progress``, ``done``)."""
    response = await client.get(
        f"/api/v1/projects/{project_id}/columns",
        params={"page_size": 100},
        headers=person.headers,
    )
    assert response.status_code == 200, response.text
    by_name = {c["name"]: c["id"] for c in response.json()["items"]}
    short = {key: by_name[name] for key, name in DEFAULT_BOARD.items() if name in by_name}
    return {**by_name, **short}


async def column_id(client: httpx.AsyncClient, person: Person, project_id: str, name: str) -> str:
    return (await columns(client, person, project_id))[name]


async def new_task(
    client: httpx.AsyncClient, person: Person, project_id: str | None, **fields: Any
) -> dict[str, Any]:
    """Create a task; ``column="done"`` puts it in the project's column of that name."""
    body: dict[str, Any] = {"title": fields.pop("title", "A task"), **fields}
    if project_id is not None:
        body["project_id"] = project_id
    if "column" in body:
        assert project_id is not None
        body["column_id"] = await column_id(client, person, project_id, body.pop("column"))
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
    client: httpx.AsyncClient, person: Person, project_id: str, name: str
) -> list[tuple[str, int]]:
    """The (title, position) of a column's tasks (by name or short name), in position order."""
    response = await client.get(
        "/api/v1/tasks",
        params={
            "project_id": project_id,
            "column_id": await column_id(client, person, project_id, name),
            "sort": "position",
            "page_size": 100,
        },
        headers=person.headers,
    )
    assert response.status_code == 200, response.text
    return [(task["title"], task["position"]) for task in response.json()["items"]]
