"""Creating links: validation, normalisation, SSRF refusals, codes and aliases, anonymous
creation, the quota; and managing them: read, list, change, delete."""

from __future__ import annotations

import ipaddress
import re

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from mainspring.core.auth import Role
from mainspring.core.config import Settings
from mainspring.shortener.models import Link
from mainspring.shortener.settings import ShortenerSettings
from tests.fixtures.users import NewUser as Writers
from tests.shortener.conftest import LINKS, shorten, shortener_settings_of

MALFORMED_TARGETS = [
    # not the published shape (http or https, an authority without credentials): 422
    "ftp://example.com/file",
    "javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "file:///etc/passwd",
    "https://",
    "example.com",
    "0",
    "http://exa mple.com/",
    "http://user:pass@example.com/",
    "https://bank.example@evil.example/",
    "http://example.com/a\r\nSet-Cookie: x=1",
    "http://" + "a" * 2050 + ".com/",
    "https://example.com/" + "x" * 2040,
]

REFUSED_TARGETS = [
    # the published shape, but no valid URL: 400
    "http://example.com:99999/",
    "http://exa%mple.com/",
    "http://-bad-.example/",
    "https://example.com/" + "é" * 1000,  # 6 000 characters once percent-encoded
    # non-public addresses, in every spelling
    "http://127.0.0.1/",
    "http://localhost:8000/admin",
    "http://LOCALHOST./",
    "http://foo.localhost/",
    "http://printer.local/",
    "http://metadata.google.internal/computeMetadata/v1/",
    "http://intranet/",
    "http://10.0.0.5/",
    "http://172.16.3.4/",
    "http://192.168.1.1/",
    "http://169.254.169.254/latest/meta-data/",
    "http://100.64.0.1/",
    "http://0.0.0.0/",
    "http://[::1]/",
    "http://[fd00:ec2::254]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:a9fe:a9fe]/",
    "http://2130706433/",
    "http://0x7f000001/",
    "http://0x7f.0.0.1/",
    "http://0177.0.0.1/",
    "http://017700000001/",
    "http://127.1/",
    "http://3232235777/",
    "http://1.2.3.4.5/",
    # this service's own short links: loops
    "http://127.0.0.1:8000/abc1234",
    "http://testserver/abc1234",
]


@pytest.mark.parametrize("url", MALFORMED_TARGETS)
async def test_targets_not_of_the_published_shape_are_invalid(
    app: FastAPI, client: httpx.AsyncClient, url: str
) -> None:
    response = await client.post(LINKS, json={"url": url})
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "validation-error"
    async with app.state.db.read_session() as session:
        assert await session.scalar(select(func.count()).select_from(Link)) == 0


async def test_the_published_shape_of_a_target_is_the_one_validated(app: FastAPI) -> None:
    """The document's pattern refuses what validation refuses, and accepts what it accepts."""
    pattern = app.openapi()["components"]["schemas"]["LinkCreate"]["properties"]["url"]["pattern"]
    for url in MALFORMED_TARGETS[:-2]:  # the last two are refused for their length
        assert re.search(pattern, url) is None, url
    for url in REFUSED_TARGETS:
        assert re.search(pattern, url) is not None, url


@pytest.mark.parametrize("url", REFUSED_TARGETS)
async def test_unsafe_or_unusable_targets_are_refused(
    app: FastAPI, client: httpx.AsyncClient, url: str
) -> None:
    response = await client.post(LINKS, json={"url": url})
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "target-refused"
    async with app.state.db.read_session() as session:
        assert await session.scalar(select(func.count()).select_from(Link)) == 0


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("HTTPS://Example.COM", "https://example.com/"),
        ("http://example.com:80/a", "http://example.com/a"),
        ("https://example.com:8443/a", "https://example.com:8443/a"),
        ("https://exämple.com/ü?q=a b#top", "https://xn--exmple-cua.com/%C3%BC?q=a%20b#top"),
        ("  https://example.com/already%20encoded  ", "https://example.com/already%20encoded"),
        ("http://8.8.8.8/dns", "http://8.8.8.8/dns"),
        ("http://[2606:4700:4700::1111]/", "http://[2606:4700:4700::1111]/"),
    ],
)
async def test_targets_are_normalised(client: httpx.AsyncClient, given: str, stored: str) -> None:
    link = await shorten(client, given)
    assert link["url"] == stored
    assert (await client.get(f"/{link['code']}")).headers["location"] == stored


