"""The benchmark scenarios: one ``Scenario`` per measured request, declared in ``SCENARIOS``.

A scenario is one HTTP request that wrk sends over and over, and the status it must answer.
Adding one is adding an entry to ``SCENARIOS``; a scenario that needs data (a user, a token,
articles) declares a ``seed`` coroutine, run once against the live server before the load,
whose returned values fill the ``$name`` placeholders of the path, headers and body::

    async def seed_reader(ctx: SeedContext) -> dict[str, str]:
        await ctx.client.post("/api/v1/auth/register", json=READER)
        login = await ctx.client.post("/api/v1/auth/login", json=READER)
        return {"token": login.json()["access_token"]}

    Scenario(
        name="me",
        path="/api/v1/users/me",
        headers={"Authorization": "Bearer $token"},
        seed=seed_reader,
        bound_by="CPU in Python: JWT verification, one query",
    )

Placeholders use ``string.Template`` syntax (``$name`` or ``${name}``; ``$$`` is a literal
dollar). ``${unique}`` is reserved: wrk replaces it, per request, with a value no other request
of the run uses, so a POST can create a new resource every time
(``body='{"username": "u${unique}", ...}'``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from string import Template
from typing import TYPE_CHECKING, Literal

import httpx

from bench.errors import BenchError

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

UNIQUE = "${unique}"
"""Replaced by wrk, per request, with a value unique over the run (see ``lua/scenario.lua``)."""


@dataclass(frozen=True)
class SeedContext:
    """What a seed step gets: a client on the live server, the seed size and the database."""

    client: httpx.AsyncClient
    size: int
    database_url: str


Seed = Callable[[SeedContext], Awaitable[Mapping[str, str]]]


@dataclass(frozen=True)
class Request:
    """One concrete HTTP request; ``${unique}`` may remain, for wrk to fill per request."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: str | None

    def with_unique(self, value: str) -> Request:
        """This request with ``${unique}`` replaced by ``value``, as wrk does per request."""
        return Request(
            method=self.method,
            path=self.path.replace(UNIQUE, value),
            headers={name: text.replace(UNIQUE, value) for name, text in self.headers.items()},
            body=None if self.body is None else self.body.replace(UNIQUE, value),
        )


@dataclass(frozen=True)
class Scenario:
    """One measured request.

    ``expect`` is the status every response must have: any other status, like any socket
    error, counts as an error and fails the scenario. ``target`` says which server answers:
    Mainspring (``app``) or the raw ASGI baseline. ``baseline`` names the baseline scenario this
    one's requests per second are divided by in the report. ``bound_by`` says, for the reader
    of the report, what limits the figure.
    """

    name: str
    path: str
    bound_by: str
    method: str = "GET"
    headers: Mapping[str, str] = field(default_factory=dict)
    body: str | None = None
    expect: int = 200
    target: Literal["app", "baseline"] = "app"
    baseline: str | None = "baseline-json"
    seed: Seed | None = None

    @property
    def label(self) -> str:
        """The request as the report shows it: ``GET /healthz``."""
        return f"{self.method} {self.path}"

    def request(self, values: Mapping[str, str]) -> Request:
        """The request with the seed's ``values`` in place of its ``$name`` placeholders."""

        def fill(text: str) -> str:
            try:
                return Template(text).substitute(values, unique=UNIQUE)
            except KeyError as exc:
                raise BenchError(f"{self.name}: the seed gave no value for ${exc.args[0]}") from exc

        return Request(
            method=self.method,
            path=fill(self.path),
            headers={name: fill(text) for name, text in self.headers.items()},
            body=None if self.body is None else fill(self.body),
        )


async def register_and_sign_in(ctx: SeedContext, account: Mapping[str, str], label: str) -> str:
    """Register ``account`` over HTTP and sign it in; returns its access token."""
    await ctx.client.post("/api/v1/auth/register", json=account)
    login = await ctx.client.post(
        "/api/v1/auth/login",
        json={"identifier": account["username"], "password": account["password"]},
    )
    if login.status_code != 200:
        raise BenchError(f"{label}: signing in answered {login.status_code}")
    return str(login.json()["access_token"])


async def insert_users(session: AsyncSession, names: Iterable[str]) -> None:
    """Users named ``names``, inserted in batches, without passwords: they never sign in."""
    import uuid

    from sqlalchemy import insert

    from mainspring.accounts.models import User

    rows = [
        {
            "id": uuid.uuid4(),
            "email": f"{name}@bench.example.com",
            "username": name,
            "username_key": name,
            "display_name": name,
        }
        for name in names
    ]
    for start in range(0, len(rows), 2000):
        await session.execute(insert(User), rows[start : start + 2000])


