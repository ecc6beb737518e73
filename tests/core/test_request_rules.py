"""Request models say in the OpenAPI document what their validation does (issue 15, item 6).

The kernel's ``Input`` publishes its either/or rules and its whitespace stripping, and its
annotated types accept only what the document allows; each is checked both ways here: the
document says it, and the server does it. The whole-API fuzz test finds what these miss.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
from fastapi import FastAPI

from mainspring.core.schemas import SPACE
from tests.fixtures.users import PASSWORD, NewUser


def _component(app: FastAPI, name: str) -> dict[str, Any]:
    schema: dict[str, Any] = app.openapi()["components"]["schemas"][name]
    return schema


async def test_either_or_rules_are_in_the_document(app: FastAPI) -> None:
    not_null = {"not": {"type": "null"}}
    assert _component(app, "SecondFactor")["oneOf"] == [
        {"required": ["code"], "properties": {"code": not_null}},
        {"required": ["recovery_code"], "properties": {"recovery_code": not_null}},
    ]
    assert len(_component(app, "MemberInvite")["oneOf"]) == 2
    assert _component(app, "PostCreate")["not"] == {
        "required": ["reply_to_id", "quote_of_id"],
        "properties": {"reply_to_id": not_null, "quote_of_id": not_null},
    }
    assert _component(app, "BulkChanges")["minProperties"] == 1
    assert "anyOf" in _component(app, "ArticleCreate")


async def test_at_most_one_of_counts_a_null_as_not_sent(
    client: httpx.AsyncClient, new_user: NewUser
) -> None:
    ada = await new_user("ada")
    some_post = str(uuid.uuid4())
    both = {"body": "hi", "reply_to_id": some_post, "quote_of_id": some_post}
    refused = await client.post("/api/v1/posts", json=both, headers=ada.headers)
    assert refused.status_code == 422
    assert "send at most one of" in refused.text
    # A null is "not sent", for the server as for the document: the quoted post is unknown.
    one = {"body": "hi", "reply_to_id": None, "quote_of_id": some_post}
    response = await client.post("/api/v1/posts", json=one, headers=ada.headers)
    assert response.status_code == 409, response.text
    assert response.json()["code"] == "unknown-post"


async def test_a_string_is_long_enough_after_its_spaces_are_stripped(
    app: FastAPI, client: httpx.AsyncClient, new_user: NewUser
) -> None:
    """``Input`` strips whitespace, so a title of one no-break space is empty: the document's
    pattern refuses it as the server does. A password keeps its spaces, and no pattern."""
    title = _component(app, "ArticleCreate")["properties"]["title"]
    assert title["minLength"] == 1
    assert not re.search(title["pattern"], "\u00a0")
    ada = await new_user("ada")
    blank = {"title": "\u00a0", "body": "b"}
    response = await client.post("/api/v1/articles", json=blank, headers=ada.headers)
    assert response.status_code == 422
    tags = _component(app, "ArticleCreate")["properties"]["tags"]["items"]
    assert {"pattern": f"[^{SPACE}]"} in tags["allOf"]  # next to the pattern of its own
    password = _component(app, "RegisterRequest")["properties"]["password"]
    assert "pattern" not in password


async def test_a_request_date_time_is_rfc_3339_with_its_offset(
    client: httpx.AsyncClient, new_user: NewUser
) -> None:
    ada = await new_user("ada")
    for value in ("0.5", "1700000000", "2026-12-01", "2026-12-01T10:00:00"):
        response = await client.get(
            "/api/v1/tasks", params={"due_before": value}, headers=ada.headers
        )
        assert response.status_code == 422, value
    fine = await client.get(
        "/api/v1/tasks", params={"due_before": "2026-12-01T10:00:00Z"}, headers=ada.headers
    )
    assert fine.status_code == 200
    number = {"title": "t", "body": "b", "status": "scheduled", "publish_at": 1700000000}
    response = await client.post("/api/v1/articles", json=number, headers=ada.headers)
    assert response.status_code == 422


async def test_a_body_boolean_is_json_true_or_false(
    client: httpx.AsyncClient, new_user: NewUser
) -> None:
    ada = await new_user("ada")
    for cookie in ("true", "yes", 1, "on"):
        login = {"identifier": ada.username, "password": PASSWORD, "cookie": cookie}
        response = await client.post("/api/v1/auth/login", json=login)
        assert response.status_code == 422, cookie
    login = {"identifier": ada.username, "password": PASSWORD, "cookie": False}
    assert (await client.post("/api/v1/auth/login", json=login)).status_code == 200
