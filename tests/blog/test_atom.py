"""Atom 1.0 feeds per author and per tag, checked element by element against RFC 4287."""

from __future__ import annotations

from datetime import datetime
from xml.etree import ElementTree as ET

import httpx

from tests.blog.writers import ARTICLES, Writers, publish

NS = {"atom": "http://www.w3.org/2005/Atom"}


def _parse(response: httpx.Response) -> ET.Element:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/atom+xml"
    root = ET.fromstring(response.content)  # noqa: S314 - our own server's output
    assert root.tag == "{http://www.w3.org/2005/Atom}feed"
    for required in ("id", "title", "updated"):
        assert root.findtext(f"atom:{required}", namespaces=NS), required
    datetime.fromisoformat(root.findtext("atom:updated", namespaces=NS) or "")
    self_link = root.find("atom:link[@rel='self']", NS)
    assert self_link is not None
    assert self_link.get("href") == root.findtext("atom:id", namespaces=NS)
    for entry in root.findall("atom:entry", NS):
        for required in ("id", "title", "updated", "content", "author/atom:name"):
            assert entry.find(f"atom:{required}", NS) is not None, required
        datetime.fromisoformat(entry.findtext("atom:updated", namespaces=NS) or "")
        assert (entry.findtext("atom:id", namespaces=NS) or "").startswith("urn:uuid:")
    return root


async def test_author_feed_lists_their_published_articles(
    client: httpx.AsyncClient, writer: Writers
) -> None:
    ada, bob = await writer("ada"), await writer("bob")
    await publish(client, ada, 'Fish & "chips" <b>bold</b>', body="**Crispy**", tags=["food"])
    await publish(client, ada, "Second")
    await publish(client, bob, "Not ada's")
    await client.post(ARTICLES, json={"title": "Draft", "body": "b"}, headers=ada.headers)

    root = _parse(await client.get(f"{ARTICLES}/authors/ADA.atom"))
    assert root.findtext("atom:title", namespaces=NS) == "Articles by ada"
    assert root.findtext("atom:id", namespaces=NS) == (
        "http://127.0.0.1:8000/api/v1/articles/authors/ada.atom"
    )
    entries = root.findall("atom:entry", NS)
    assert [e.findtext("atom:title", namespaces=NS) for e in entries] == [
        "Second",
        'Fish & "chips" <b>bold</b>',  # escaped in the XML, intact once parsed
    ]
    first = entries[1]
    assert first.findtext("atom:content", namespaces=NS) == "<p><strong>Crispy</strong></p>\n"
    assert first.find("atom:content", NS).get("type") == "html"  # type: ignore[union-attr]
    assert first.findtext("atom:author/atom:name", namespaces=NS) == "ada"
    assert [c.get("term") for c in first.findall("atom:category", NS)] == ["food"]
    link = first.find("atom:link[@rel='alternate']", NS)
    assert link is not None
    assert link.get("href") == "http://127.0.0.1:8000/api/v1/articles/fish-chips-b-bold-b"


async def test_tag_feed_and_unknown_feeds(client: httpx.AsyncClient, writer: Writers) -> None:
    ada = await writer("ada")
    await publish(client, ada, "Tagged", tags=["Node.js"])
    await publish(client, ada, "Untagged")
    root = _parse(await client.get("/api/v1/tags/node.js.atom"))
    assert root.findtext("atom:title", namespaces=NS) == "Articles tagged node.js"
    titles = [e.findtext("atom:title", namespaces=NS) for e in root.findall("atom:entry", NS)]
    assert titles == ["Tagged"]

    empty = _parse(await client.get(f"{ARTICLES}/authors/{(await writer('bob')).username}.atom"))
    assert empty.findall("atom:entry", NS) == []
    for path in (f"{ARTICLES}/authors/nobody.atom", "/api/v1/tags/nothing.atom"):
        response = await client.get(path)
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"
