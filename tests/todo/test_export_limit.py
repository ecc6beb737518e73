"""The exports read a whole project each: ``MAINSPRING_TODO_EXPORT_LIMIT`` caps them per user,
CSV and XLSX counted together, with a 429 problem that says when to come back."""

from __future__ import annotations

import httpx
import pytest

from mainspring.core.config import Settings
from tests.conftest import make_settings
from tests.todo.workspace import Team

LIMIT = 3


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url, todo_export_limit=f"{LIMIT}/minute")


async def test_exports_are_limited_per_user(client: httpx.AsyncClient, team: Team) -> None:
    base = f"/api/v1/projects/{team.project_id}/tasks"
    for suffix in ("csv", "xlsx", "csv"):
        allowed = await client.get(f"{base}.{suffix}", headers=team.editor.headers)
        assert allowed.status_code == 200, allowed.text
        assert allowed.headers["ratelimit-limit"] == str(LIMIT)
    assert allowed.headers["ratelimit-remaining"] == "0"

    refused = await client.get(f"{base}.xlsx", headers=team.editor.headers)
    assert refused.status_code == 429, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["code"] == "rate-limited"
    assert int(refused.headers["retry-after"]) > 0

    # The quota is the user's: another member of the project still exports.
    other = await client.get(f"{base}.csv", headers=team.viewer.headers)
    assert other.status_code == 200, other.text
