"""Following links: status codes, headers, HEAD, the fast path and its invalidation."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from tests.fixtures.users import NewUser as Writers
from tests.shortener.conftest import LINKS, follow, shorten


async def test_a_link_redirects_with_its_type_and_security_headers(
    client: httpx.AsyncClient,
) -> None:
    link = await shorten(client, "https://example.com/a?b=c")
    for _ in range(2):  # the first through the router, the second from the LRU
        response = await follow(client, link["code"])
        assert response.status_code == 302
        assert response.headers["location"] == "https://example.com/a?b=c"
        assert response.headers["cache-control"] == "private, no-store"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["content-security-policy"].startswith("default-src 'none'")
        assert "x-request-id" in response.headers


@pytest.mark.parametrize(
    ("redirect_type", "cache_control"),
    [
        (301, "public, max-age=3600"),
        (302, "private, no-store"),
        (307, "private, no-store"),
        (308, "public, max-age=3600"),
    ],
)
async def test_cache_control_follows_the_redirect_type(
    client: httpx.AsyncClient, redirect_type: int, cache_control: str
) -> None:
    link = await shorten(client, redirect_type=redirect_type)
    for _ in range(2):
        response = await follow(client, link["code"])
        assert response.status_code == redirect_type
        assert response.headers["cache-control"] == cache_control


async def test_unknown_codes_are_404_and_codes_ignore_case(client: httpx.AsyncClient) -> None:
    assert (await follow(client, "nope123")).status_code == 404
    assert (await follow(client, "nope123")).json()["code"] == "link-not-found"
    await shorten(client, alias="Spring-Sale")
    for code in ("Spring-Sale", "spring-sale", "SPRING-SALE"):
        assert (await follow(client, code)).status_code == 302


async def test_head_answers_like_get_without_counting(
    app: FastAPI, client: httpx.AsyncClient, writer: Writers
) -> None:
    ada = await writer("ada")
    link = await shorten(client, headers=ada.headers)
    for _ in range(3):
        response = await client.head(f"/{link['code']}")
        assert response.status_code == 302
        assert response.headers["location"] == "https://example.com/page"
    await app.state.shortener.flush()
    read = await client.get(f"{LINKS}/{link['code']}", headers=ada.headers)
    assert read.json()["clicks"] == 0


async def test_the_fast_path_labels_its_requests_for_the_metrics(
    client: httpx.AsyncClient,
) -> None:
    link = await shorten(client)
    await follow(client, link["code"])
    await follow(client, link["code"])
    metrics = (await client.get("/metrics")).text
    line = next(
        line
        for line in metrics.splitlines()
        if line.startswith("mainspring_http_requests_total{")
        and 'route="/{code}"' in line
        and 'status="302"' in line
    )
    assert float(line.rsplit(" ", 1)[1]) >= 2


async def test_reserved_routes_are_never_shadowed(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).status_code == 200
    assert (await client.post("/healthz", data={"password": "x"})).status_code == 405
    assert (await client.get("/admin")).status_code == 404
    for alias in ("healthz", "Docs", "api", "metrics", "admin", "static", "realworld"):
        response = await client.post(LINKS, json={"url": "https://example.com", "alias": alias})
        assert response.status_code == 409, alias
        assert response.json()["code"] == "alias-reserved"


async def test_changes_reach_the_redirect_at_once(
    client: httpx.AsyncClient, writer: Writers
) -> None:
    ada = await writer("ada")
    link = await shorten(client, headers=ada.headers)
    code = link["code"]
    assert (await follow(client, code)).headers["location"] == "https://example.com/page"
    assert (await follow(client, code)).status_code == 302  # now in the LRU

    changed = await client.patch(
        f"{LINKS}/{code}", json={"url": "https://example.org/new"}, headers=ada.headers
    )
    assert changed.status_code == 200, changed.text
    assert (await follow(client, code)).headers["location"] == "https://example.org/new"

    await client.patch(f"{LINKS}/{code}", json={"enabled": False}, headers=ada.headers)
    gone = await follow(client, code)
    assert gone.status_code == 410
    assert gone.json()["code"] == "link-gone"

    await client.patch(f"{LINKS}/{code}", json={"enabled": True}, headers=ada.headers)
    assert (await follow(client, code)).status_code == 302
    assert (await client.delete(f"{LINKS}/{code}", headers=ada.headers)).status_code == 204
    assert (await follow(client, code)).status_code == 404
