"""The password interstitial: a small HTML form, posted back to the short URL.

Its Content-Security-Policy is its own (the kernel's security middleware keeps a CSP a
response already has): no script at all, the one inline stylesheet allowed by its hash, no
framing, no base URL. The page says nothing about the target.
"""

from __future__ import annotations

import base64
import hashlib
import html

from starlette.responses import HTMLResponse

STYLE = (
    "body{font-family:system-ui,sans-serif;background:#f6f7f9;margin:0}"
    "main{max-width:22rem;margin:15vh auto;padding:2rem;background:#fff;border-radius:.5rem;"
    "box-shadow:0 1px 4px rgba(0,0,0,.1)}h1{font-size:1.25rem;margin-top:0}"
    "label,input,button{display:block;width:100%;box-sizing:border-box;margin:.25rem 0}"
    "input,button{padding:.5rem;font-size:1rem}.error{color:#b00020}"
)
STYLE_HASH = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
CSP = (
    f"default-src 'none'; style-src 'sha256-{STYLE_HASH}'; frame-ancestors 'none'; base-uri 'none'"
)
PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>Protected link</title>
<style>{style}</style>
</head>
<body>
<main>
<h1>This link is protected</h1>
<p>Enter its password to continue.</p>
{error}<form method="post" action="{action}">
<label for="password">Password</label>
<input id="password" name="password" type="password" required autofocus maxlength="128">
<button type="submit">Continue</button>
</form>
</main>
</body>
</html>
"""


def interstitial(path: str, *, wrong: bool = False, head: bool = False) -> HTMLResponse:
    """The form, posting to ``path``; ``wrong`` after a wrong password (403)."""
    error = '<p class="error" role="alert">Wrong password.</p>\n' if wrong else ""
    page = PAGE.format(style=STYLE, error=error, action=html.escape(path, quote=True))
    response = HTMLResponse(
        page,
        status_code=403 if wrong else 200,
        headers={"Content-Security-Policy": CSP, "Cache-Control": "private, no-store"},
    )
    if head:
        response.body = b""  # HEAD: the headers (Content-Length included) without the page
    return response
