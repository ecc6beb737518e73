"""Projects and members over HTTP: creation, the inbox, roles, the last-owner rule, leaving,
archiving and deletion."""

from __future__ import annotations

import httpx

from tests.todo.conftest import People
from tests.todo.workspace import Team, get_task, new_project, new_task


async def test_a_new_project_belongs_to_its_creator(
    client: httpx.AsyncClient, people: People
) -> None:
    ada = await people("ada")
    response = await client.post(
        "/api/v1/projects",
        json={"name": "Launch", "description": "Q4 launch"},
        headers=ada.headers,
    )
    assert response.status_code == 201
    project = response.json()
    assert response.headers["location"] == f"/api/v1/projects/{project['id']}"
    assert project["name"] == "Launch"
    assert project["role"] == "owner"
    assert project["archived"] is False
    assert project["is_inbox"] is False
    members = (
        await client.get(f"/api/v1/projects/{project['id']}/members", headers=ada.headers)
    ).json()
    assert [(m["username"], m["role"]) for m in members["items"]] == [("ada", "owner")]


async def test_the_inbox_is_created_once_and_listed_first(
    client: httpx.AsyncClient, people: People
) -> None:
    ada = await people("ada")
    await new_project(client, ada, "Alpha")
    first = (await client.get("/api/v1/projects/inbox", headers=ada.headers)).json()
    again = (await client.get("/api/v1/projects/inbox", headers=ada.headers)).json()
    assert first["id"] == again["id"]
    assert first["is_inbox"] is True
    listed = (await client.get("/api/v1/projects", headers=ada.headers)).json()
    assert [p["name"] for p in listed["items"]] == ["Inbox", "Alpha"]
    assert listed["total"] == 2
    # A task without a project lands in the inbox.
    task = await new_task(client, ada, None, title="Buy milk")
    assert task["project_id"] == first["id"]


async def test_the_inbox_is_personal(client: httpx.AsyncClient, people: People) -> None:
    ada, bob = await people("ada"), await people("bob")
    inbox = (await client.get("/api/v1/projects/inbox", headers=ada.headers)).json()["id"]
    url = f"/api/v1/projects/{inbox}"
    shared = await client.post(
        f"{url}/members", json={"username": "bob", "role": "editor"}, headers=ada.headers
    )
    archived = await client.patch(url, json={"archived": True}, headers=ada.headers)
    deleted = await client.delete(url, headers=ada.headers)
    for response in (shared, archived, deleted):
        assert response.status_code == 409
        assert response.json()["code"] == "inbox-is-personal"
    renamed = await client.patch(url, json={"name": "Mine"}, headers=ada.headers)
    assert renamed.json()["name"] == "Mine"
    bobs = (await client.get("/api/v1/projects/inbox", headers=bob.headers)).json()["id"]
    assert bobs != inbox


async def test_projects_of_others_do_not_exist_for_you(
    client: httpx.AsyncClient, team: Team
) -> None:
    response = await client.get(
        f"/api/v1/projects/{team.project_id}", headers=team.outsider.headers
    )
    assert response.status_code == 404
    assert response.json()["code"] == "project-not-found"
    listed = (await client.get("/api/v1/projects", headers=team.outsider.headers)).json()
    assert [p["name"] for p in listed["items"]] == ["Inbox"]


async def test_members_are_added_by_username_and_invited_by_email(
    client: httpx.AsyncClient, people: People
) -> None:
    """By username a user joins at once; by e-mail the address is invited (202) and the answer
    names nobody (see test_invitations.py for the rest of that story)."""
    ada, bob, cy = await people("ada"), await people("bob"), await people("cy")
    project = await new_project(client, ada)
    url = f"/api/v1/projects/{project}/members"
    by_name = await client.post(
        url, json={"username": "BOB", "role": "viewer"}, headers=ada.headers
    )
    assert by_name.status_code == 201
    assert by_name.json()["user_id"] == str(bob.id)
    assert by_name.headers["location"] == f"{url}/{bob.id}"
    by_email = await client.post(url, json={"email": "CY@example.com"}, headers=ada.headers)
    assert by_email.status_code == 202
    assert (by_email.json()["email"], by_email.json()["role"]) == ("cy@example.com", "editor")
    assert str(cy.id) not in by_email.text
    by_name = await client.post(url, json={"username": "cy"}, headers=ada.headers)
    assert by_name.status_code == 201
    again = await client.post(url, json={"username": "bob"}, headers=ada.headers)
    assert again.status_code == 409
    assert again.json()["code"] == "already-member"
    unknown = await client.post(url, json={"username": "nobody"}, headers=ada.headers)
    assert unknown.status_code == 409  # the body names nobody; the project of the URL exists
    assert unknown.json()["code"] == "unknown-user"
    assert unknown.json()["errors"][0]["field"] == "body.username"
    both = await client.post(
        url, json={"username": "bob", "email": "bob@example.com"}, headers=ada.headers
    )
    assert both.status_code == 422
    one = await client.get(f"{url}/{cy.id}", headers=bob.headers)
    assert one.json() == {
        "user_id": str(cy.id),
        "username": "cy",
        "role": "editor",
        "joined_at": by_name.json()["joined_at"],
    }
    listed = (await client.get(url, headers=bob.headers)).json()
    assert [(m["username"], m["role"]) for m in listed["items"]] == [
        ("ada", "owner"),
        ("bob", "viewer"),
        ("cy", "editor"),
    ]


