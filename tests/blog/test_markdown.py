"""``render_markdown``: CommonMark with raw HTML off, then an allow-list sanitiser."""

from __future__ import annotations

import pytest

from mainspring.core.markdown import render_markdown


@pytest.mark.parametrize(
    ("source", "html"),
    [
        ("# Title\n\nSome *text*.", "<h1>Title</h1>\n<p>Some <em>text</em>.</p>\n"),
        ("<script>alert(1)</script>", "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>\n"),
        ("<b onclick=x>raw</b>", "<p>&lt;b onclick=x&gt;raw&lt;/b&gt;</p>\n"),
        ("[x](javascript:alert(1))", "<p>[x](javascript:alert(1))</p>\n"),
        ("[x](JaVaScRiPt:alert(1))", "<p>[x](JaVaScRiPt:alert(1))</p>\n"),
        ("[x](&#106;avascript:alert(1))", "<p>[x](javascript:alert(1))</p>\n"),
        ("<javascript:alert(1)>", "<p>&lt;javascript:alert(1)&gt;</p>\n"),
        # markdown-it lets data:image through; the sanitiser's scheme allow-list does not.
        ("![i](data:image/png;base64,AAAA)", '<p><img alt="i"></p>\n'),
        (
            "[site](https://example.com 'Title')",
            '<p><a href="https://example.com" title="Title" rel="nofollow noopener noreferrer">'
            "site</a></p>\n",
        ),
        ("```python\nx = 1\n```", '<pre><code class="language-python">x = 1\n</code></pre>\n'),
        ("~~gone~~", "<p><s>gone</s></p>\n"),
        (
            "| a |\n|:-:|\n| 1 |",
            (
                '<table>\n<thead>\n<tr>\n<th style="text-align:center">a</th>\n</tr>\n</thead>\n'
                '<tbody>\n<tr>\n<td style="text-align:center">1</td>\n</tr>\n</tbody>\n</table>\n'
            ),
        ),
    ],
)
def test_render_markdown(source: str, html: str) -> None:
    assert render_markdown(source) == html
