"""Property-based fuzzing of the whole OpenAPI schema, in process (schemathesis).

Every operation of the app, modules included, is called with generated valid and invalid
inputs. A 5xx, an undocumented status code, a wrong content type or a body that does not match
its documented schema fails the test. New modules are covered without writing anything here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from mainspring.app import create_app
from mainspring.core.config import Settings
from tests.conftest import empty_tables

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def api_schema(database_url: str) -> Iterator[schemathesis.BaseSchema]:
    from tests.conftest import make_settings

    settings: Settings = make_settings(database_url)
    app = create_app(settings)
    yield schemathesis.openapi.from_asgi("/openapi.json", app)
    # The fuzzer's app runs on schemathesis' own event loop; empty the tables from a fresh one.
    cleanup = create_app(settings)
    asyncio.run(_empty(cleanup))


async def _empty(app: object) -> None:
    async with app.router.lifespan_context(app):  # type: ignore[attr-defined]
        await empty_tables(app)  # type: ignore[arg-type]


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms_to_its_schema(case: schemathesis.Case[Any]) -> None:
    case.call_and_validate(checks=CHECKS)
