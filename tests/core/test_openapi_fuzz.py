"""Property-based fuzzing of the whole OpenAPI document, in process (schemathesis).

Every operation of the app, modules included, is called with inputs generated from the
document: its examples, then the boundaries of every schema and undeclared methods (the
*coverage* phase), then random valid and invalid inputs (*fuzzing*). Every check runs:

- no 5xx; only documented status codes, content types, headers and bodies;
- a request the document calls invalid is refused (4xx), and one it calls valid is accepted,
  or refused for what it names, never for its form: 400, 401, 403, 404, 409, 410, 412, 428 or
  429, but never 422, which in this API means "does not match the document";
- a method the document does not list at a path answers 405, with an ``Allow`` header that
  lists exactly the document's methods there; a request missing a required header is refused;
- a request without credentials to an operation that requires them is refused
  (``ignored_auth``).

So the document says exactly what the server does: the next mismatch fails CI. A new module's
operations are fuzzed once its tag is in one of the groups below (a test fails until it is).
``docs/architecture.md`` ("How the OpenAPI document is kept honest") says how a mismatch is
fixed.

The *stateful* phase runs too (``test_linked_calls_conform``): chains of calls linked by what
one answer gives the next (an id from a ``Location`` or a body, which schemathesis infers),
with the same checks plus those only a chain can make (a deleted resource stays gone, a
created one can be read).

Deterministic for CI: a fixed seed, hypothesis derandomized, a bounded number of examples.
"""

from __future__ import annotations

import asyncio
import itertools
import re
from collections.abc import Iterator
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig
from schemathesis.python import asgi

from mainspring.app import create_app
from mainspring.core.config import Settings
from tests.conftest import empty_database, empty_tables, forget_redis, make_settings
from tests.fixtures.users import new_user_headers, signed_in_user

ACCEPTED_REFUSALS = ["400", "401", "403", "404", "409", "410", "412", "428", "429"]
"""Refusals of a valid request for what it names (credentials, a missing or changed resource,
a conflict, a precondition, a rate limit). 422 is not one of them."""

CONFIG: dict[str, Any] = {
    "seed": 15,
    "phases": {
        "examples": {"enabled": True},
        "coverage": {"enabled": True},
        "fuzzing": {"enabled": True},
        "stateful": {"enabled": True, "max-steps": 6},
    },
    "checks": {
        "enabled": True,
        "positive_data_acceptance": {"expected-statuses": ["2xx", "3xx", *ACCEPTED_REFUSALS]},
    },
}

IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,240}$")
_calls = itertools.count()


@pytest.fixture(scope="module")
def fuzz_settings(database_url: str) -> Settings:
    return make_settings(database_url)


@pytest.fixture(scope="module")
def api_schema(fuzz_settings: Settings) -> Iterator[schemathesis.BaseSchema]:
    app = create_app(fuzz_settings)
    config = SchemathesisConfig.from_dict(CONFIG)
    yield schemathesis.openapi.from_asgi("/openapi.json", app, config=config)
    # The fuzzer's app runs on schemathesis' own event loop; empty the tables from a fresh one.
    empty_database(fuzz_settings)


@pytest.fixture
def auth_headers(fuzz_settings: Settings) -> dict[str, str]:
    """A signed-in user's bearer token, so the fuzzer gets past authentication: one user per
    test, so that a group that deletes its account (``DELETE /users/me``) or revokes its
    sessions leaves the other groups signed in."""
    return new_user_headers(create_app(fuzz_settings))


def _fresh_idempotency_key(case: schemathesis.Case[Any]) -> None:
    """Give a valid generated ``Idempotency-Key`` a suffix of its own for this call.

    A key names one operation: reused with another body it is refused with 422, as the IETF
    Idempotency-Key draft says (section 2.7). The fuzzer cannot know that a key is single-use,
    which no schema can say, so it sends the same generated key (the coverage phase's
    boundary strings) with many bodies. The key keeps the shape the generator chose, so the
    header's validation is still tested; an invalid key is left as it is, to be refused."""
    for name in list(case.headers or {}):
        if name.lower() == "idempotency-key":
            key = case.headers[name]
            if isinstance(key, str) and IDEMPOTENCY_KEY.match(key):
                case.headers[name] = f"{key}-{next(_calls)}"


