"""The benchmark scenarios: one ``Scenario`` per measured request, declared in ``SCENARIOS``.

A scenario is one HTTP request that wrk sends over and over, and the status it must answer.
Adding one is adding an entry to ``SCENARIOS``; a scenario that needs data (a user, a token,
articles) declares a ``seed`` coroutine (``bench/seeds/<module>.py``), run once against the
live server before the load, whose returned values fill the ``$name`` placeholders of the path,
headers and body::

    async def seed_reader(ctx: SeedContext) -> dict[str, str]:
        token = await register_and_sign_in(ctx, READER, "me")
        return {"token": token}

    Scenario(
        name="me",
        path="/api/v1/users/me",
        headers={"Authorization": "Bearer $token"},
        seed=seed_reader,
        bound_by="CPU in Python: JWT verification, one query",
    )

Placeholders use ``string.Template`` syntax (``$name`` or ``${name}``; ``$$`` is a literal
dollar). Two kinds of values change from one request to the next, filled by wrk itself:

* ``${unique}`` is reserved: wrk replaces it, per request, with a value no other request of the
  run uses, so a POST can create a new resource every time
  (``body='{"username": "u${unique}", ...}'``);
* a seed value that is a tuple of texts is a *pool*: wrk takes its values in turn, one per
  request, round-robin. ``{"token": (t1, t2, t3)}`` spreads the load over three users, which is
  how a scenario measures a per-user rate limit without running into it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from string import Template
from typing import Literal

from bench.errors import BenchError
from bench.seeds.blog import BLOG_READER, seed_blog, seed_storm_reader
from bench.seeds.context import Seed, SeedValues
from bench.seeds.realworld import seed_realworld
from bench.seeds.shop import seed_buyers, seed_catalogue, seed_shoppers
from bench.seeds.shortener import seed_link_creators, seed_links, seed_uncached_links
from bench.seeds.social import seed_posters, seed_social_network
from bench.seeds.todo import seed_task_board

UNIQUE_NAME = "unique"
UNIQUE = "${unique}"
"""Replaced by wrk, per request, with a value unique over the run (see ``lua/scenario.lua``)."""


def pool_placeholder(name: str) -> str:
    """How a pool's value stays in a request for wrk to fill per request: ``${name}``."""
    return "${" + name + "}"


