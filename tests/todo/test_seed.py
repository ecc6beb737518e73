"""The demo data keeps the invariants the services keep."""

from __future__ import annotations

import random
from collections import defaultdict

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from mainspring.accounts.models import User
from mainspring.todo.models import BoardColumn, ProjectMember, Task, TaskLabel
from mainspring.todo.seed import seed_demo
from tests.todo.conftest import People


async def test_seed_demo_builds_consistent_projects(
    app: FastAPI, client: httpx.AsyncClient, people: People
) -> None:
    ada = await people("ada")
    for name in ("bob", "cy", "dee"):
        await people(name)
    async with app.state.db.session() as session:
        users = list((await session.scalars(select(User).order_by(User.username))).all())
        await seed_demo(session, users, random.Random(7), 1200)
    async with app.state.db.session() as session:
        tasks = (await session.scalars(select(Task))).all()
        members = (
            await session.execute(select(ProjectMember.project_id, ProjectMember.user_id))
        ).all()
        labels = (await session.scalars(select(TaskLabel.task_id))).all()
        done_columns = set(
            (await session.scalars(select(BoardColumn.id).where(BoardColumn.is_done))).all()
        )
    assert len(tasks) == 1200
    assert labels  # some tasks carry labels
    team = defaultdict(set)
    for project_id, user_id in members:
        team[project_id].add(user_id)
    columns = defaultdict(list)
    for task in tasks:
        columns[(task.project_id, task.column_id)].append(task.position)
        assert (task.completed_at is not None) == (task.column_id in done_columns)
        assert task.assignee_id is None or task.assignee_id in team[task.project_id]
    for positions in columns.values():
        assert sorted(positions) == list(range(len(positions)))
    # The API sees them: Ada's share, with totals, and they are searchable.
    listed = await client.get("/api/v1/tasks", params={"q": "release"}, headers=ada.headers)
    assert listed.status_code == 200
    assert listed.json()["total"] > 0
