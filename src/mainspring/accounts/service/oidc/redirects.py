"""Where a browser may be sent back to after signing in through a provider.

The browser comes back to ``redirect_to`` carrying a one-time ticket. Were ``redirect_to``
free, anyone could start a sign-in with ``redirect_to=https://evil.example/`` and send the
link to a victim: the victim signs in at the provider, and the ticket lands at the attacker
(an open redirect turned into an account takeover). So the target must fall under an entry of
``MAINSPRING_OIDC_REDIRECT_ALLOWLIST`` (default: the accounts front end's URL, else
``MAINSPRING_PUBLIC_URL``), and it is checked by parsing, never by comparing strings:

* an entry is an origin (``https://app.example.com``: any path there) or a URL prefix
  (``https://app.example.com/auth/``: that path and below, at a segment boundary, so
  ``/auth-evil`` does not match ``/auth``);
* scheme, host and port must be the entry's exactly (the default port counts as given), so
  ``https://app.example.com.evil.example`` or ``https://app.example.com@evil.example`` never
  match;
* refused outright: schemes other than http and https, user information, fragments,
  backslashes, whitespace and control characters (browsers "repair" them in ways a parser here
  cannot predict), and dot segments or encoded dots, slashes and backslashes in the path
  (``/auth/../admin`` leaves the prefix once the browser resolves it).
"""

from __future__ import annotations

import re
from urllib.parse import SplitResult, urlencode, urlsplit, urlunsplit

from mainspring.core.config import Settings

DEFAULT_PORTS = {"http": 80, "https": 443}
_FORBIDDEN_CHARACTERS = re.compile(r"[\x00-\x20\x7f\\]")
_ENCODED_PATH_TRICKS = re.compile(r"%(2e|2f|5c)", re.IGNORECASE)


def allow_list(settings: Settings) -> list[str]:
    """The configured entries, or the front end's URL when none is configured."""
    return settings.oidc_redirect_allowlist or [
        settings.accounts_frontend_url or settings.public_url
    ]


def _parse(url: str) -> tuple[SplitResult, tuple[str, str, int]] | None:
    """The URL's parts and its origin, or None when it is not a plain http(s) URL."""
    if _FORBIDDEN_CHARACTERS.search(url):
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname or "@" in parts.netloc:
        return None
    return parts, (scheme, parts.hostname.lower(), port or DEFAULT_PORTS[scheme])


def _safe_path(path: str) -> bool:
    if _ENCODED_PATH_TRICKS.search(path):
        return False
    return not any(segment in (".", "..") for segment in path.split("/"))


def _under(path: str, prefix: str) -> bool:
    """Whether ``path`` is ``prefix`` or below it, at a segment boundary."""
    if prefix in ("", "/") or path == prefix:
        return True
    return path.startswith(prefix if prefix.endswith("/") else prefix + "/")


def is_allowed(settings: Settings, target: str) -> bool:
    """Whether the browser may be sent to ``target`` (see the module docstring)."""
    parsed = _parse(target)
    if parsed is None:
        return False
    parts, origin = parsed
    if parts.fragment or "#" in target or not _safe_path(parts.path):
        return False
    for entry in allow_list(settings):
        allowed = _parse(entry)
        if allowed is not None and allowed[1] == origin and _under(parts.path, allowed[0].path):
            return True
    return False


def with_params(url: str, **params: str) -> str:
    """``url`` with ``params`` added to its query (what it had is kept)."""
    parts = urlsplit(url)
    extra = urlencode(params)
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))
