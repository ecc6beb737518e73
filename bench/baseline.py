"""The baseline: the smallest ASGI application that answers like an API, with no framework.

Served by the same uvicorn, with the same workers and options, as Mainspring, it measures what
the server itself costs: HTTP parsing, the event loop, the socket. Whatever a Mainspring
scenario does on top (middleware, routing, validation, logging, the database) shows as the gap
between the two, the "vs baseline" column of the report.

``GET /json`` answers a fixed small JSON body; ``GET /redirect`` a fixed 302 (a URL
shortener's hit); anything else a bare 404.
"""

from __future__ import annotations

from starlette.types import Receive, Scope, Send

JSON_BODY = b'{"status":"ok"}'
JSON_HEADERS = [
    (b"content-type", b"application/json"),
    (b"content-length", str(len(JSON_BODY)).encode()),
]
REDIRECT_HEADERS = [(b"location", b"/json"), (b"content-length", b"0")]
NOT_FOUND_HEADERS = [(b"content-length", b"0")]


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """The ASGI entry point (``uvicorn bench.baseline:app``)."""
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    if scope["type"] != "http":
        return
    if scope["path"] == "/json":
        status, headers, body = 200, JSON_HEADERS, JSON_BODY
    elif scope["path"] == "/redirect":
        status, headers, body = 302, REDIRECT_HEADERS, b""
    else:
        status, headers, body = 404, NOT_FOUND_HEADERS, b""
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _lifespan(receive: Receive, send: Send) -> None:
    """Nothing to start or stop: acknowledge both, as the ASGI lifespan protocol asks."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