async def test_random_codes_are_base62_of_the_configured_length(
    client: httpx.AsyncClient,
) -> None:
    codes = {(await shorten(client))["code"] for _ in range(20)}
    assert len(codes) == 20
    assert all(re.fullmatch(r"[0-9A-Za-z]{7}", code) for code in codes)


@pytest.mark.parametrize(
    "shortener_settings",
    [shortener_settings_of(code_length=12, base_url="https://sho.rt")],
)
async def test_code_length_and_base_url_are_configurable(client: httpx.AsyncClient) -> None:
    link = await shorten(client)
    assert len(link["code"]) == 12
    assert link["short_url"] == f"https://sho.rt/{link['code']}"
    refused = await client.post(LINKS, json={"url": "https://sho.rt/other"})
    assert refused.status_code == 400
    assert refused.json()["code"] == "target-refused"


async def test_aliases_are_unique_regardless_of_case(client: httpx.AsyncClient) -> None:
    link = await shorten(client, alias="Launch_2026")
    assert link["code"] == "Launch_2026"
    for alias in ("Launch_2026", "launch_2026", "LAUNCH_2026"):
        taken = await client.post(LINKS, json={"url": "https://example.com", "alias": alias})
        assert taken.status_code == 409
        assert taken.json()["code"] == "alias-taken"


@pytest.mark.parametrize("alias", ["ab", "a" * 65, "with space", "dot.ted", "slash/ed", "ünï"])
async def test_malformed_aliases_are_refused(client: httpx.AsyncClient, alias: str) -> None:
    response = await client.post(LINKS, json={"url": "https://example.com", "alias": alias})
    assert response.status_code == 422


@pytest.mark.parametrize(
    "shortener_settings", [shortener_settings_of(reserved_words=["promo", "API"])]
)
async def test_reserved_words_are_configurable(client: httpx.AsyncClient) -> None:
    for alias in ("promo", "PROMO", "api", "healthz"):
        response = await client.post(LINKS, json={"url": "https://example.com", "alias": alias})
        assert response.status_code == 409, alias
        assert response.json()["code"] == "alias-reserved", alias
    assert (await shorten(client, alias="admin"))["code"] == "admin"  # no longer reserved


@pytest.mark.parametrize(
    "shortener_settings", [shortener_settings_of(blocked_domains=["evil.example"])]
)
async def test_blocked_domains_and_their_subdomains_are_refused(
    client: httpx.AsyncClient,
) -> None:
    for url in ("https://evil.example/", "https://www.EVIL.example/x"):
        refused = await client.post(LINKS, json={"url": url})
        assert refused.status_code == 400
        assert refused.json()["code"] == "target-refused"
    assert (await shorten(client, "https://notevil.example/"))["url"]


