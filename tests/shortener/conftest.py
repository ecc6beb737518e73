"""Fixtures of the shortener's tests: the module's settings (explicit, whatever the
environment says), an app built with them, signed-in people (``writer``: the shared ``new_user``
factory of tests/fixtures/users.py), and short ways to create and follow links over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from mainspring.app import create_app
from mainspring.core.config import OwnValuesOnly, Settings
from mainspring.shortener.settings import ShortenerSettings, use_settings
from tests.conftest import empty_tables
from tests.fixtures.users import NewUser

LINKS = "/api/v1/links"
BROWSER = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
)


class IsolatedShortenerSettings(OwnValuesOnly, ShortenerSettings):
    """Settings from the test's own values only."""


def shortener_settings_of(**values: Any) -> ShortenerSettings:
    """Test defaults: no DNS at creation (tests run offline), a flush that waits for the test,
    generous quotas."""
    defaults: dict[str, Any] = {
        "resolve_targets": False,
        "click_flush_seconds": 60,
        "create_limit": "1000/minute",
    }
    return IsolatedShortenerSettings(**{**defaults, **values})


@pytest.fixture
def writer(new_user: NewUser) -> NewUser:
    """A link owner: ``await writer("ada")``."""
    return new_user


@pytest.fixture
def shortener_settings() -> ShortenerSettings:
    return shortener_settings_of()


@pytest.fixture
async def app(settings: Settings, shortener_settings: ShortenerSettings) -> AsyncIterator[FastAPI]:
    with use_settings(shortener_settings):
        application = create_app(settings)
    async with application.router.lifespan_context(application):
        try:
            yield application
        finally:
            await empty_tables(application)


async def shorten(
    client: httpx.AsyncClient, url: str = "https://example.com/page", **fields: Any
) -> dict[str, Any]:
    headers = fields.pop("headers", {})
    response = await client.post(LINKS, json={"url": url, **fields}, headers=headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def follow(client: httpx.AsyncClient, code: str, **kwargs: Any) -> httpx.Response:
    kwargs.setdefault("headers", {"User-Agent": BROWSER})
    return await client.get(f"/{code}", **kwargs)
