"""User Markdown to safe HTML: rendered with raw HTML disabled, then sanitised.

Two locks, because either alone has failed in the wild:

1. markdown-it-py renders CommonMark (plus tables and strikethrough) with ``html=False``: any
   ``<script>`` or ``<img onerror=...>`` typed by a user comes out as escaped text, and
   links to ``javascript:``, ``vbscript:``, ``file:`` or non-image ``data:`` URLs are not made.
2. nh3 (the Rust ``ammonia`` sanitiser) then parses the HTML and keeps only an allow-list of
   tags, attributes and URL schemes, so a renderer bug or a future plugin cannot open a hole.

Rendering costs far more than reading a column: callers store the result next to the source
(``Article.body_html``) and render again only when the source changes.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

# The structure Markdown produces, and nothing else (no <div>, <span>, <style>, forms or media).
ALLOWED_TAGS = frozenset(
    {
        "a", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5", "h6",
        "hr", "img", "li", "ol", "p", "pre", "s", "strong", "table", "tbody", "td", "th",
        "thead", "tr", "ul",
    }
)  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": frozenset({"href", "title"}),
    "img": frozenset({"src", "alt", "title"}),
    "ol": frozenset({"start"}),
    "code": frozenset({"class"}),  # "language-python" on fenced code blocks
    "td": frozenset({"style"}),  # table column alignment
    "th": frozenset({"style"}),
}
ALLOWED_URL_SCHEMES = frozenset({"http", "https", "mailto"})


@functools.cache
def _renderer() -> Callable[[str], str]:
    """The renderer and the sanitiser, built on the first render: markdown-it-py and nh3 (about
    2 MiB) serve only the writes that render, not a worker's start."""
    import nh3
    from markdown_it import MarkdownIt

    markdown = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    markdown.enable(["table", "strikethrough"])
    cleaner = nh3.Cleaner(
        tags=set(ALLOWED_TAGS),
        attributes={tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(ALLOWED_URL_SCHEMES),
        filter_style_properties={"text-align"},
        link_rel="nofollow noopener noreferrer",  # user links earn no search ranking
        strip_comments=True,
    )
    return lambda text: cleaner.clean(markdown.render(text))


def render_markdown(text: str) -> str:
    """Render user-written Markdown to HTML that is safe to insert into a page as is."""
    return _renderer()(text)