@pytest.mark.parametrize("shortener_settings", [shortener_settings_of(resolve_targets=True)])
async def test_host_names_resolving_to_private_addresses_are_refused(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    zone = {"intranet.example.com": "10.1.2.3", "rebind.example.net": "169.254.169.254"}
    zone |= {"public.example.com": "93.184.215.14"}

    async def resolve(host: str, port: int) -> list[ipaddress.IPv4Address]:
        if host not in zone:
            raise OSError("NXDOMAIN")
        return [ipaddress.IPv4Address(zone[host])]

    app.state.shortener.policy.resolver = resolve
    for host in ("intranet.example.com", "rebind.example.net"):
        refused = await client.post(LINKS, json={"url": f"https://{host}/"})
        assert refused.status_code == 400
        assert "non-public" in refused.json()["detail"]
    assert (await shorten(client, "https://public.example.com/"))["url"]
    assert (await shorten(client, "https://unknown.example.org/"))["url"]  # advisory: accepted


@pytest.mark.parametrize(
    "shortener_settings", [shortener_settings_of(allow_private_targets=["10.0.5.0/24"])]
)
async def test_private_targets_may_be_allowed_by_configuration(
    client: httpx.AsyncClient,
) -> None:
    assert (await shorten(client, "http://10.0.5.7/wiki"))["url"] == "http://10.0.5.7/wiki"
    assert (await client.post(LINKS, json={"url": "http://10.0.6.7/"})).status_code == 400


@pytest.mark.parametrize("shortener_settings", [shortener_settings_of(anonymous_create=False)])
async def test_anonymous_creation_can_be_forbidden(
    client: httpx.AsyncClient, writer: Writers
) -> None:
    refused = await client.post(LINKS, json={"url": "https://example.com"})
    assert refused.status_code == 401
    assert refused.json()["code"] == "sign-in-required"
    ada = await writer("ada")
    assert (await shorten(client, headers=ada.headers))["code"]


@pytest.mark.parametrize("shortener_settings", [shortener_settings_of(create_limit="3/minute")])
async def test_creation_is_rate_limited(client: httpx.AsyncClient) -> None:
    for remaining in (2, 1, 0):
        response = await client.post(LINKS, json={"url": "https://example.com"})
        assert response.status_code == 201
        assert response.headers["RateLimit-Remaining"] == str(remaining)
    limited = await client.post(LINKS, json={"url": "https://example.com"})
    assert limited.status_code == 429
    assert "Retry-After" in limited.headers


async def test_the_created_link_is_answered_with_location_and_etag(
    client: httpx.AsyncClient, writer: Writers
) -> None:
    ada = await writer("ada")
    response = await client.post(
        LINKS,
        json={
            "url": "https://example.com/spring",
            "alias": "spring",
            "title": "Spring",
            "tags": ["Launch", "news", "launch"],
            "redirect_type": 308,
        },
        headers=ada.headers,
    )
    assert response.status_code == 201
    assert response.headers["Location"] == "/api/v1/links/spring"
    body = response.json()
    assert body["tags"] == ["launch", "news"]
    assert body["short_url"] == "http://127.0.0.1:8000/spring"
    assert body["status"] == "active"
    assert body["preview"] == {"title": None, "status": "pending"}
    read = await client.get("/api/v1/links/SPRING", headers=ada.headers)
    assert read.status_code == 200
    assert read.headers["ETag"] == response.headers["ETag"]
    again = await client.get(
        "/api/v1/links/spring", headers={**ada.headers, "If-None-Match": read.headers["ETag"]}
    )
    assert again.status_code == 304


async def test_only_the_owner_or_a_moderator_manages_a_link(
    client: httpx.AsyncClient, writer: Writers
) -> None:
    ada, bob = await writer("ada"), await writer("bob")
    mod = await writer("mod", role=Role.MODERATOR)
    link = await shorten(client, headers=ada.headers)
    path = f"{LINKS}/{link['code']}"
    for method in ("GET", "PATCH", "DELETE"):
        json = {"title": "x"} if method == "PATCH" else None
        response = await client.request(method, path, json=json, headers=bob.headers)
        assert response.status_code == 404, method
        assert (await client.request(method, path, json=json)).status_code == 401
    assert (
        await client.patch(path, json={"enabled": False}, headers=mod.headers)
    ).status_code == 200
    anonymous = await shorten(client)
    assert (
        await client.get(f"{LINKS}/{anonymous['code']}", headers=ada.headers)
    ).status_code == 404
    assert (
        await client.get(f"{LINKS}/{anonymous['code']}", headers=mod.headers)
    ).status_code == 200


async def test_updates_honour_if_match(client: httpx.AsyncClient, writer: Writers) -> None:
    ada = await writer("ada")
    created = await client.post(LINKS, json={"url": "https://example.com"}, headers=ada.headers)
    path, etag = f"{LINKS}/{created.json()['code']}", created.headers["ETag"]
    first = await client.patch(
        path, json={"title": "One"}, headers={**ada.headers, "If-Match": etag}
    )
    assert first.status_code == 200
    assert first.headers["ETag"] != etag
    stale = await client.patch(
        path, json={"title": "Two"}, headers={**ada.headers, "If-Match": etag}
    )
    assert stale.status_code == 412
    cleared = await client.patch(path, json={"title": None, "tags": ["a"]}, headers=ada.headers)
    assert cleared.json()["title"] is None
    assert cleared.json()["tags"] == ["a"]
    assert (await client.patch(path, json={"code": "x"}, headers=ada.headers)).status_code == 422


async def test_owners_list_search_filter_sort_and_page_their_links(
    app: FastAPI, client: httpx.AsyncClient, writer: Writers
) -> None:
    ada, bob = await writer("ada"), await writer("bob")
    await shorten(client, "https://example.com/bob", headers=bob.headers)
    for i in range(7):
        await shorten(
            client,
            f"https://example.com/item/{i}",
            title=f"Item {i}" + (" sale" if i % 2 else ""),
            tags=["odd"] if i % 2 else ["even"],
            alias=f"item-{i}",
            headers=ada.headers,
        )
    for i, clicks in ((2, 5), (5, 9)):
        for _ in range(clicks):
            await client.get(f"/item-{i}")
    await app.state.shortener.flush()

    newest = (await client.get(LINKS, headers=ada.headers)).json()
    assert newest["total"] == 7
    assert [item["code"] for item in newest["items"]][:2] == ["item-6", "item-5"]

    by_clicks = await client.get(LINKS, params={"sort": "-clicks"}, headers=ada.headers)
    assert [(i["code"], i["clicks"]) for i in by_clicks.json()["items"][:2]] == [
        ("item-5", 9),
        ("item-2", 5),
    ]
    odd = await client.get(LINKS, params={"tag": "ODD"}, headers=ada.headers)
    assert {item["code"] for item in odd.json()["items"]} == {"item-1", "item-3", "item-5"}
    sale = await client.get(LINKS, params={"q": "SALE", "tag": "odd"}, headers=ada.headers)
    assert sale.json()["total"] == 3
    percent = await client.get(LINKS, params={"q": "%"}, headers=ada.headers)
    assert percent.json()["total"] == 0

    statements = set()
    for size in (1, 3, 7):
        page = await client.get(LINKS, params={"page_size": size}, headers=ada.headers)
        assert len(page.json()["items"]) == size
        statements.add(page.headers["X-DB-Statements"])
    assert len(statements) == 1  # no N+1: the same statements whatever the page size
    second = await client.get(LINKS, params={"page_size": 3, "page": 3}, headers=ada.headers)
    assert [item["code"] for item in second.json()["items"]] == ["item-0"]
    assert 'rel="prev"' in second.headers["Link"]


async def test_idempotent_creation(client: httpx.AsyncClient, writer: Writers) -> None:
    ada = await writer("ada")
    headers = {**ada.headers, "Idempotency-Key": "create-once"}
    first = await client.post(LINKS, json={"url": "https://example.com"}, headers=headers)
    second = await client.post(LINKS, json={"url": "https://example.com"}, headers=headers)
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.json()["code"] == first.json()["code"]
    assert (await client.get(LINKS, headers=ada.headers)).json()["total"] == 1


def test_the_settings_default_is_seven_characters_and_anonymous_allowed() -> None:
    defaults = ShortenerSettings.model_fields
    assert defaults["code_length"].default == 7
    assert defaults["anonymous_create"].default is True
    assert isinstance(Settings.model_fields["public_url"].default, str)


async def test_control_characters_are_refused_before_the_database(
    client: httpx.AsyncClient, writer: Writers
) -> None:
    ada = await writer("ada")
    for payload in ({"title": "a\x00b"}, {"tags": ["a\x00"]}, {"alias": "a\x00bc"}):
        response = await client.post(
            LINKS, json={"url": "https://example.com", **payload}, headers=ada.headers
        )
        assert response.status_code == 422, payload
    for params in ({"q": "a\x00"}, {"tag": "\x00"}):
        assert (await client.get(LINKS, params=params, headers=ada.headers)).status_code == 422
