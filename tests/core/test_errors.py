"""Every error path answers RFC 9457 problem+json, with a request id and no internals."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel, Field

from mainspring.core.config import Settings
from mainspring.core.errors import Conflict, NotFound

PROBLEM = "application/problem+json"


class Item(BaseModel):
    name: str = Field(min_length=1, max_length=10)
    quantity: int = Field(ge=1)


@pytest.fixture
def routes(app: FastAPI) -> FastAPI:
    @app.post("/_test/items", status_code=201)
    async def create_item(item: Item) -> Item:
        return item

    @app.get("/_test/missing")
    async def missing() -> None:
        raise NotFound("No such thing.")

    @app.get("/_test/conflict")
    async def conflict() -> None:
        raise Conflict("Taken.", errors=[{"field": "name", "message": "taken"}])

    @app.get("/_test/crash")
    async def crash() -> None:
        raise RuntimeError("SELECT secret FROM users -- boom")

    return app


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"] == f"urn:mainspring:problem:{code}"
    assert body["title"]
    assert body["detail"]
    assert body["request_id"] == response.headers["x-request-id"]
    assert body["instance"] == response.request.url.path
    return body  # type: ignore[no-any-return]


async def test_unknown_route_is_404(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/no/such/route"), 404, "not-found")


async def test_wrong_method_is_405(client: httpx.AsyncClient) -> None:
    response = await client.delete("/healthz")
    assert_problem(response, 405, "method-not-allowed")
    assert response.headers["allow"] == "GET"


async def test_malformed_json_is_400(client: httpx.AsyncClient, routes: FastAPI) -> None:
    response = await client.post(
        "/_test/items", content=b'{"name": "x", ', headers={"content-type": "application/json"}
    )
    body = assert_problem(response, 400, "bad-request")
    assert "JSON" in str(body["detail"])


async def test_validation_error_lists_each_field(
    client: httpx.AsyncClient, routes: FastAPI
) -> None:
    response = await client.post(
        "/_test/items", json={"name": "much-too-long-name", "quantity": 0, "extra": "x"}
    )
    body = assert_problem(response, 422, "validation-error")
    errors = body["errors"]
    assert isinstance(errors, list)
    fields = {e["field"] for e in errors}
    assert fields == {"body.name", "body.quantity"}
    assert all("input" not in e for e in errors)  # the rejected value is never echoed
    assert "much-too-long-name" not in response.text


async def test_body_over_limit_is_413(client: httpx.AsyncClient, routes: FastAPI) -> None:
    big = b'{"name": "' + b"x" * 2_000_000 + b'", "quantity": 1}'
    response = await client.post(
        "/_test/items", content=big, headers={"content-type": "application/json"}
    )
    assert_problem(response, 413, "payload-too-large")


async def test_streamed_body_over_limit_is_413(client: httpx.AsyncClient, routes: FastAPI) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(40):
            yield b"x" * 65_536

    response = await client.post(
        "/_test/items", content=chunks(), headers={"content-type": "application/json"}
    )
    assert "content-length" not in response.request.headers
    assert_problem(response, 413, "payload-too-large")


async def test_domain_errors_render_with_their_status(
    client: httpx.AsyncClient, routes: FastAPI
) -> None:
    body = assert_problem(await client.get("/_test/missing"), 404, "not-found")
    assert body["detail"] == "No such thing."
    body = assert_problem(await client.get("/_test/conflict"), 409, "conflict")
    assert body["errors"] == [{"field": "name", "message": "taken"}]


async def test_unexpected_exception_is_500_without_internals(
    client: httpx.AsyncClient, routes: FastAPI
) -> None:
    response = await client.get("/_test/crash", headers={"x-request-id": "trace-me-123"})
    body = assert_problem(response, 500, "internal-error")
    assert body["request_id"] == "trace-me-123"
    assert "SELECT" not in response.text
    assert "Traceback" not in response.text
    assert "RuntimeError" not in response.text


async def test_valid_request_passes(client: httpx.AsyncClient, routes: FastAPI) -> None:
    response = await client.post("/_test/items", json={"name": "bolt", "quantity": 3})
    assert response.status_code == 201
    assert response.json() == {"name": "bolt", "quantity": 3}


async def test_text_the_database_cannot_store_is_refused_not_a_500(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    """PostgreSQL text cannot hold U+0000 and no schema forbids it: the database's refusal is
    the client's 400 (RealWorld: 422), in the form body of the token endpoint as in JSON. SQLite
    stores it, so there the request is simply judged (wrong credentials)."""
    token = await client.post(
        "/api/v1/auth/token", data={"grant_type": "password", "username": "\x00a", "password": "x"}
    )
    login = await client.post(
        "/api/v1/auth/login", json={"identifier": "bob\x00", "password": "a long password"}
    )
    realworld = await client.post(
        "/realworld/api/users/login",
        json={"user": {"email": "a\x00@example.com", "password": "a long password"}},
    )
    if settings.is_sqlite:
        assert token.json()["code"] == "invalid-grant"  # RFC 6749: a 400
        assert (login.status_code, realworld.status_code) == (401, 401)
        return
    for response in (token, login):
        body = assert_problem(response, 400, "bad-request")
        assert body["detail"] == "Text cannot contain the NUL character (U+0000)."
    assert realworld.status_code == 422
    assert realworld.json() == {
        "errors": {"body": ["Text cannot contain the NUL character (U+0000)."]}
    }
