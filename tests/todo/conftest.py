"""Fixtures of the task manager's tests: people (the shared ``new_user`` factory of
``tests/fixtures/users.py``) and a team around a project."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx
import pytest

from tests.fixtures.users import NewUser
from tests.todo.workspace import Person, Team, add_member, new_project

People = Callable[[str], Awaitable[Person]]


@pytest.fixture
def people(new_user: NewUser) -> People:
    """``await people("ada")``: a verified account, signed in; its ``headers`` authenticate."""
    return new_user


@pytest.fixture
async def team(client: httpx.AsyncClient, people: People) -> Team:
    owner, editor, viewer, outsider = [
        await people(name) for name in ("olivia", "eddie", "vera", "xavier")
    ]
    project_id = await new_project(client, owner, "Launch")
    await add_member(client, project_id, owner, editor, "editor")
    await add_member(client, project_id, owner, viewer, "viewer")
    return Team(project_id, owner, editor, viewer, outsider)
