"""The web client at ``/chat``: one HTML page, one script and one stylesheet from
``chat/static/``, served as they are (no build step), read once at import.

The page's Content-Security-Policy lets it run its own script and connect to its own origin
(HTTP and WebSocket) and nothing else: no inline script, no third-party origin, no framing.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Response

STATIC = Path(__file__).resolve().parent.parent / "static"
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_FILES = {
    "index.html": "text/html; charset=utf-8",
    "chat.js": "text/javascript; charset=utf-8",
    "chat.css": "text/css; charset=utf-8",
}
_CONTENT = {name: (STATIC / name).read_bytes() for name in _FILES}

router = APIRouter(include_in_schema=False)


def _serve(name: str) -> Response:
    return Response(
        _CONTENT[name],
        media_type=_FILES[name],
        headers={"Content-Security-Policy": PAGE_CSP, "Cache-Control": "no-cache"},
    )


@router.get("/chat")
async def chat_page() -> Response:
    """The web client."""
    return _serve("index.html")


@router.get("/chat/chat.js")
async def chat_script() -> Response:
    return _serve("chat.js")


@router.get("/chat/chat.css")
async def chat_style() -> Response:
    return _serve("chat.css")