@dataclass(frozen=True)
class Request:
    """One HTTP request as wrk receives it: ``${unique}`` and the placeholders of ``pools`` may
    remain, for wrk to fill per request."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: str | None
    pools: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Per placeholder name, the values wrk takes in turn (see ``concrete``)."""

    def concrete(self, unique: str, turn: int = 0) -> Request:
        """The request as wrk sends it on its ``turn``-th request of a run (counting from 0):
        ``${unique}`` is ``unique``, and each pool's placeholder its value ``turn`` modulo the
        pool's size."""

        def fill(text: str) -> str:
            text = text.replace(UNIQUE, unique)
            for name, values in self.pools.items():
                text = text.replace(pool_placeholder(name), values[turn % len(values)])
            return text

        return Request(
            method=self.method,
            path=fill(self.path),
            headers={name: fill(text) for name, text in self.headers.items()},
            body=None if self.body is None else fill(self.body),
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
    connections: int | None = None
    """Connections of the measured request, when not the run's ``--connections``."""
    storm: Scenario | None = None
    """Another request sent all along on ``storm_connections`` connections of its own (a mixed
    scenario): the measured request's latency is what it gets while the storm runs."""
    storm_connections: int = 16

    @property
    def label(self) -> str:
        """The request as the report shows it: ``GET /healthz``."""
        return f"{self.method} {self.path}"

    def request(self, values: SeedValues) -> Request:
        """The request with the seed's ``values`` in place of its ``$name`` placeholders; a
        pool's placeholder stays, as ``${name}``, with the pool carried along for wrk."""
        if UNIQUE_NAME in values:
            raise BenchError(f"{self.name}: ${UNIQUE_NAME} is wrk's, a seed cannot give it")
        pools = {name: value for name, value in values.items() if isinstance(value, tuple)}
        for name, pool in pools.items():
            if not pool:
                raise BenchError(f"{self.name}: the seed gave an empty pool for ${name}")
            if any("\n" in value for value in pool):
                raise BenchError(f"{self.name}: a value of the pool ${name} spans lines")
        texts = {
            name: pool_placeholder(name) if isinstance(value, tuple) else value
            for name, value in values.items()
        }

        def fill(text: str) -> str:
            try:
                return Template(text).substitute(texts, unique=UNIQUE)
            except KeyError as exc:
                raise BenchError(f"{self.name}: the seed gave no value for ${exc.args[0]}") from exc

        return Request(
            method=self.method,
            path=fill(self.path),
            headers={name: fill(text) for name, text in self.headers.items()},
            body=None if self.body is None else fill(self.body),
            pools=pools,
        )


LOGIN = Scenario(
    name="login",
    method="POST",
    path="/api/v1/auth/login",
    headers={"Content-Type": "application/json"},
    body=f'{{"identifier": "{BLOG_READER["username"]}", "password": "{BLOG_READER["password"]}"}}',
    bound_by="Argon2id: one verification per request, by design",
)
"""The storm of the ``login-storm-*`` scenarios: the blog reader signing in, over and over."""

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
        name="login-storm-health",
        path="/healthz",
        connections=8,
        storm=LOGIN,
        seed=seed_storm_reader,
        bound_by="the event loop's share of the CPU while logins saturate it: each login is "
        "an Argon2id verification on the hasher's lower-priority threads",
    ),
    Scenario(
        name="todo-task-list",
        path="/api/v1/tasks?project_id=$project&column_id=$column&label=bug&sort=position",
        headers={"Authorization": "Bearer $token"},
        seed=seed_task_board,
        bound_by="one project's board column (of 50 000 tasks in 100 projects) filtered by "
        "label: the count (an index-only scan, a label probe a task) and the page as a deferred "
        "join (its ids from the board index in order, then 20 tasks read), behind a JWT check",
    ),
    Scenario(
        name="shop-catalog",
        path="/api/v1/shop/products?category=clothing&attr=colour:blue&min_price=1000"
        "&in_stock=true&sort=price&page_size=20",
        seed=seed_catalogue,
        bound_by="a filtered catalogue page (of 2 000 products): category subtree, attribute, "
        "price and stock filters, the count, the page and three facet statements",
    ),
    Scenario(
        name="shop-add-to-cart",
        method="POST",
        path="/api/v1/shop/cart/lines",
        headers={"Authorization": "Bearer $token", "Content-Type": "application/json"},
        body='{"variant_id": "$variant", "quantity": 1}',
        seed=seed_shoppers,
        bound_by="the write and its commit: a per-user rate limit hit, the variant checked, an "
        "upsert of the line, the cart read back with today's prices; a pool of shoppers",
    ),
    Scenario(
        name="shop-checkout",
        method="POST",
        path="/api/v1/shop/orders",
        expect=201,
        headers={
            "Authorization": "Bearer $token",
            "Content-Type": "application/json",
            "Idempotency-Key": "bench-${unique}",
        },
        body="{}",
        seed=seed_buyers,
        bound_by="one transaction: the idempotency key claimed, two conditional stock "
        "decrements, the order and its lines written, the cart emptied, the confirmation mail "
        "queued; each request by the next buyer of a pool (a checkout empties a cart)",
    ),
    Scenario(
        name="home-timeline",
        path="/api/v1/timeline?limit=20",
        headers={"Authorization": "Bearer $token"},
        seed=seed_social_network,
        bound_by="the per-request floor (routing, middleware, the JWT check, a session and one "
        "round trip): fan-out on read over the reader's followees (of 10 000 users and 100 000 "
        "posts) and the slice's posts are one statement the database answers in under a ms",
    ),
    Scenario(
        name="create-post",
        method="POST",
        path="/api/v1/posts",
        expect=201,
        headers={"Authorization": "Bearer $token", "Content-Type": "application/json"},
        body='{"body": "Load test ${unique}: notes on #benchmarks"}',
        seed=seed_posters,
        bound_by="the write and its commit: a per-user rate limit hit, the post and its hashtag "
        "inserted (one writer at a time on SQLite), the post read back; each request signed "
        "by the next of a pool of users",
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
        name="login-storm-article",
        path="/api/v1/articles/$slug",
        headers={"Authorization": "Bearer $token"},
        connections=8,
        storm=LOGIN,
        seed=seed_blog,
        bound_by="single-article's work while logins saturate the CPU (Argon2id on the "
        "hasher's lower-priority threads)",
    ),
    Scenario(
        name="article-feed",
        path="/api/v1/articles/feed?limit=20",
        headers={"Authorization": "Bearer $token"},
        seed=seed_blog,
        bound_by="the reader's own kept feed (the 50 authors they follow), replayed before "
        "routing behind a JWT check: CPU in Python; with Redis, a round trip for the entry",
    ),
    Scenario(
        name="realworld-list",
        path="/realworld/api/articles?limit=20",
        seed=seed_realworld,
        bound_by="CPU in Python: the RealWorld list of 20 (of 1 000 articles) is the cached "
        "anonymous answer (a cache lookup, no SQL) behind routing and the middleware stack",
    ),
    Scenario(
        name="realworld-list-auth",
        path="/realworld/api/articles?limit=20",
        headers={"Authorization": "Token $token"},
        seed=seed_realworld,
        bound_by="the database: count, page and tags (3 statements, the reader's flags as "
        "EXISTS probes) and the RealWorld mapping of 20 articles, behind a JWT check",
    ),
    Scenario(
        name="realworld-article",
        path="/realworld/api/articles/$slug",
        seed=seed_realworld,
        bound_by="CPU in Python: the cached anonymous article (a cache lookup, no SQL) behind "
        "routing and the middleware stack",
    ),
    Scenario(
        name="realworld-404",
        path="/realworld/api/articles/no-such-article",
        expect=404,
        seed=seed_realworld,
        bound_by="CPU in Python: the cached absence of the slug (a cache lookup, no SQL), the "
        "domain error and the RealWorld error body",
    ),
    Scenario(
        name="realworld-login",
        method="POST",
        path="/realworld/api/users/login",
        headers={"Content-Type": "application/json"},
        body='{"user": {"email": "$email", "password": "$password"}}',
        seed=seed_realworld,
        bound_by="Argon2id by design: one verification of the production cost per sign-in "
        "(compare with `python -m bench.hashing`, a bare loop of the same parameters), then "
        "a new session row",
    ),
    # --- the URL shortener ----------------------------------------------------------------
    Scenario(
        name="redirect-cached",
        path="/$code",
        expect=302,
        headers={"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/130.0 Safari/537.36"},
        seed=seed_links,
        baseline="baseline-redirect",
        bound_by="CPU in Python: the kernel's middleware (security headers, request id, metrics, "
        "access log) around the fast path's LRU hit; the click appended to the buffer (flushed "
        "every second in one INSERT); no routing, no database",
    ),
    Scenario(
        name="redirect-uncached",
        path="/${code}",
        expect=302,
        headers={"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/130.0 Safari/537.36"},
        seed=seed_uncached_links,
        baseline="baseline-redirect",
        bound_by="the database: each request follows a code never followed before (a pool taken "
        "in turn): LRU and kernel-cache misses, routing, one indexed SELECT, the click buffered",
    ),
    Scenario(
        name="create-link",
        method="POST",
        path="/api/v1/links",
        expect=201,
        headers={"Authorization": "Bearer $token", "Content-Type": "application/json"},
        body='{"url": "https://93.184.215.14/bench/${unique}?utm_source=wrk", "tags": ["bench"]}',
        seed=seed_link_creators,
        bound_by="the write and its commit: the creation limit, the target normalised and vetted "
        "(an address: no DNS), a random code checked and inserted in a savepoint with its tag, "
        "the preview job enqueued, the link read back; creators taken in turn",
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
