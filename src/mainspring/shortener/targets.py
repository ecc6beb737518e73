"""Target URLs: normalised, then vetted before a link may point at them.

``normalise`` turns what a user typed into one canonical ASCII URL (or refuses it): only
``http`` and ``https``; no credentials (``https://bank.example@evil.example`` hides its real
host); no control characters (the URL becomes a ``Location`` header); the host lower-cased and
IDNA-encoded, the default port dropped, the path, query and fragment percent-encoded where they
must be, an empty path made ``/``; at most 2 048 characters once normalised.

``TargetPolicy.vet`` then refuses what a short link must not point at:

- non-public addresses: loopback, private, link-local (the cloud metadata address
  169.254.169.254 included), CGNAT, multicast, reserved (the kernel's ``core.http.is_public``
  decides, as it does for outbound requests), written in any form: dotted, IPv6, IPv4-mapped,
  and the numeric tricks ``2130706433``, ``0x7f000001``, ``0177.0.0.1``, ``127.1``, which
  ``inet_aton`` reads as browsers do;
- intranet names: single-label hosts (``localhost``, ``intranet``) and the special-use suffixes
  ``.localhost``, ``.local``, ``.internal``, ``.home.arpa``, ``.lan``;
- host names that *resolve* to a non-public address (when ``resolve`` is on). This is advisory:
  the visitor's browser resolves the name again, later, and a name that does not resolve now is
  accepted; it stops the obvious cases, while ``core.http`` (which connects to the address it
  vetted) is what guards the service's own requests;
- the configured blocked domains, with their subdomains;
- this service's own hosts: a short link to a short link could loop.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit

from mainspring.core.http import AddressPolicy, IPAddress
from mainspring.shortener.errors import TargetRefused
from mainspring.shortener.models import URL_MAX

SCHEMES = frozenset({"http", "https"})
DEFAULT_PORTS = {"http": 80, "https": 443}
INTRANET_SUFFIXES = (".localhost", ".local", ".internal", ".home.arpa", ".lan")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_HOST_LABEL = re.compile(r"^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$")
_NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"
_QUERY_SAFE = _PATH_SAFE + "?"

Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]


@dataclass(frozen=True)
class Target:
    """A normalised target: the URL, its host (no brackets) and port."""

    url: str
    host: str
    port: int


def normalise(raw: str) -> Target:
    """The canonical form of ``raw``; ``TargetRefused`` when it cannot be a target."""
    text = raw.strip()
    if _CONTROL.search(text):
        raise TargetRefused("The URL contains control characters.")
    if len(text) > URL_MAX * 3:
        raise TargetRefused(f"The URL is longer than {URL_MAX} characters.")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise TargetRefused(f"The URL is malformed: {exc}.") from exc
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise TargetRefused("Only http and https URLs can be shortened.")
    if parts.username is not None or parts.password is not None:
        raise TargetRefused("URLs with credentials (user:password@) are refused.")
    host = _ascii_host(parts.hostname or "")
    port = port or DEFAULT_PORTS[scheme]
    netloc = f"[{host}]" if ":" in host else host
    if port != DEFAULT_PORTS[scheme]:
        netloc += f":{port}"
    url = f"{scheme}://{netloc}{quote(parts.path or '/', safe=_PATH_SAFE)}"
    if parts.query:
        url += "?" + quote(parts.query, safe=_QUERY_SAFE)
    if parts.fragment:
        url += "#" + quote(parts.fragment, safe=_QUERY_SAFE)
    if len(url) > URL_MAX:
        raise TargetRefused(f"The URL is longer than {URL_MAX} characters once normalised.")
    return Target(url=url, host=host, port=port)


def _ascii_host(host: str) -> str:
    host = host.strip().rstrip(".").lower()
    if not host:
        raise TargetRefused("The URL has no host.")
    if ":" in host:  # an IPv6 literal (urlsplit removed the brackets)
        try:
            return str(ipaddress.IPv6Address(host.split("%")[0]))
        except ValueError as exc:
            raise TargetRefused("The URL's IPv6 address is malformed.") from exc
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise TargetRefused("The URL's host name is not a valid domain name.") from exc
    if len(host) > 253 or not all(_HOST_LABEL.match(label) for label in host.split(".")):
        raise TargetRefused("The URL's host name is not a valid domain name.")
    return host


def numeric_address(host: str) -> IPAddress | None:
    """The address a host written as a number means, as a browser reads it; None for names.

    ``127.0.0.1``, ``::1``, and the forms ``inet_aton`` accepts (``2130706433``, ``0x7f000001``,
    ``0177.0.0.1``, ``127.1``). A host whose last label is numeric but that is no address is
    refused: no real domain has a numeric top-level label.
    """
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if not _NUMERIC_LABEL.match(host.rsplit(".", 1)[-1]):
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError as exc:
        raise TargetRefused("The URL's host looks like an address but is not one.") from exc


async def system_resolver(host: str, port: int) -> list[IPAddress]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [ipaddress.ip_address(info[4][0]) for info in infos]


@dataclass
class TargetPolicy:
    """Where links may point (see the module docstring)."""

    blocked_domains: tuple[str, ...] = ()
    own_hosts: frozenset[str] = frozenset()
    allowed: AddressPolicy = field(default_factory=AddressPolicy)
    resolve: bool = True
    resolve_timeout: float = 2.0
    resolver: Resolver = system_resolver

    @classmethod
    def build(
        cls,
        *,
        blocked_domains: Iterable[str],
        own_urls: Iterable[str],
        allow_private: Iterable[str],
        resolve: bool,
        resolve_timeout: float,
    ) -> TargetPolicy:
        own = frozenset(
            (urlsplit(url).hostname or "").rstrip(".").lower() for url in own_urls if url
        )
        return cls(
            blocked_domains=tuple(blocked_domains),
            own_hosts=own - {""},
            allowed=AddressPolicy.from_entries(allow_private),
            resolve=resolve,
            resolve_timeout=resolve_timeout,
        )

    async def vet(self, raw: str, *, request_host: str | None = None) -> str:
        """The normalised URL of ``raw`` if a link may point there; ``TargetRefused`` if not."""
        target = normalise(raw)
        host = target.host
        own = self.own_hosts | ({request_host.lower()} if request_host else set())
        if host in own:
            raise TargetRefused("Links to this service's own short links are refused (loops).")
        if any(host == domain or host.endswith("." + domain) for domain in self.blocked_domains):
            raise TargetRefused(f"Links to {host} are not allowed here.")
        address = numeric_address(host)
        if address is not None:
            self._check_address(host, address)
            return target.url
        if host in self.allowed.allowed_hosts:
            return target.url
        if "." not in host or host.endswith(INTRANET_SUFFIXES):
            raise TargetRefused(f"{host} is an intranet name; links must point to the internet.")
        if self.resolve:
            for resolved in await self._resolve(host, target.port):
                self._check_address(host, resolved)
        return target.url

    def _check_address(self, host: str, address: IPAddress) -> None:
        if not self.allowed.permits(host, address):
            raise TargetRefused(
                f"{host} is (or resolves to) a non-public address ({address}): loopback, "
                "private, link-local and metadata addresses are refused."
            )

    async def _resolve(self, host: str, port: int) -> list[IPAddress]:
        """The host's addresses; none when it does not resolve in time (accepted: advisory)."""
        try:
            async with asyncio.timeout(self.resolve_timeout):
                return await self.resolver(host, port)
        except (OSError, TimeoutError, UnicodeError):
            return []