TASK_BOARD_USER = {
    "email": "tasks@bench.example.com",
    "username": "bench_tasks",
    "password": "a bench of tasks, fifty thousand strong",
}
TASKS_PER_SIZE_UNIT = 50
"""The task list scenario sees ``--size`` x 50 tasks: 50 000 with the default size."""


async def seed_task_board(ctx: SeedContext) -> dict[str, str]:
    """A signed-in user, member of 100 projects holding 50 000 tasks; returns the access token
    and one of the projects.

    The user registers and signs in over HTTP; the tasks go straight into the database through
    ``mainspring.todo.seed.seed_demo`` (bulk INSERTs: 50 000 POSTs would outlast the load).
    """
    # The application is imported here, not at the top: the harness runs without loading it.
    import random

    from sqlalchemy import select as select_rows

    from mainspring.accounts.models import User
    from mainspring.core.config import Settings
    from mainspring.core.db import Database
    from mainspring.todo.models import Project
    from mainspring.todo.seed import seed_demo

    token = await register_and_sign_in(ctx, TASK_BOARD_USER, "todo-task-list")
    database = Database(Settings(database_url=ctx.database_url))
    try:
        async with database.session() as session:
            user = await session.scalar(
                select_rows(User).where(User.username_key == TASK_BOARD_USER["username"])
            )
            assert user is not None
            await seed_demo(session, [user], random.Random(2026), ctx.size * TASKS_PER_SIZE_UNIT)
            project = await session.scalar(
                select_rows(Project.id).where(Project.created_by_id == user.id).limit(1)
            )
    finally:
        await database.dispose()
    return {"token": token, "project": str(project)}


SOCIAL_READER = {
    "email": "reader@bench.example.com",
    "username": "bench_reader",
    "password": "a reader of ten thousand timelines",
}
SOCIAL_USERS_PER_SIZE_UNIT = 10
SOCIAL_SIZE_UNITS_PER_SEED_SIZE = 3
"""The home timeline scenario sees ``--size`` x 10 users and about ``--size`` x 100 posts:
10 000 users and 100 000 posts with the default size (``seed_demo`` writes 300 per size)."""


