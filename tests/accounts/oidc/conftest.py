"""Fixtures of the identity-provider tests: a real OpenID Connect provider and a fake GitHub,
each served on a port of this machine for the module, settings that configure both, and a
browser (an HTTP client that keeps cookies) for the flows."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from fastapi import FastAPI

from mainspring.core.config import Settings
from tests.accounts.oidc.provider import (
    Browser,
    FakeGitHub,
    MockProvider,
    oidc_settings,
    open_browser,
)


@pytest.fixture(scope="module")
def oidc_provider() -> Iterator[MockProvider]:
    with MockProvider.running() as provider:
        yield provider


@pytest.fixture(scope="module")
def github() -> Iterator[FakeGitHub]:
    with FakeGitHub.running() as fake:
        yield fake


@pytest.fixture
def settings(settings: Settings, oidc_provider: MockProvider, github: FakeGitHub) -> Settings:
    return oidc_settings(settings, oidc_provider, github)


@pytest.fixture
async def browser(app: FastAPI, client_address: str) -> AsyncIterator[Browser]:
    async with open_browser(app, client_address) as opened:
        yield opened
