"""Demo data for the task manager: projects shared between the demo users, and ``size`` tasks
spread over them with labels, assignees, due dates, checklists and comments.

Rows are written with bulk INSERTs (a thousand at a time) rather than through the services, so
that the benchmark's 50 000 tasks take seconds; the invariants the services keep are kept here
too: every project starts on the default board (To do, In progress, Done), positions are 0..n-1
in every column, ``completed_at`` is set exactly for tasks in the done column, assignees are
members, descriptions come with their rendered HTML.
"""

from __future__ import annotations

import random
import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from mainspring.accounts.models import User
from mainspring.core.db import utcnow, uuid7
from mainspring.core.markdown import render_markdown
from mainspring.todo.models import (
    DEFAULT_COLUMNS,
    PRIORITIES,
    BoardColumn,
    Comment,
    Project,
    ProjectMember,
    Subtask,
    Task,
    TaskLabel,
)
from mainspring.todo.roles import Role

CHUNK = 1000
TASKS_PER_PROJECT = 500
PROJECT_NAMES = (
    "Website relaunch",
    "Mobile app",
    "Billing",
    "Customer onboarding",
    "Infrastructure",
    "Hiring",
    "Quarterly planning",
    "Documentation",
)
VERBS = ("Write", "Review", "Fix", "Plan", "Ship", "Test", "Design", "Refactor", "Deploy")
OBJECTS = (
    "the login page",
    "release notes",
    "the billing bug",
    "the onboarding flow",
    "the search index",
    "the API docs",
    "the mobile layout",
    "the backup script",
    "the metrics dashboard",
    "the invoice export",
)
LABELS = ("bug", "feature", "docs", "ops", "design", "backend", "frontend", "q4", "research")
DESCRIPTIONS = (
    "",
    "Agreed in the weekly: **keep it small**.",
    "Steps:\n\n1. Reproduce\n2. Write a failing test\n3. Fix it",
    "See the [design notes](https://example.com/notes) first.",
)
COLUMN_WEIGHTS = (5, 2, 3)  # to do, in progress, done: the default board
SUBTASKS = ("Outline", "Draft", "Review", "Publish")
COMMENT = "On it."


