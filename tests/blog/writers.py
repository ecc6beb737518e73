"""What the blog's and the RealWorld adapter's tests build on: signed-in writers and readers
(the shared ``new_user`` factory of ``tests/fixtures/users.py``), and a short way to publish an
article over HTTP."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import httpx
import pytest

from tests.fixtures.users import NewUser, SignedInUser

PASSWORD = "correct horse battery staple"
ARTICLES = "/api/v1/articles"

# A registered, signed-in user (the shared one): ``headers`` carry their access token.
Writer = SignedInUser
Writers = Callable[..., Awaitable[Writer]]


@pytest.fixture
def writer(new_user: NewUser) -> Writers:
    """``await writer("ada")`` (or ``role=Role.MODERATOR``): the shared ``new_user`` factory,
    with the email left unverified, as a new account's is."""
    return partial(new_user, verified=False)


async def publish(
    client: httpx.AsyncClient, author: Writer, title: str = "Hello world", **fields: Any
) -> dict[str, Any]:
    """Create a published article (``fields`` override the defaults) and return its body."""
    payload = {"title": title, "body": f"Body of *{title}*.", "status": "published", **fields}
    response = await client.post(ARTICLES, json=payload, headers=author.headers)
    assert response.status_code == 201, response.text
    article: dict[str, Any] = response.json()
    return article
