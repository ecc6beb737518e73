"""Outbound HTTP: one shared ``httpx.AsyncClient`` with timeouts, retries and an SSRF guard.

``app.state.http`` is an ordinary ``httpx.AsyncClient`` (closed on shutdown); what makes it safe
to point at a URL a user typed (a webhook, an avatar to fetch, a link preview) is its
transport, two layers deep:

1. ``RetryingTransport`` retries *idempotent* requests (GET, HEAD, PUT, DELETE, OPTIONS) with
   a replayable body on connection errors, 429 and 5xx answers, with exponential backoff and
   jitter (stamina), honouring a short ``Retry-After``. A POST is never retried: the server may
   have acted before the answer was lost.
2. ``GuardedTransport`` refuses any scheme but http and https, and connects through
   ``VettingNetworkBackend``, which resolves the host name **once**, refuses the connection if
   any address is not public, and connects to the vetted address itself. The check and the
   connection use the same address, so DNS rebinding (a name that resolves to a public address
   for the check and to 127.0.0.1 for the connection) has nothing to exploit. TLS still
   verifies the certificate for the host *name*.

Refused are: loopback, private (RFC 1918, IPv6 unique local), link-local (with the cloud
metadata endpoints 169.254.169.254 and fd00:ec2::254), CGNAT (100.64.0.0/10), multicast,
reserved, unspecified and documentation ranges, and the IPv4 address inside an IPv4-mapped,
6to4, Teredo or NAT64 IPv6 address. Numeric tricks (``http://2130706433/``,
``http://0x7f000001/``, ``http://[::ffff:127.0.0.1]/``) resolve to 127.0.0.1 first and are
refused like it. Every redirect hop goes through the transport again, so a public URL that
redirects to a private one is refused too (at most ``MAX_REDIRECTS`` hops are followed).

``MAINSPRING_HTTP_ALLOW_PRIVATE`` lists the exceptions: host names (``internal-api.local``) or
addresses and CIDRs (``10.0.5.0/24``) the service may reach although private.

A refusal raises ``OutboundRequestRefused`` (422, ``outbound-request-refused``), counted in
``mainspring_outbound_requests_refused_total``. The client ignores proxy environment variables
(``trust_env=False``): a proxy would connect on our behalf, out of the guard's sight.
"""

from __future__ import annotations

import email.utils
import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import anyio
import httpcore
import httpx
import stamina
from fastapi import FastAPI
from prometheus_client import Counter

from mainspring import __version__
from mainspring.core.config import Settings
from mainspring.core.errors import UnprocessableEntity

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

ALLOWED_SCHEMES = frozenset({"http", "https"})
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
MAX_REDIRECTS = 5
RETRY_ATTEMPTS = 3
RETRY_WAIT_INITIAL = 0.2
RETRY_WAIT_MAX = 5.0
RETRY_WAIT_JITTER = 0.5

REFUSED_NETWORKS: tuple[IPNetwork, ...] = tuple(
    ipaddress.ip_network(cidr)
    for cidr in (
        "0.0.0.0/8",  # "this network", unspecified
        "10.0.0.0/8",  # private
        "100.64.0.0/10",  # carrier-grade NAT (also Alibaba's metadata at 100.100.100.200)
        "127.0.0.0/8",  # loopback
        "169.254.0.0/16",  # link-local, cloud metadata at 169.254.169.254
        "172.16.0.0/12",  # private
        "192.0.0.0/24",  # IETF protocol assignments
        "192.0.2.0/24",  # documentation
        "192.88.99.0/24",  # 6to4 relay anycast
        "192.168.0.0/16",  # private
        "198.18.0.0/15",  # benchmarking
        "198.51.100.0/24",  # documentation
        "203.0.113.0/24",  # documentation
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, broadcast
        "::/128",  # unspecified
        "::1/128",  # loopback
        "100::/64",  # discard
        "2001:db8::/32",  # documentation
        "fc00::/7",  # unique local, AWS metadata at fd00:ec2::254
        "fe80::/10",  # link-local
        "fec0::/10",  # old site-local
        "ff00::/8",  # multicast
    )
)
NAT64_PREFIX = ipaddress.ip_network("64:ff9b::/96")

REFUSED_REQUESTS = Counter(
    "mainspring_outbound_requests_refused_total",
    "Outbound HTTP requests refused by the SSRF guard, by reason.",
    ["reason"],
)


class OutboundRequestRefused(UnprocessableEntity):
    """An outbound URL the service will not fetch: wrong scheme, or a non-public address."""

    code = "outbound-request-refused"
    title = "Outbound Request Refused"


