"""Link previews: the target's title, fetched in the background through the kernel's
SSRF-guarded client, bounded in size and time."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from mainspring.core.config import Settings
from mainspring.shortener.settings import ShortenerSettings
from tests.fixtures.jobs import DrainJobs
from tests.fixtures.users import NewUser as Writers
from tests.shortener.conftest import LINKS, shorten, shortener_settings_of


class Target(BaseHTTPRequestHandler):
    """A small site: a titled page, a redirect to a private address, a huge page, a file."""

    def do_GET(self) -> None:
        port = int(self.server.server_address[1])  # type: ignore[index]
        if self.path == "/page":
            self._answer(b"<html><head><title> Spring &amp; Sale\n </title></head></html>")
        elif self.path == "/to-private":
            self.send_response(302)
            self.send_header("Location", f"http://127.0.0.2:{port}/page")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path == "/to-metadata":
            self.send_response(302)
            self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path == "/huge":
            self._answer(b"<html>" + b" " * 200_000 + b"<title>Too far</title></html>")
        elif self.path == "/file":
            self._answer(b"%PDF-1.7", "application/pdf")
        else:
            self.send_error(404)

    def _answer(self, body: bytes, content_type: str = "text/html; charset=utf-8") -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def site() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Target)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The outbound client may reach ``localhost`` (the test site), and nothing else private."""
    return settings.model_copy(
        update={"http_allow_private": ["localhost"], "http_timeout_seconds": 2}
    )


@pytest.fixture
def shortener_settings() -> ShortenerSettings:
    return shortener_settings_of(allow_private_targets=["localhost"], preview_max_bytes=4096)


@pytest.mark.parametrize(
    ("path", "preview"),
    [
        ("/page", {"title": "Spring & Sale", "status": "ok"}),
        ("/to-private", {"title": None, "status": "refused"}),
        ("/to-metadata", {"title": None, "status": "refused"}),
        ("/huge", {"title": None, "status": "none"}),
        ("/file", {"title": None, "status": "none"}),
        ("/missing", {"title": None, "status": "failed"}),
    ],
)
async def test_the_preview_is_fetched_in_the_background(
    client: httpx.AsyncClient,
    writer: Writers,
    drain_jobs: DrainJobs,
    site: str,
    path: str,
    preview: dict[str, object],
) -> None:
    ada = await writer("ada")
    link = await shorten(client, site + path, headers=ada.headers)
    assert link["preview"]["status"] == "pending"
    outcomes = await drain_jobs()
    assert [outcome.status for outcome in outcomes] == ["done"]
    read = await client.get(f"{LINKS}/{link['code']}", headers=ada.headers)
    assert read.json()["preview"] == preview


async def test_a_new_target_gets_a_new_preview(
    client: httpx.AsyncClient, writer: Writers, drain_jobs: DrainJobs, site: str
) -> None:
    ada = await writer("ada")
    link = await shorten(client, site + "/file", headers=ada.headers)
    await drain_jobs()
    changed = await client.patch(
        f"{LINKS}/{link['code']}", json={"url": site + "/page"}, headers=ada.headers
    )
    assert changed.json()["preview"] == {"title": None, "status": "pending"}
    await drain_jobs()
    read = await client.get(f"{LINKS}/{link['code']}", headers=ada.headers)
    assert read.json()["preview"]["title"] == "Spring & Sale"
