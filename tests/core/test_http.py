"""Outbound HTTP against a real local server: the SSRF guard, redirects, retries, lifecycle."""

from __future__ import annotations

import ipaddress
import threading
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import stamina
from fastapi import FastAPI
from prometheus_client import REGISTRY

from mainspring.app import create_app
from mainspring.core.config import Settings
from mainspring.core.http import OutboundRequestRefused, create_http_client, is_public


class LocalServer:
    """A real HTTP server on 127.0.0.1 that counts the requests each path receives."""

    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        hits = self.hits

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._answer()

            def do_PUT(self) -> None:
                self.do_POST()

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                self._answer()

            def _answer(self) -> None:
                url = urlsplit(self.path)
                query = parse_qs(url.query)
                hits[url.path] += 1
                seen = hits[url.path]
                if url.path == "/redirect":
                    self._send(302, b"", location=query["to"][0])
                elif url.path.startswith("/flaky/") and seen <= int(query["fail"][0]):
                    self._send(503, b"busy")
                elif url.path.startswith("/flaky/"):
                    self._send(200, b"recovered")
                elif url.path == "/unavailable":
                    self._send(503, b"down")
                elif url.path == "/limited" and seen == 1:
                    self._send(429, b"slow down", retry_after="0")
                else:
                    self._send(200, b"hello")

            def _send(
                self,
                status: int,
                body: bytes,
                location: str | None = None,
                retry_after: str | None = None,
            ) -> None:
                self.send_response(status)
                if location:
                    self.send_header("Location", location)
                if retry_after:
                    self.send_header("Retry-After", retry_after)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                """Quiet."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"


@pytest.fixture
def server() -> Iterator[LocalServer]:
    local = LocalServer()
    local.thread.start()
    try:
        yield local
    finally:
        local.server.shutdown()
        local.server.server_close()


@pytest.fixture
async def allowed(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A client configured to reach the loopback network (MAINSPRING_HTTP_ALLOW_PRIVATE)."""
    client = create_http_client(settings.model_copy(update={"http_allow_private": ["127.0.0.0/8"]}))
    async with client:
        yield client


def _refused(reason: str) -> float:
    value = REGISTRY.get_sample_value(
        "mainspring_outbound_requests_refused_total", {"reason": reason}
    )
    return value or 0.0


async def test_loopback_is_refused_by_default(app: FastAPI, server: LocalServer) -> None:
    http: httpx.AsyncClient = app.state.http
    before = _refused("address")
    for url in (server.url("/"), server.url("/", host="localhost")):
        with pytest.raises(OutboundRequestRefused) as refused:
            await http.get(url)
        assert "non-public address" in str(refused.value.detail)
    assert _refused("address") == before + 2
    assert server.hits.total() == 0


async def test_allowed_private_addresses_and_hosts_are_reachable(
    settings: Settings, server: LocalServer
) -> None:
    for allow in (["127.0.0.1"], ["127.0.0.0/8"], ["LOCALHOST"]):
        host = "localhost" if allow == ["LOCALHOST"] else "127.0.0.1"
        async with create_http_client(
            settings.model_copy(update={"http_allow_private": allow})
        ) as client:
            response = await client.get(server.url("/", host=host))
        assert response.status_code == 200
        assert response.text == "hello"
    assert server.hits["/"] == 3


async def test_numeric_address_tricks_are_refused(
    app: FastAPI, allowed: httpx.AsyncClient, server: LocalServer
) -> None:
    hosts = (
        "2130706433",
        "0x7f000001",
        "127.1",
        "[::ffff:127.0.0.1]",
        "[::ffff:7f00:1]",
        "0.0.0.0",  # noqa: S104 - an address under test, not a bind
    )
    for host in hosts:
        with pytest.raises(OutboundRequestRefused):
            await app.state.http.get(server.url("/", host=host))
    assert server.hits.total() == 0
    # The same URLs do reach the server when loopback is allowed: the guard refused them.
    for host in hosts[:3]:
        assert (await allowed.get(server.url("/", host=host))).status_code == 200


async def test_only_http_and_https_schemes(allowed: httpx.AsyncClient, server: LocalServer) -> None:
    before = _refused("scheme")
    for url in ("file:///etc/passwd", f"gopher://127.0.0.1:{server.port}/", "ftp://127.0.0.1/"):
        with pytest.raises(OutboundRequestRefused) as refused:
            await allowed.get(url)
        assert "only http and https" in str(refused.value.detail)
    assert _refused("scheme") == before + 3
    assert server.hits.total() == 0


async def test_every_redirect_hop_is_checked(
    allowed: httpx.AsyncClient, settings: Settings, server: LocalServer
) -> None:
    followed = await allowed.get(server.url("/redirect"), params={"to": "/landing"})
    assert followed.status_code == 200
    assert server.hits["/landing"] == 1

    async with create_http_client(
        settings.model_copy(update={"http_allow_private": ["127.0.0.1"]})
    ) as client:
        for target in (
            f"http://[::1]:{server.port}/landing",
            "http://169.254.169.254/latest/meta-data/",
            f"http://10.0.0.1:{server.port}/landing",
            "file:///etc/passwd",
        ):
            with pytest.raises(OutboundRequestRefused):
                await client.get(server.url("/redirect"), params={"to": target})
    assert server.hits["/redirect"] == 5
    assert server.hits["/landing"] == 1


async def test_idempotent_requests_are_retried(
    allowed: httpx.AsyncClient, server: LocalServer
) -> None:
    with stamina.set_testing(True, attempts=3, cap=True):  # no backoff sleeps in tests
        recovered = await allowed.get(server.url("/flaky/get"), params={"fail": 2})
        down = await allowed.get(server.url("/unavailable"))
        welcomed = await allowed.put(server.url("/limited"), content=b"state")
    assert welcomed.status_code == 200  # a 429 with Retry-After: 0, retried
    assert server.hits["/limited"] == 2
    assert recovered.status_code == 200
    assert recovered.text == "recovered"
    assert server.hits["/flaky/get"] == 3
    assert down.status_code == 503
    assert down.text == "down"  # the last answer is handed back, body intact
    assert server.hits["/unavailable"] == 3


async def test_post_is_never_retried(allowed: httpx.AsyncClient, server: LocalServer) -> None:
    with stamina.set_testing(True, attempts=3, cap=True):
        response = await allowed.post(server.url("/flaky/post"), params={"fail": 2}, json={})
    assert response.status_code == 503
    assert server.hits["/flaky/post"] == 1


async def test_the_app_client_is_configured_and_closed(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"http_timeout_seconds": 2.5}))
    async with app.router.lifespan_context(app):
        client: httpx.AsyncClient = app.state.http
        assert client.timeout.connect == client.timeout.read == 2.5
        assert not client.is_closed
    assert client.is_closed


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.215.14", True),
        ("2606:4700:4700::1111", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("100.64.0.1", False),
        ("169.254.169.254", False),
        ("0.0.0.0", False),  # noqa: S104 - an address under test
        ("224.0.0.1", False),
        ("255.255.255.255", False),
        ("::1", False),
        ("::", False),
        ("fd00:ec2::254", False),
        ("fe80::1", False),
        ("ff02::1", False),
        ("::ffff:10.0.0.1", False),
        ("2002:7f00:1::", False),  # 6to4 around 127.0.0.1
        ("64:ff9b::a9fe:a9fe", False),  # NAT64 around 169.254.169.254
    ],
)
def test_public_addresses(address: str, public: bool) -> None:
    assert is_public(ipaddress.ip_address(address)) is public