async def seed_social_network(ctx: SeedContext) -> dict[str, str]:
    """A signed-in reader inside a network of 10 000 users and 100 000 posts (default size);
    returns the reader's access token.

    The reader registers and signs in over HTTP; the other users (without passwords: they never
    sign in) and ``mainspring.social.seed.seed_demo``'s follows, posts, likes and notifications
    go straight into the database.
    """
    import random

    from sqlalchemy import select as select_rows

    from mainspring.accounts.models import User
    from mainspring.core.config import Settings
    from mainspring.core.db import Database
    from mainspring.social.seed import seed_demo

    token = await register_and_sign_in(ctx, SOCIAL_READER, "home-timeline")
    database = Database(Settings(database_url=ctx.database_url))
    try:
        async with database.session() as session:
            names = [f"bench_social_{i}" for i in range(ctx.size * SOCIAL_USERS_PER_SIZE_UNIT)]
            await insert_users(session, names)
            # Only this scenario's users: other seeds may share the database.
            own = select_rows(User).where(User.username.in_([*names, SOCIAL_READER["username"]]))
            users = list((await session.scalars(own)).all())
            size = max(1, ctx.size // SOCIAL_SIZE_UNITS_PER_SEED_SIZE)
            await seed_demo(session, users, random.Random(2026), size)
    finally:
        await database.dispose()
    return {"token": token}


BLOG_READER = {
    "email": "blog-reader@bench.example.com",
    "username": "bench_blog_reader",
    "password": "a reader of ten thousand articles",
}
BLOG_AUTHORS_PER_SIZE_UNIT = 1
BLOG_ARTICLES_PER_SIZE_UNIT = 10
BLOG_FOLLOWED_AUTHORS = 50
"""The blog scenarios see ``--size`` authors and ``--size`` x 10 articles (1 000 authors and
10 000 articles with the default size); the reader follows 50 of the authors."""


async def seed_blog(ctx: SeedContext) -> dict[str, str]:
    """A signed-in reader, authors with published articles, comments and favorites (written
    by ``mainspring.blog.seed.seed_demo``), follows for the feed; returns the reader's token
    and one article's slug."""
    from sqlalchemy import select as select_rows

    from mainspring.accounts.models import User
    from mainspring.blog.models import Article
    from mainspring.core.config import Settings
    from mainspring.core.db import Database

    token = await register_and_sign_in(ctx, BLOG_READER, "blog")
    database = Database(Settings(database_url=ctx.database_url))
    try:
        async with database.session() as session:
            names = [f"bench_author_{i}" for i in range(ctx.size * BLOG_AUTHORS_PER_SIZE_UNIT)]
            seeded = await session.scalar(select_rows(User.id).where(User.username == names[0]))
            if seeded is None:  # the blog scenarios share one database and one seed
                await _seed_authors(session, names)
            slug = await session.scalar(
                select_rows(Article.slug).where(Article.status == "published").limit(1)
            )
    finally:
        await database.dispose()
    if slug is None:
        raise BenchError("blog: the seed published no article")
    return {"token": token, "slug": slug}


async def _seed_authors(session: AsyncSession, names: list[str]) -> None:
    """Authors, their articles (with comments and favorites), and the reader's follows."""
    import random

    from sqlalchemy import insert
    from sqlalchemy import select as select_rows

    from mainspring.accounts.models import User
    from mainspring.blog.seed import seed_demo
    from mainspring.social.models import Follow

    await insert_users(session, names)
    authors = list((await session.scalars(select_rows(User).where(User.username.in_(names)))).all())
    rng = random.Random(2026)
    await seed_demo(session, authors, rng, len(names) * BLOG_ARTICLES_PER_SIZE_UNIT)
    reader = await session.scalar(
        select_rows(User.id).where(User.username == BLOG_READER["username"])
    )
    followed = rng.sample(authors, min(BLOG_FOLLOWED_AUTHORS, len(authors)))
    await session.execute(
        insert(Follow),
        [{"follower_id": reader, "followee_id": author.id} for author in followed],
    )


SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        name="baseline-json",
        path="/json",
        target="baseline",
        baseline=None,
        bound_by="the server alone: uvicorn, httptools, uvloop; no framework",
    ),
    Scenario(
        name="baseline-redirect",
        path="/redirect",
        expect=302,
        target="baseline",
        baseline=None,
        bound_by="the server alone: uvicorn, httptools, uvloop; no framework",
    ),
    Scenario(
        name="health",
        path="/healthz",
        bound_by="CPU in Python: middleware stack, routing, response model, access log",
    ),
    Scenario(
        name="not-found",
        path="/no/such/page",
        expect=404,
        bound_by="CPU in Python: middleware stack, a routing miss, problem+json rendering",
    ),
    Scenario(
        name="readyz",
        path="/readyz",
        bound_by="two database round trips per request: the database and job-broker checks",
    ),
    Scenario(
        name="todo-task-list",
        path="/api/v1/tasks?project_id=$project&status=todo&label=bug&sort=position",
        headers={"Authorization": "Bearer $token"},
        seed=seed_task_board,
        bound_by="the database: one project's board column (of 50 000 tasks in 100 projects), "
        "filtered by label: count, page, labels (3 indexed statements) behind a JWT check",
    ),
    Scenario(
        name="home-timeline",
        path="/api/v1/timeline?limit=20",
        headers={"Authorization": "Bearer $token"},
        seed=seed_social_network,
        bound_by="the database: fan-out on read over the reader's followees (of 10 000 users and "
        "100 000 posts), then the slice's posts (2 statements) behind a JWT check",
    ),
    Scenario(
        name="article-list",
        path="/api/v1/articles?limit=20",
        seed=seed_blog,
        bound_by="the database and serialisation: the newest 20 of 10 000 published articles "
        "with authors, tags and favorite counts, anonymous",
    ),
    Scenario(
        name="single-article",
        path="/api/v1/articles/$slug",
        headers={"Authorization": "Bearer $token"},
        seed=seed_blog,
        bound_by="CPU in Python: one article by its unique slug with its author and flags "
        "(HTML rendered at write time) behind a JWT check",
    ),
    Scenario(
        name="article-feed",
        path="/api/v1/articles/feed?limit=20",
        headers={"Authorization": "Bearer $token"},
        seed=seed_blog,
        bound_by="the database: the newest articles of the 50 authors the reader follows, "
        "behind a JWT check",
    ),
)


def select(names: Iterable[str], scenarios: Iterable[Scenario] = SCENARIOS) -> list[Scenario]:
    """The named scenarios (all when ``names`` is empty) plus the baselines they refer to.

    Baselines come first, so that every run measures its ceiling; then the rest, in the
    order they are declared.
    """
    known = {scenario.name: scenario for scenario in scenarios}
    wanted = set(names) or set(known)
    unknown = sorted(wanted - set(known))
    if unknown:
        raise BenchError(f"unknown scenario(s): {', '.join(unknown)}; known: {', '.join(known)}")
    for name in list(wanted):
        baseline = known[name].baseline
        if baseline is not None:
            if baseline not in known or known[baseline].target != "baseline":
                raise BenchError(f"{name}: its baseline {baseline!r} is not a baseline scenario")
            wanted.add(baseline)
    chosen = [scenario for scenario in known.values() if scenario.name in wanted]
    return sorted(chosen, key=lambda scenario: scenario.target != "baseline")
