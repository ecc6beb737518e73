"""Atom 1.0 feeds (RFC 4287) of published articles, built with ElementTree.

Building the XML as a tree, never by string formatting, is what keeps a title such as
``<b>Fish & "chips"</b>`` from breaking the document: the serializer escapes every text and
attribute. An entry carries the article's stored, sanitised HTML as ``type="html"`` content.

What RFC 4287 requires, and where it comes from here:
- feed: ``id`` (its own absolute URL), ``title``, ``updated`` (the newest entry's change),
  ``link rel="self"``, and an ``author`` unless every entry has one (every entry has one);
- entry: ``id`` (``urn:uuid:`` of the article, permanent whatever its slug becomes), ``title``,
  ``updated``, ``author``, and ``content`` or ``link rel="alternate"`` (both here).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote
from xml.etree import ElementTree as ET

from mainspring.blog.schemas import Article
from mainspring.core.db import utcnow

ATOM_NS = "http://www.w3.org/2005/Atom"
ATOM_MEDIA_TYPE = "application/atom+xml"

ET.register_namespace("", ATOM_NS)


@dataclass(frozen=True)
class AtomEntry:
    id: str
    title: str
    summary: str
    content_html: str
    link: str
    author_name: str
    published: datetime
    updated: datetime
    categories: Sequence[str] = ()


def _rfc3339(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def _add(parent: ET.Element, tag: str, text: str | None = None, **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ATOM_NS}}}{tag}", attributes)
    if text is not None:
        element.text = text
    return element


def render_feed(
    *, title: str, self_url: str, updated: datetime, entries: Sequence[AtomEntry]
) -> bytes:
    """The feed document as UTF-8 bytes with an XML declaration."""
    feed = ET.Element(f"{{{ATOM_NS}}}feed")
    _add(feed, "id", self_url)
    _add(feed, "title", title)
    _add(feed, "updated", _rfc3339(updated))
    _add(feed, "link", rel="self", type=ATOM_MEDIA_TYPE, href=self_url)
    _add(feed, "generator", "Mainspring")
    for entry in entries:
        item = _add(feed, "entry")
        _add(item, "id", entry.id)
        _add(item, "title", entry.title)
        _add(item, "link", rel="alternate", type="application/json", href=entry.link)
        _add(item, "published", _rfc3339(entry.published))
        _add(item, "updated", _rfc3339(entry.updated))
        author = _add(item, "author")
        _add(author, "name", entry.author_name)
        for category in entry.categories:
            _add(item, "category", term=category)
        _add(item, "summary", entry.summary, type="text")
        _add(item, "content", entry.content_html, type="html")
    body: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return body


def article_feed(
    articles: Sequence[Article], *, title: str, self_url: str, public_url: str
) -> bytes:
    """The feed of ``articles`` (published articles, newest first). An entry links to the
    article in the API; the feed's ``updated`` is its newest entry's, or now when empty."""
    entries = [
        AtomEntry(
            id=f"urn:uuid:{article.id}",
            title=article.title,
            summary=article.description,
            content_html=article.body_html,
            link=f"{public_url}/api/v1/articles/{quote(article.slug)}",
            author_name=article.author.display_name or article.author.username,
            published=article.published_at or article.created_at,
            updated=article.updated_at,
            categories=article.tags,
        )
        for article in articles
    ]
    updated = max((entry.updated for entry in entries), default=utcnow())
    return render_feed(title=title, self_url=self_url, updated=updated, entries=entries)