async def test_the_last_owner_cannot_leave_or_step_down(
    client: httpx.AsyncClient, team: Team
) -> None:
    owner = team.owner
    me = f"/api/v1/projects/{team.project_id}/members/{owner.id}"
    leave = await client.delete(me, headers=owner.headers)
    assert leave.status_code == 409
    assert leave.json()["code"] == "last-owner"
    demote = await client.patch(me, json={"role": "editor"}, headers=owner.headers)
    assert demote.status_code == 409
    # With a second owner, the first may go.
    promote = await client.patch(
        f"/api/v1/projects/{team.project_id}/members/{team.editor.id}",
        json={"role": "owner"},
        headers=owner.headers,
    )
    assert promote.json()["role"] == "owner"
    assert (await client.delete(me, headers=owner.headers)).status_code == 204
    gone = await client.get(f"/api/v1/projects/{team.project_id}", headers=owner.headers)
    assert gone.status_code == 404


async def test_members_leave_and_lose_their_assignments(
    client: httpx.AsyncClient, team: Team
) -> None:
    task = await new_task(client, team.owner, team.project_id, assignee_id=str(team.editor.id))
    assert task["assignee"] == {"id": str(team.editor.id), "username": "eddie"}
    leave = await client.delete(
        f"/api/v1/projects/{team.project_id}/members/{team.editor.id}",
        headers=team.editor.headers,
    )
    assert leave.status_code == 204
    after = await get_task(client, team.owner, task["id"])
    assert after["assignee"] is None
    assert after["version"] == task["version"] + 1
    history = (
        await client.get(f"/api/v1/tasks/{task['id']}/activity", headers=team.owner.headers)
    ).json()["items"]
    assert history[0]["changes"] == [
        {"field": "assignee_id", "old": str(team.editor.id), "new": None}
    ]
    assert history[0]["actor"]["username"] == "eddie"
    # A viewer may leave, but not remove someone else.
    other = await client.delete(
        f"/api/v1/projects/{team.project_id}/members/{team.owner.id}",
        headers=team.viewer.headers,
    )
    assert other.status_code == 403


async def test_an_archived_project_is_read_only(client: httpx.AsyncClient, team: Team) -> None:
    task = await new_task(client, team.owner, team.project_id)
    url = f"/api/v1/projects/{team.project_id}"
    archived = await client.patch(url, json={"archived": True}, headers=team.owner.headers)
    assert archived.json()["archived"] is True
    change = await client.patch(
        f"/api/v1/tasks/{task['id']}",
        json={"title": "New"},
        headers=team.editor.with_headers(if_match="*"),
    )
    assert change.status_code == 409
    assert change.json()["code"] == "project-archived"
    create = await client.post(
        "/api/v1/tasks",
        json={"title": "x", "project_id": team.project_id},
        headers=team.editor.headers,
    )
    assert create.status_code == 409
    assert (await get_task(client, team.viewer, task["id"]))["title"] == "A task"
    active = (await client.get("/api/v1/projects", headers=team.owner.headers)).json()
    assert team.project_id not in [p["id"] for p in active["items"]]
    listed = await client.get(
        "/api/v1/projects", params={"archived": True}, headers=team.owner.headers
    )
    assert [p["id"] for p in listed.json()["items"]] == [team.project_id]
    unarchived = await client.patch(url, json={"archived": False}, headers=team.owner.headers)
    assert unarchived.json()["archived"] is False


async def test_deleting_a_project_deletes_its_tasks(client: httpx.AsyncClient, team: Team) -> None:
    task = await new_task(client, team.owner, team.project_id)
    url = f"/api/v1/projects/{team.project_id}"
    assert (await client.delete(url, headers=team.owner.headers)).status_code == 204
    assert (await client.get(url, headers=team.owner.headers)).status_code == 404
    gone = await client.get(f"/api/v1/tasks/{task['id']}", headers=team.owner.headers)
    assert gone.status_code == 404


async def test_probing_for_accounts_through_invitations_is_throttled(
    client: httpx.AsyncClient, people: People
) -> None:
    ada = await people("ada")
    url = f"/api/v1/projects/{await new_project(client, ada)}/members"
    statuses = [
        (await client.post(url, json={"username": f"guess{i}"}, headers=ada.headers)).status_code
        for i in range(31)
    ]
    assert statuses == [409] * 30 + [429]
