"""The request bodies' schemas say what the server accepts (issue 15, item 6b).

Bodies with an either/or rule ("send either `code` or `recovery_code`", "the password grant
needs `username` and `password`") carry it in the schema as a ``oneOf``, and the addresses
carry the shape the server checks. The fuzzer generates *valid* bodies from the published
schema and each must be accepted: refused for what it names (a wrong code: 401/403, no second
factor: 409, an unsupported grant: 400), never for its form (422). The negative side, invalid
bodies refused, is the whole-API fuzz test's (``tests/core/test_openapi_fuzz.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import positive_data_acceptance

from mainspring.app import create_app
from mainspring.core.config import Settings
from tests.conftest import empty_database, make_settings
from tests.fixtures.users import new_user_headers

EITHER_OR_BODIES = [
    ("POST", "/api/v1/auth/login/two-factor"),
    ("POST", "/api/v1/users/me/two-factor/recovery-codes"),
    ("DELETE", "/api/v1/users/me/two-factor"),
    ("POST", "/api/v1/auth/token"),
    ("POST", "/api/v1/auth/password/forgot"),
    ("POST", "/api/v1/auth/verify-email/resend"),
]
ACCEPTED = ["2xx", "400", "401", "403", "404", "409", "429"]
"""Refusals of the request's content; 422 (a malformed request) is not among them."""


@pytest.fixture(scope="module")
def fuzz_settings(database_url: str) -> Settings:
    # Mail limits high enough for every generated address: a 429 would hide nothing here, but
    # the cases should reach the validation they test.
    return make_settings(
        database_url,
        account_mail_limit_per_address="10000/minute",
        account_mail_limit_per_ip="10000/minute",
    )


@pytest.fixture(scope="module")
def api_schema(fuzz_settings: Settings) -> Iterator[schemathesis.BaseSchema]:
    app = create_app(fuzz_settings)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    schema.config.checks.positive_data_acceptance.expected_statuses = ACCEPTED
    schema.config.generation.update(modes=[GenerationMode.POSITIVE])
    yield schema
    empty_database(fuzz_settings)


@pytest.fixture(scope="module")
def auth_headers(fuzz_settings: Settings) -> dict[str, str]:
    return new_user_headers(create_app(fuzz_settings))


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.include(
    path_regex="^/api/v1/(auth/(login/two-factor|token|password/forgot|verify-email/resend)"
    "|users/me/two-factor(/recovery-codes)?)$",
).parametrize()
@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_valid_bodies_are_accepted(
    case: schemathesis.Case[Any], auth_headers: dict[str, str]
) -> None:
    if (case.method, case.path) not in EITHER_OR_BODIES:
        pytest.skip("not a body this test is about")
    assert case.meta is not None
    assert case.meta.generation.mode.is_positive
    case.call_and_validate(
        checks=[not_a_server_error, positive_data_acceptance], headers=auth_headers
    )


def test_the_schemas_say_either_or(api_schema: schemathesis.BaseSchema) -> None:
    """Checked on the published document itself, so a regression names the schema."""
    components = api_schema.raw_schema["components"]["schemas"]
    for name in ("SecondFactor", "TwoFactorLoginRequest", "TwoFactorDisableRequest"):
        branches = components[name]["oneOf"]
        assert [branch["required"] for branch in branches] == [["code"], ["recovery_code"]]
    grants = components["TokenForm"]["oneOf"]
    assert [branch["properties"]["grant_type"]["const"] for branch in grants] == [
        "password",
        "refresh_token",
    ]
