"""PATCH bodies say in the OpenAPI document what their validator does (issue 15, item 6b).

A field of a ``core.schemas.Patch`` named in ``not_null`` may be left out but never cleared:
the document must not call it nullable, and the server must refuse a null for it (422).
"""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

from mainspring.core.schemas import Patch
from tests.accounts.helpers import signed_in_user


def _patch_models() -> list[type[Patch]]:
    found: list[type[Patch]] = []
    pending = list(Patch.__subclasses__())
    while pending:
        model = pending.pop()
        found.append(model)
        pending.extend(model.__subclasses__())
    return [model for model in found if model.not_null]


def _nullable(prop: dict[str, Any]) -> bool:
    branches = prop.get("anyOf", []) + prop.get("oneOf", [])
    return prop.get("type") == "null" or {"type": "null"} in branches


async def test_not_null_fields_are_documented_as_not_nullable(app: FastAPI) -> None:
    schemas = app.openapi()["components"]["schemas"]
    models = _patch_models()
    assert models, "the task manager's PATCH bodies are Patch models"
    for model in models:
        properties = schemas[model.__name__]["properties"]
        for name in model.not_null:
            assert not _nullable(properties[name]), f"{model.__name__}.{name} says nullable"
            assert "default" not in properties[name]


async def test_a_null_for_a_not_null_field_is_refused(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    user_headers = (await signed_in_user(app, client)).headers
    created = await client.post("/api/v1/tasks", json={"title": "Ship"}, headers=user_headers)
    assert created.status_code == 201
    task = created.json()
    response = await client.patch(
        f"/api/v1/tasks/{task['id']}",
        json={"priority": None},
        headers={**user_headers, "If-Match": created.headers["etag"]},
    )
    assert response.status_code == 422
    assert "priority cannot be null" in response.text
    cleared = await client.patch(
        f"/api/v1/tasks/{task['id']}",
        json={"due_at": None},
        headers={**user_headers, "If-Match": created.headers["etag"]},
    )
    assert cleared.status_code == 200  # a nullable field is cleared by null
