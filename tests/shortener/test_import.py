"""CSV imports: one link per row, a report per row."""

from __future__ import annotations

import httpx
import pytest

from tests.fixtures.users import NewUser as Writers
from tests.shortener.conftest import LINKS, shorten, shortener_settings_of

IMPORT = f"{LINKS}/import"
CSV = {"Content-Type": "text/csv"}


async def test_each_row_is_created_or_refused_with_its_reason(
    client: httpx.AsyncClient, writer: Writers
) -> None:
    ada = await writer("ada")
    await shorten(client, alias="taken", headers=ada.headers)
    body = (
        "\ufeffurl,alias,title,tags,max_clicks,redirect_type\n"
        "https://example.com/1,first,First,news;Spring,,\n"
        "http://10.0.0.1/admin,,,,,\n"
        "https://example.com/3,TAKEN,,,,\n"
        "https://example.com/4,docs,,,,\n"
        "https://example.com/5,,,,zero,\n"
        "https://example.com/6,,,,,303\n"
        "https://example.com/7,first,,,,\n"
        "https://example.com/8,,,,,,extra\n"
        'https://example.com/9,"last","A, quoted title",,5,301\n'
    )
    response = await client.post(IMPORT, content=body, headers={**ada.headers, **CSV})
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["created"], report["failed"]) == (2, 7)
    rows = {row["row"]: row for row in report["rows"]}
    assert rows[2]["ok"]
    assert rows[2]["code"] == "first"
    assert rows[2]["short_url"].endswith("/first")
    assert "non-public" in rows[3]["error"]
    assert "taken" in rows[4]["error"]
    assert "reserved" in rows[5]["error"]
    assert rows[6]["error"].startswith("max_clicks")
    assert rows[7]["error"].startswith("redirect_type")
    assert "taken" in rows[8]["error"]  # the alias of row 2, in the same file
    assert rows[9]["error"] == "More cells than columns."
    assert rows[10]["ok"]
    assert rows[10]["code"] == "last"

    first = (await client.get(f"{LINKS}/first", headers=ada.headers)).json()
    assert (first["title"], first["tags"]) == ("First", ["news", "spring"])
    last = (await client.get(f"{LINKS}/last", headers=ada.headers)).json()
    assert (last["title"], last["max_clicks"], last["redirect_type"]) == ("A, quoted title", 5, 301)
    assert (await client.get(LINKS, headers=ada.headers)).json()["total"] == 3


@pytest.mark.parametrize(
    "body",
    [
        "",
        "alias,title\nx,y\n",
        "url,colour\nhttps://example.com,red\n",
        "url,title\nhttps://example.com,a\x00b\n",
    ],
)
async def test_an_unreadable_file_is_refused_whole(
    client: httpx.AsyncClient, writer: Writers, body: str
) -> None:
    ada = await writer("ada")
    response = await client.post(IMPORT, content=body, headers={**ada.headers, **CSV})
    assert response.status_code == (400 if body else 422)
    assert response.json()["code"] == ("invalid-import" if body else "validation-error")


@pytest.mark.parametrize("shortener_settings", [shortener_settings_of(bulk_max_rows=2)])
async def test_imports_are_bounded_and_need_an_account(
    client: httpx.AsyncClient, writer: Writers
) -> None:
    body = "url\n" + "https://example.com/x\n" * 3
    assert (await client.post(IMPORT, content=body, headers=CSV)).status_code == 401
    ada = await writer("ada")
    response = await client.post(IMPORT, content=body, headers={**ada.headers, **CSV})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid-import"
    assert (await client.get(LINKS, headers=ada.headers)).json()["total"] == 0
