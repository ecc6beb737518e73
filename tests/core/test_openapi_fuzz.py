"""Property-based fuzzing of the whole OpenAPI schema, in process (schemathesis).

Every operation of the app, modules included, is called with generated valid and invalid
inputs. A 5xx, an undocumented status code, a wrong content type or a body that does not match
its documented schema fails the test. New modules are covered without writing anything here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from mainspring.app import create_app
from mainspring.core.config import Settings
from tests.accounts.helpers import signed_in_user
from tests.conftest import empty_tables, make_settings

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def fuzz_settings(database_url: str) -> Settings:
    return make_settings(database_url)


@pytest.fixture(scope="module")
def api_schema(fuzz_settings: Settings) -> Iterator[schemathesis.BaseSchema]:
    app = create_app(fuzz_settings)
    yield schemathesis.openapi.from_asgi("/openapi.json", app)
    # The fuzzer's app runs on schemathesis' own event loop; empty the tables from a fresh one.
    asyncio.run(_empty(create_app(fuzz_settings)))


@pytest.fixture(scope="module")
def auth_headers(fuzz_settings: Settings) -> dict[str, str]:
    """A signed-in user's bearer token, so the fuzzer gets past authentication."""
    return asyncio.run(_sign_in(create_app(fuzz_settings)))


async def _sign_in(app: FastAPI) -> dict[str, str]:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            user = await signed_in_user(app, client)
    return user.headers


async def _empty(app: FastAPI) -> None:
    async with app.router.lifespan_context(app):
        await empty_tables(app)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms_to_its_schema(
    case: schemathesis.Case[Any], auth_headers: dict[str, str]
) -> None:
    # Logging out would end the fuzzer's session for every later case; it runs anonymously.
    signed_in = (case.method, case.path) != ("POST", "/api/v1/auth/logout")
    case.call_and_validate(checks=CHECKS, headers=auth_headers if signed_in else None)
