"""The task manager's seed: the board of ``todo-task-list``."""

from __future__ import annotations

from bench.seeds.accounts import register_and_sign_in
from bench.seeds.context import SeedContext

TASK_BOARD_USER = {
    "email": "tasks@bench.example.com",
    "username": "bench_tasks",
    "password": "a bench of tasks, fifty thousand strong",
}
TASKS_PER_SIZE_UNIT = 50
"""The task list scenario sees ``--size`` x 50 tasks: 50 000 with the default size."""


async def seed_task_board(ctx: SeedContext) -> dict[str, str]:
    """A signed-in user, member of 100 projects holding 50 000 tasks; returns the access token,
    one of the projects and its first board column ("To do").

    The user registers and signs in over HTTP; the tasks go straight into the database through
    ``mainspring.todo.seed.seed_demo`` (bulk INSERTs: 50 000 POSTs would outlast the load).
    """
    import random

    from sqlalchemy import select

    from mainspring.accounts.models import User
    from mainspring.todo.models import BoardColumn, Project
    from mainspring.todo.seed import seed_demo

    token = await register_and_sign_in(ctx, TASK_BOARD_USER, "todo-task-list")
    async with ctx.session() as session:
        user = await session.scalar(
            select(User).where(User.username_key == TASK_BOARD_USER["username"])
        )
        assert user is not None
        await seed_demo(session, [user], random.Random(2026), ctx.size * TASKS_PER_SIZE_UNIT)
        project = await session.scalar(
            select(Project.id).where(Project.created_by_id == user.id).limit(1)
        )
        column = await session.scalar(
            select(BoardColumn.id).where(
                BoardColumn.project_id == project, BoardColumn.position == 0
            )
        )
    return {"token": token, "project": str(project), "column": str(column)}
