"""Fixtures of the task manager's tests: people (accounts created through the accounts
service, signed in through the real login endpoint) and a team around a project."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx
import pytest
from fastapi import FastAPI

from mainspring.accounts.service.registration import registration_service
from mainspring.core.config import Settings
from tests.todo.workspace import Person, Team, add_member, new_project

PASSWORD = "correct horse battery staple"
People = Callable[[str], Awaitable[Person]]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Cheap password hashing: these tests sign many people in, none of them tests Argon2."""
    return settings.model_copy(update={"password_hash_memory_kib": 8, "password_hash_time_cost": 1})


@pytest.fixture
def people(app: FastAPI, client: httpx.AsyncClient) -> People:
    """``await people("ada")``: a verified account, signed in; its ``headers`` authenticate."""

    async def make(username: str) -> Person:
        email = f"{username}@example.com"
        async with app.state.db.session() as session:
            user = await registration_service.create_account(
                session,
                app.state.password_hasher,
                email=email,
                username=username,
                password=PASSWORD,
                verified=True,
            )
        login = await client.post(
            "/api/v1/auth/login", json={"identifier": username, "password": PASSWORD}
        )
        assert login.status_code == 200, login.text
        token = login.json()["access_token"]
        return Person(user.id, username, email, {"Authorization": f"Bearer {token}"})

    return make


@pytest.fixture
async def team(client: httpx.AsyncClient, people: People) -> Team:
    owner, editor, viewer, outsider = [
        await people(name) for name in ("olivia", "eddie", "vera", "xavier")
    ]
    project_id = await new_project(client, owner, "Launch")
    await add_member(client, project_id, owner, editor, "editor")
    await add_member(client, project_id, owner, viewer, "viewer")
    return Team(project_id, owner, editor, viewer, outsider)
