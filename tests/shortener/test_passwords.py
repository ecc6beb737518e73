"""Password-protected links: the interstitial form, its answer, its limit."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from mainspring.shortener.models import Link
from tests.fixtures.users import NewUser as Writers
from tests.shortener.conftest import LINKS, follow, shorten, shortener_settings_of


async def test_a_protected_link_shows_a_form_then_redirects_with_the_password(
    app: FastAPI, client: httpx.AsyncClient, writer: Writers
) -> None:
    ada = await writer("ada")
    link = await shorten(
        client, "https://example.com/secret", password="open sesame", headers=ada.headers
    )
    assert link["protected"] is True
    for _ in range(2):  # never from the LRU
        form = await follow(client, link["code"])
        assert form.status_code == 200
        assert form.headers["content-type"].startswith("text/html")
        assert form.headers["cache-control"] == "private, no-store"
        csp = form.headers["content-security-policy"]
        assert "script-src" not in csp
        assert "'unsafe-inline'" not in csp
        assert "default-src 'none'" in csp
        assert "style-src 'sha256-" in csp
        assert '<form method="post"' in form.text
        assert "example.com" not in form.text  # the page tells nothing of the target
    head = await client.head(f"/{link['code']}")
    assert head.status_code == 200
    assert head.content == b""

    wrong = await client.post(f"/{link['code']}", data={"password": "nope"})
    assert wrong.status_code == 403
    assert "Wrong password" in wrong.text
    right = await client.post(f"/{link['code']}", data={"password": "open sesame"})
    assert right.status_code == 303
    assert right.headers["location"] == "https://example.com/secret"

    await app.state.shortener.flush()
    read = await client.get(f"{LINKS}/{link['code']}", headers=ada.headers)
    assert read.json()["clicks"] == 1  # the forms count nothing, the redirect does
    async with app.state.db.read_session() as session:
        stored = await session.scalar(select(Link.password_hash).where(Link.code == link["code"]))
    assert stored
    assert stored.startswith("$argon2id$")
    assert "open sesame" not in stored

    removed = await client.patch(
        f"{LINKS}/{link['code']}", json={"password": None}, headers=ada.headers
    )
    assert removed.json()["protected"] is False
    assert (await follow(client, link["code"])).status_code == 302


async def test_a_protected_link_with_a_click_limit_counts_the_redirects(
    client: httpx.AsyncClient,
) -> None:
    link = await shorten(client, password="pass1234", max_clicks=1)
    first = await client.post(f"/{link['code']}", data={"password": "pass1234"})
    assert first.status_code == 303
    assert (await client.post(f"/{link['code']}", data={"password": "pass1234"})).status_code == 410


@pytest.mark.parametrize("shortener_settings", [shortener_settings_of(password_limit="3/minute")])
async def test_password_attempts_are_limited_per_link_and_address(
    client: httpx.AsyncClient,
) -> None:
    link = await shorten(client, password="correct-horse")
    other = await shorten(client, password="correct-horse")
    for _ in range(3):
        assert (await client.post(f"/{link['code']}", data={"password": "x"})).status_code == 403
    limited = await client.post(f"/{link['code']}", data={"password": "correct-horse"})
    assert limited.status_code == 429
    assert "Retry-After" in limited.headers
    elsewhere = await client.post(
        f"/{link['code']}",
        data={"password": "correct-horse"},
        headers={"X-Forwarded-For": "198.51.100.7"},
    )
    assert elsewhere.status_code == 303
    assert (await client.post(f"/{other['code']}", data={"password": "x"})).status_code == 403


async def test_posting_to_an_unknown_or_plain_link(client: httpx.AsyncClient) -> None:
    assert (await client.post("/nothing-here", data={"password": "x"})).status_code == 404
    plain = await shorten(client)
    response = await client.post(f"/{plain['code']}", data={"password": "anything"})
    assert response.status_code == 303


async def test_a_blank_password_form_is_invalid_as_the_document_says(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    form = app.openapi()["components"]["schemas"]["Body_unlock_link__code__post"]
    assert form["properties"]["password"]["minLength"] == 1
    link = await shorten(client, password="open sesame")
    blank = await client.post(f"/{link['code']}", data={"password": ""})
    assert blank.status_code == 422
    assert blank.json()["code"] == "validation-error"
    spaces = await client.post(f"/{link['code']}", data={"password": " "})
    assert spaces.status_code == 403  # valid, and wrong: the form again
    assert "Wrong password" in spaces.text