schema = schemathesis.pytest.from_fixture("api_schema")

# The operations in groups by tag, one test each, so that ``make test`` (pytest-xdist) runs
# them side by side. A new module's tag joins a group (or a new group): until it does,
# ``test_every_operation_is_fuzzed`` fails.
ACCOUNTS = r"^(auth|two-factor|operations)$"
USERS = r"^users$"
BLOG = r"^blog$"
SOCIAL = r"^social: "
TASKS = r"^task manager: (tasks|exports)$"
PROJECTS = r"^task manager: (projects|invitations|board columns)$"
SHORTENER = r"^shortener"
SHOP_CATALOGUE = r"^shop: (catalogue|cart)$"
SHOP_ORDERS = r"^shop: (orders|payments|coupons|reports)$"
CHAT_ROOMS = r"^chat: rooms$"
CHAT_MESSAGES = r"^chat: messages$"

fuzz_settings_ = settings(
    max_examples=5,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)


def conforms(
    case: schemathesis.Case[Any], auth_headers: dict[str, str], *, excluded: tuple[Any, ...] = ()
) -> None:
    """Call ``case`` and run every check on the answer (but those ``excluded``)."""
    # Logging out would end the fuzzer's session for every later case; it runs anonymously.
    signed_in = (case.method, case.path) != ("POST", "/api/v1/auth/logout")
    _fresh_idempotency_key(case)
    headers = auth_headers if signed_in else None
    case.call_and_validate(headers=headers, excluded_checks=list(excluded))


@schema.include(tag_regex=ACCOUNTS).parametrize()
@fuzz_settings_
def test_accounts_conform(case: schemathesis.Case[Any], auth_headers: dict[str, str]) -> None:
    conforms(case, auth_headers)


@schema.include(tag_regex=USERS).parametrize()
@fuzz_settings_
def test_users_conform(case: schemathesis.Case[Any], auth_headers: dict[str, str]) -> None:
    conforms(case, auth_headers)


@schema.include(tag_regex=BLOG).parametrize()
@fuzz_settings_
def test_blog_conforms(case: schemathesis.Case[Any], auth_headers: dict[str, str]) -> None:
    conforms(case, auth_headers)


@schema.include(tag_regex=SOCIAL).parametrize()
@fuzz_settings_
def test_social_conforms(case: schemathesis.Case[Any], auth_headers: dict[str, str]) -> None:
    conforms(case, auth_headers)


@schema.include(tag_regex=TASKS).parametrize()
@fuzz_settings_
def test_tasks_conform(case: schemathesis.Case[Any], auth_headers: dict[str, str]) -> None:
    conforms(case, auth_headers)


@schema.include(tag_regex=PROJECTS).parametrize()
@fuzz_settings_
def test_projects_conform(case: schemathesis.Case[Any], auth_headers: dict[str, str]) -> None:
    conforms(case, auth_headers)


@schema.include(tag_regex=SHORTENER).parametrize()
@fuzz_settings_
def test_shortener_conforms(case: schemathesis.Case[Any], auth_headers: dict[str, str]) -> None:
    conforms(case, auth_headers)


@schema.include(tag_regex=SHOP_CATALOGUE).parametrize()
@fuzz_settings_
def test_shop_catalogue_conforms(
    case: schemathesis.Case[Any], auth_headers: dict[str, str]
) -> None:
    conforms(case, auth_headers)


@schema.include(tag_regex=SHOP_ORDERS).parametrize()
@fuzz_settings_
def test_shop_orders_conform(case: schemathesis.Case[Any], auth_headers: dict[str, str]) -> None:
    conforms(case, auth_headers)


@schema.include(tag_regex=CHAT_ROOMS).parametrize()
@fuzz_settings_
def test_chat_rooms_conform(case: schemathesis.Case[Any], auth_headers: dict[str, str]) -> None:
    conforms(case, auth_headers)