def _refuse(reason: str, detail: str) -> OutboundRequestRefused:
    REFUSED_REQUESTS.labels(reason).inc()
    return OutboundRequestRefused(detail)


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries to an IPv4 host, if it carries one."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in NAT64_PREFIX:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_public(address: IPAddress) -> bool:
    """Whether ``address`` (and any IPv4 address inside it) is a public unicast address."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None and not is_public(embedded):
            return False
    if any(address in network for network in REFUSED_NETWORKS):
        return False
    return address.is_global and not address.is_multicast


@dataclass(frozen=True)
class AddressPolicy:
    """Which addresses outbound requests may reach: public ones, plus the configured exceptions."""

    allowed_hosts: frozenset[str] = frozenset()
    allowed_networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def from_entries(cls, entries: Iterable[str]) -> AddressPolicy:
        """``["internal-api.local", "10.0.5.0/24", "127.0.0.1"]``: host names, addresses, CIDRs."""
        hosts: set[str] = set()
        networks: list[IPNetwork] = []
        for entry in (e.strip() for e in entries):
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                hosts.add(_normalise_host(entry))
        return cls(frozenset(hosts), tuple(networks))

    def permits(self, host: str, address: IPAddress) -> bool:
        if _normalise_host(host) in self.allowed_hosts:
            return True
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if any(address in network for network in self.allowed_networks):
            return True
        return is_public(address)


def _normalise_host(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()


class VettingNetworkBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network layer with the guard: resolve once, vet every address, connect to a
    vetted one. Each new connection is vetted; pooled connections were vetted when opened."""

    def __init__(self, policy: AddressPolicy) -> None:
        self.policy = policy
        self._backend = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's signature
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            with anyio.fail_after(timeout):
                addresses = await self._resolve(host, port)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"resolving {host} timed out") from exc
        for address in addresses:
            if not self.policy.permits(host, address):
                raise _refuse(
                    "address",
                    f"Outbound requests to {host} are refused: it resolves to a non-public "
                    f"address ({address}).",
                )
        error: httpcore.ConnectError | None = None
        for address in addresses:
            try:
                return await self._backend.connect_tcp(
                    str(address),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except httpcore.ConnectError as exc:
                error = exc
        assert error is not None
        raise error

    async def _resolve(self, host: str, port: int) -> list[IPAddress]:
        try:
            infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        addresses: list[IPAddress] = []
        for info in infos:
            address = ipaddress.ip_address(info[4][0])
            if address not in addresses:
                addresses.append(address)
        if not addresses:
            raise httpcore.ConnectError(f"{host} has no address")
        return addresses

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport, refusing non-http(s) schemes and connecting through the guard."""

    def __init__(self, policy: AddressPolicy, limits: httpx.Limits | None = None) -> None:
        limits = limits or httpx.Limits()
        # One TLS context (loading the CA bundle costs about 1 MiB and 20 ms), for both pools.
        ssl_context = httpx.create_ssl_context(trust_env=False)
        super().__init__(verify=ssl_context, trust_env=False, limits=limits)
        # httpx offers no parameter for httpcore's network backend: build its pool ourselves,
        # with the same settings ``AsyncHTTPTransport`` would use.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=VettingNetworkBackend(policy),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.scheme not in ALLOWED_SCHEMES:
            raise _refuse(
                "scheme",
                f"Outbound requests with the {request.url.scheme or 'empty'!r} scheme are "
                "refused; only http and https are allowed.",
            )
        return await super().handle_async_request(request)


class _RetryableAnswer(Exception):
    """A 429 or 5xx answer to an idempotent request, carried out of a stamina attempt."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response = response


def _retry_after(response: httpx.Response) -> float | None:
    """``Retry-After`` in seconds (delta or HTTP date), when present and valid."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # "-0000": UTC without saying so
        when = when.replace(tzinfo=UTC)
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)


def _backoff(error: Exception) -> bool | float:
    """stamina's hook: retry connection failures and retryable answers; a server's short
    ``Retry-After`` replaces the computed backoff (a long one is not waited for here)."""
    if isinstance(error, _RetryableAnswer):
        delay = _retry_after(error.response)
        return delay if delay is not None and delay <= RETRY_WAIT_MAX else True
    return isinstance(error, httpx.ConnectError | httpx.ConnectTimeout)


def _retryable_status(status: int) -> bool:
    return status == 429 or 500 <= status <= 599


class RetryingTransport(httpx.AsyncBaseTransport):
    """Retries idempotent requests with a replayable body; passes everything else through."""

    def __init__(self, transport: httpx.AsyncBaseTransport, attempts: int = RETRY_ATTEMPTS) -> None:
        self._transport = transport
        self.attempts = attempts

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method not in IDEMPOTENT_METHODS or not isinstance(
            request.stream, httpx.ByteStream
        ):
            return await self._transport.handle_async_request(request)
        try:
            async for attempt in stamina.retry_context(
                on=_backoff,
                attempts=self.attempts,
                wait_initial=RETRY_WAIT_INITIAL,
                wait_max=RETRY_WAIT_MAX,
                wait_jitter=RETRY_WAIT_JITTER,
            ):
                with attempt:
                    response = await self._transport.handle_async_request(request)
                    if _retryable_status(response.status_code):
                        raise _RetryableAnswer(await _buffered(response))
                    return response
        except _RetryableAnswer as last:
            return last.response
        raise AssertionError("stamina made no attempt")  # pragma: no cover

    async def aclose(self) -> None:
        await self._transport.aclose()


async def _buffered(response: httpx.Response) -> httpx.Response:
    """The answer read (raw, still encoded) and its connection released for the next attempt."""
    try:
        body = b"".join([chunk async for chunk in response.aiter_raw()])
    finally:
        await response.aclose()
    return httpx.Response(
        response.status_code,
        headers=response.headers,
        content=body,
        extensions=response.extensions,
    )


def create_http_client(settings: Settings) -> httpx.AsyncClient:
    """The guarded, retrying client with the configured timeout."""
    policy = AddressPolicy.from_entries(settings.http_allow_private)
    return httpx.AsyncClient(
        transport=RetryingTransport(GuardedTransport(policy)),
        timeout=httpx.Timeout(settings.http_timeout_seconds),
        follow_redirects=True,
        max_redirects=MAX_REDIRECTS,
        trust_env=False,
        headers={"User-Agent": f"Mainspring/{__version__}"},
    )


def install(app: FastAPI, settings: Settings) -> None:
    """``app.state.http``, closed when the app stops."""
    client = create_http_client(settings)
    app.state.http = client
    app.state.shutdown_hooks.append(client.aclose)