async def seed_demo(
    session: AsyncSession, users: Sequence[User], rng: random.Random, size: int
) -> None:
    """Create demo projects for ``users`` and ``size`` tasks in them (nothing without users)."""
    if not users or size <= 0:
        return
    members, boards = await _projects(session, users, rng, max(1, -(-size // TASKS_PER_PROJECT)))
    await _tasks(session, members, boards, rng, size)


async def _projects(
    session: AsyncSession, users: Sequence[User], rng: random.Random, count: int
) -> tuple[dict[uuid.UUID, list[uuid.UUID]], dict[uuid.UUID, list[uuid.UUID]]]:
    """``count`` projects, each owned by one user and shared with up to three others, on the
    default board; returns each project's member ids and column ids (in board order)."""
    now = utcnow()
    projects: list[dict[str, Any]] = []
    columns: list[dict[str, Any]] = []
    boards: dict[uuid.UUID, list[uuid.UUID]] = {}
    memberships: list[dict[str, Any]] = []
    members: dict[uuid.UUID, list[uuid.UUID]] = {}
    for i in range(count):
        owner = users[i % len(users)]
        project_id = uuid7()
        name = PROJECT_NAMES[i % len(PROJECT_NAMES)]
        if i >= len(PROJECT_NAMES):
            name = f"{name} {i // len(PROJECT_NAMES) + 1}"
        projects.append(
            {
                "id": project_id,
                "name": name,
                "description": f"Demo project of {owner.username}.",
                "archived": False,
                "created_by_id": owner.id,
                "created_at": now,
                "updated_at": now,
            }
        )
        others = [user for user in users if user.id != owner.id]
        team = rng.sample(others, k=min(3, len(others)))
        roles = [(owner, Role.OWNER)] + [
            (user, rng.choice((Role.EDITOR, Role.EDITOR, Role.VIEWER))) for user in team
        ]
        memberships += [
            {"project_id": project_id, "user_id": user.id, "role": role, "created_at": now}
            for user, role in roles
        ]
        members[project_id] = [user.id for user, _ in roles]
        boards[project_id] = [uuid7() for _ in DEFAULT_COLUMNS]
        columns += [
            {
                "id": column_id,
                "project_id": project_id,
                "name": column_name,
                "position": position,
                "colour": colour,
                "wip_limit": None,
                "is_done": is_done,
                "archived_at": None,
                "created_at": now,
                "updated_at": now,
            }
            for position, (column_id, (column_name, colour, is_done)) in enumerate(
                zip(boards[project_id], DEFAULT_COLUMNS, strict=True)
            )
        ]
    await session.execute(insert(Project), projects)
    await session.execute(insert(ProjectMember), memberships)
    await session.execute(insert(BoardColumn), columns)
    return members, boards


async def _tasks(
    session: AsyncSession,
    members: dict[uuid.UUID, list[uuid.UUID]],
    boards: dict[uuid.UUID, list[uuid.UUID]],
    rng: random.Random,
    size: int,
) -> None:
    now = utcnow()
    rendered = {text: render_markdown(text) for text in (*DESCRIPTIONS, COMMENT)}
    positions: Counter[uuid.UUID] = Counter()
    done_index = next(i for i, (_, _, is_done) in enumerate(DEFAULT_COLUMNS) if is_done)
    project_ids = list(members)
    batch: dict[str, list[dict[str, Any]]] = {
        "tasks": [],
        "labels": [],
        "subtasks": [],
        "comments": [],
    }
    for n in range(size):
        project_id = project_ids[n % len(project_ids)]
        team = members[project_id]
        index = rng.choices(range(len(DEFAULT_COLUMNS)), weights=COLUMN_WEIGHTS)[0]
        column_id = boards[project_id][index]
        task_id = uuid7()
        created = now - timedelta(minutes=rng.randint(60, 60 * 24 * 60))
        due = now + timedelta(hours=rng.randint(-240, 720)) if rng.random() < 0.7 else None
        description = rng.choice(DESCRIPTIONS)
        batch["tasks"].append(
            {
                "id": task_id,
                "project_id": project_id,
                "title": f"{rng.choice(VERBS)} {rng.choice(OBJECTS)} #{n + 1}",
                "description": description,
                "description_html": rendered[description],
                "column_id": column_id,
                "priority": rng.randrange(len(PRIORITIES)),
                "due_at": due,
                "assignee_id": rng.choice([*team, None]),
                "created_by_id": team[0],
                "position": positions[column_id],
                "completed_at": created + timedelta(days=1) if index == done_index else None,
                "version": 1,
                "created_at": created,
                "updated_at": created,
            }
        )
        positions[column_id] += 1
        batch["labels"] += [
            {"task_id": task_id, "label": label}
            for label in rng.sample(LABELS, k=rng.randint(0, 3))
        ]
        if rng.random() < 0.1:
            batch["subtasks"] += [
                {"id": uuid7(), "task_id": task_id, "title": title, "done": i == 0, "position": i}
                for i, title in enumerate(SUBTASKS)
            ]
        if rng.random() < 0.05:
            batch["comments"].append(
                {
                    "id": uuid7(),
                    "task_id": task_id,
                    "author_id": rng.choice(team),
                    "body": COMMENT,
                    "body_html": rendered[COMMENT],
                    "created_at": created,
                    "updated_at": created,
                }
            )
        if len(batch["tasks"]) >= CHUNK:
            await _flush(session, batch)
    await _flush(session, batch)


async def _flush(session: AsyncSession, batch: dict[str, list[dict[str, Any]]]) -> None:
    """Insert what ``batch`` holds, parents first, and empty it."""
    models: tuple[tuple[Any, str], ...] = (
        (Task, "tasks"),
        (TaskLabel, "labels"),
        (Subtask, "subtasks"),
        (Comment, "comments"),
    )
    for model, key in models:
        if batch[key]:
            # render_nulls: one batch per chunk, instead of one per set of non-null keys.
            await session.execute(
                insert(model), batch[key], execution_options={"render_nulls": True}
            )
    for rows in batch.values():
        rows.clear()