@schema.include(tag_regex=CHAT_MESSAGES).parametrize()
@fuzz_settings_
def test_chat_messages_conform(case: schemathesis.Case[Any], auth_headers: dict[str, str]) -> None:
    conforms(case, auth_headers)


async def test_every_operation_is_fuzzed(app: FastAPI) -> None:
    """Each operation of the document is in exactly one group above: none escapes the fuzzer."""
    groups = [
        re.compile(group)
        for group in (
            *(ACCOUNTS, USERS, BLOG, SOCIAL, TASKS, PROJECTS, SHORTENER),
            *(SHOP_CATALOGUE, SHOP_ORDERS),
            *(CHAT_ROOMS, CHAT_MESSAGES),
        )
    ]
    operations = [
        (method.upper(), path, operation.get("tags", []))
        for path, item in app.openapi()["paths"].items()
        for method, operation in item.items()
    ]
    assert len(operations) > 100  # the whole API
    for method, path, tags in operations:
        homes = [group for group in groups if any(group.search(tag) for tag in tags)]
        assert len(homes) == 1, f"{method} {path} (tags {tags}) is in {len(homes)} groups"


def test_linked_calls_conform(api_schema: schemathesis.BaseSchema, fuzz_settings: Settings) -> None:
    """The stateful phase: short chains of linked calls, every check on every answer.

    Each scenario starts from nothing: emptied tables, an empty Redis db, a new app (so an
    empty in-memory cache, rate limiter and idempotency store) and a new signed-in user.
    Hypothesis replays a scenario's prefix and expects the same rules to be enabled, that is
    the same answers; with what earlier scenarios left behind, the answers differed and it
    stopped with ``FlakyStrategyDefinition``."""
    machine = api_schema.as_state_machine()

    with StartingPoint(fuzz_settings) as starting_point:

        class FromNothing(machine):  # type: ignore[misc,valid-type]
            def setup(self) -> None:
                self.auth_headers = starting_point.renew()
                # A new app for each scenario, for an empty in-memory cache, rate limiter and
                # idempotency store. Schemathesis starts it on its event loop at the first call.
                self.app = create_app(fuzz_settings)

            def teardown(self) -> None:
                # Stop the scenario's app (its connections, its background tasks) now, not
                # with the test: schemathesis keeps an app it started running until then.
                asgi.shutdown_lifespans()

            def before_call(self, case: schemathesis.Case[Any]) -> None:
                _fresh_idempotency_key(case)

            def get_call_kwargs(self, case: schemathesis.Case[Any]) -> dict[str, Any]:
                # ``app``: the scenario's app, for the call and the checks that call again.
                signed_in = (case.method, case.path) != ("POST", "/api/v1/auth/logout")
                headers = {"headers": self.auth_headers} if signed_in else {}
                return {"app": self.app, **headers}

        FromNothing.run(
            settings=settings(
                max_examples=25,
                stateful_step_count=6,
                deadline=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
            )
        )


class StartingPoint:
    """What each stateful scenario starts from: emptied tables, an empty Redis db and a new
    signed-in user (``renew()``). Done through an app of its own, started once on an event
    loop of its own: schemathesis runs the app under test on another, and an app keeps to the
    loop it started on."""

    def __init__(self, fuzz_settings: Settings) -> None:
        self.settings = fuzz_settings
        self.app = create_app(fuzz_settings)
        self.loop = asyncio.Runner()
        self.running = AsyncExitStack()

    def __enter__(self) -> StartingPoint:
        self.loop.run(self.running.enter_async_context(self.app.router.lifespan_context(self.app)))
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            self.loop.run(self.running.aclose())
        finally:
            self.loop.close()

    def renew(self) -> dict[str, str]:
        """Empty the tables and the Redis db, sign a new user in: their ``Authorization``."""
        return self.loop.run(self._renew())

    async def _renew(self) -> dict[str, str]:
        await forget_redis(self.settings)
        await empty_tables(self.app, delete=True)
        transport = httpx.ASGITransport(app=self.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            return (await signed_in_user(self.app, client)).headers
