"""Identity providers for tests, served over real HTTP on 127.0.0.1, and a browser to drive them.

``MockProvider`` is oidc-provider-mock, a real OpenID Connect provider (discovery, JWKS, RS256
ID tokens, userinfo), run by werkzeug in a thread. Its authorization form takes the subject to
sign in as, and ``PUT /users/{sub}`` sets that subject's claims (``email_verified`` included).
The mock does not check PKCE, which every real provider worth the name does, so it runs behind
``PkceEnforcer``: a token request whose ``code_verifier`` does not hash to the authorization
request's S256 ``code_challenge`` is refused like a real provider refuses it.

``FakeGitHub`` serves the three endpoints of GitHub that a sign-in uses (the token endpoint,
``/user``, ``/user/emails``) with GitHub's quirks: errors of the token endpoint come with a 200,
the subject is a number, and each address has its ``verified`` flag.

``Browser`` is an HTTPS client of the app that keeps cookies (the OIDC cookie is ``Secure``),
and knows the three moves of a sign-in through a provider.
"""

from __future__ import annotations

import io
import json
import secrets
import threading
import time
import warnings
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import httpx
import werkzeug.serving
from authlib.oauth2.rfc7636 import create_s256_code_challenge  # type: ignore[import-untyped]
from fastapi import FastAPI
from joserfc import jwt
from joserfc.jwk import RSAKey
from pydantic import SecretStr
from werkzeug.wrappers import Request, Response

from mainspring.core.config import Settings
from mainspring.core.config_accounts import IdentityProviderConfig

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

MOCK_DEPRECATIONS = "ignore:get_jwt_config:DeprecationWarning"
"""A ``filterwarnings`` mark for the deprecated authlib API the mock calls as it signs tokens."""

APP_PAGE = "https://app.example.com/signed-in"
"""The front end's page the tests come back to (allow-listed in the tests' settings)."""
OIDC = "/api/v1/auth/oidc"


@contextmanager
def serve(app: WSGIApp) -> Iterator[str]:
    """Serve a WSGI ``app`` on a free port of 127.0.0.1 in a thread; yield its base URL."""
    server = werkzeug.serving.make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(5)
        server.server_close()


def query_of(url: str) -> dict[str, str]:
    return {key: values[-1] for key, values in parse_qs(urlsplit(url).query).items()}


def replace_query(url: str, **params: str) -> str:
    """``url`` with some of its query parameters changed."""
    parts = urlsplit(url)
    query = {**query_of(url), **params}
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))


class PkceEnforcer:
    """WSGI middleware: remembers each authorization request's S256 challenge by the code it
    was answered with, and refuses a token request whose verifier does not match (RFC 7636)."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app
        self.challenges: dict[str, str] = {}
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = environ.get("PATH_INFO", "")
        if path == "/oauth2/token" and environ["REQUEST_METHOD"] == "POST":
            return self._token(environ, start_response)
        if path != "/oauth2/authorize":
            return self.app(environ, start_response)
        query = parse_qs(environ.get("QUERY_STRING", ""))
        challenge = query.get("code_challenge", [""])[-1]
        s256 = query.get("code_challenge_method", [""])[-1] == "S256"

        def remember(status: str, headers: list[tuple[str, str]], *args: Any) -> Any:
            for name, value in headers:
                code = query_of(value).get("code") if name.lower() == "location" else None
                if code and challenge and s256:
                    with self.lock:
                        self.challenges[code] = challenge
            return start_response(status, headers, *args)

        return self.app(environ, remember)

    def _token(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        form = {key: values[-1] for key, values in parse_qs(body.decode()).items()}
        with self.lock:
            challenge = self.challenges.pop(form.get("code", ""), None)
        verifier = form.get("code_verifier", "")
        if challenge is None or create_s256_code_challenge(verifier) != challenge:
            start_response("400 BAD REQUEST", [("Content-Type", "application/json")])
            return [b'{"error": "invalid_grant", "error_description": "PKCE check failed"}']
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        return self.app(environ, start_response)


@dataclass
class MockProvider:
    """oidc-provider-mock at ``issuer``, checking PKCE."""

    issuer: str

    @classmethod
    @contextmanager
    def running(cls) -> Iterator[MockProvider]:
        with warnings.catch_warnings():
            # The mock imports authlib modules authlib has deprecated: theirs to fix.
            warnings.simplefilter("ignore", DeprecationWarning)
            import oidc_provider_mock  # type: ignore[import-untyped]

            app = oidc_provider_mock.app()
        with serve(PkceEnforcer(app)) as base_url:
            yield cls(issuer=base_url)

    async def set_user(self, sub: str, **claims: Any) -> None:
        """The claims the provider asserts for ``sub`` (``email``, ``email_verified``...)."""
        async with httpx.AsyncClient() as http:
            response = await http.put(f"{self.issuer}/users/{sub}", json=claims)
        assert response.status_code == 204, response.text

    async def sign_in(self, authorization_url: str, sub: str) -> str:
        """Sign in at the provider's page as ``sub``; the callback URL it sends the browser
        to."""
        async with httpx.AsyncClient() as http:
            response = await http.post(authorization_url, data={"sub": sub})
        assert response.status_code == 302, response.text
        return response.headers["location"]

    async def deny(self, authorization_url: str) -> str:
        """Refuse at the provider's page; the callback URL with ``error=access_denied``.

        The mock leaves the ``state`` out of its denial, which RFC 6749 (4.1.2.1) requires
        and real providers send; it is put back here, as they would send it."""
        async with httpx.AsyncClient() as http:
            response = await http.post(authorization_url, data={"action": "deny"})
        assert response.status_code == 302, response.text
        location = response.headers["location"]
        assert query_of(location)["error"] == "access_denied"
        return replace_query(location, state=query_of(authorization_url)["state"])


@dataclass
class GitHubGrant:
    user: dict[str, Any]
    emails: list[dict[str, Any]]
    code_challenge: str
    redirect_uri: str


@dataclass
class FakeGitHub:
    """GitHub's token endpoint and REST API, as much of them as a sign-in uses."""

    client_id: str = "github-client"
    client_secret: str = "github-secret"
    base_url: str = ""
    grants: dict[str, GitHubGrant] = field(default_factory=dict)
    tokens: dict[str, GitHubGrant] = field(default_factory=dict)

    @classmethod
    @contextmanager
    def running(cls) -> Iterator[FakeGitHub]:
        fake = cls()
        with serve(fake) as base_url:
            fake.base_url = base_url
            yield fake

    def sign_in(
        self, authorization_url: str, *, user: dict[str, Any], emails: list[dict[str, Any]]
    ) -> str:
        """What GitHub's authorization page does once ``user`` agrees: a code for them, and
        the callback URL it sends the browser to."""
        query = query_of(authorization_url)
        assert query["client_id"] == self.client_id
        assert query["code_challenge_method"] == "S256"
        assert "read:user" in query["scope"].split()
        code = secrets.token_urlsafe(16)
        self.grants[code] = GitHubGrant(
            user, emails, query["code_challenge"], query["redirect_uri"]
        )
        return f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query['state']})}"

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        if request.path == "/login/oauth/access_token" and request.method == "POST":
            response = self._token(request)
        else:
            grant = self.tokens.get(
                request.headers.get("Authorization", "").removeprefix("Bearer ")
            )
            if grant is None:
                response = _json({"message": "Bad credentials"}, 401)
            elif request.path == "/api/user":
                response = _json(grant.user)
            elif request.path == "/api/user/emails":
                response = _json(grant.emails)
            else:
                response = _json({"message": "Not Found"}, 404)
        return response(environ, start_response)

    def _token(self, request: Request) -> Response:
        form = request.form
        grant = self.grants.pop(form.get("code", ""), None)
        if (
            grant is None
            or form.get("client_id") != self.client_id
            or form.get("client_secret") != self.client_secret
            or form.get("redirect_uri") != grant.redirect_uri
            or create_s256_code_challenge(form.get("code_verifier", "")) != grant.code_challenge
        ):
            return _json({"error": "bad_verification_code"})  # GitHub answers errors with 200
        token = secrets.token_urlsafe(20)
        self.tokens[token] = grant
        return _json({"access_token": token, "token_type": "bearer", "scope": "read:user"})


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")


@dataclass
class Browser:
    """A browser on the app (HTTPS, cookies kept) going through the sign-in moves."""

    http: httpx.AsyncClient

    async def start(
        self, provider: str = "mock", redirect_to: str = APP_PAGE, **extra: Any
    ) -> httpx.Response:
        """Post the form that starts a sign-in (``headers=`` and form fields in ``extra``)."""
        headers = extra.pop("headers", None)
        return await self.http.post(
            f"{OIDC}/{provider}/authorize",
            data={"redirect_to": redirect_to, **extra},
            headers=headers,
        )

    async def authorization_url(self, provider: str = "mock", **extra: Any) -> str:
        started = await self.start(provider, **extra)
        assert started.status_code == 303, started.text
        return started.headers["location"]

    async def back(self, callback_url: str) -> httpx.Response:
        """Arrive at the callback URL the provider sent the browser to."""
        return await self.http.get(callback_url)

    async def exchange(self, ticket: str, **extra: Any) -> httpx.Response:
        return await self.http.post(f"{OIDC}/exchange", json={"ticket": ticket, **extra})


def landing(response: httpx.Response) -> dict[str, str]:
    """The query of the front-end page a callback answer sends the browser to."""
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.startswith(APP_PAGE + "?"), location
    return query_of(location)


@asynccontextmanager
async def open_browser(app: FastAPI, client_address: str) -> AsyncIterator[Browser]:
    """A browser on ``app`` from ``client_address``, with a cookie jar of its own."""
    transport = httpx.ASGITransport(app=app, client=(client_address, 41_000))
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as http:
        yield Browser(http)


def oidc_settings(settings: Settings, provider: MockProvider, github: FakeGitHub) -> Settings:
    """``settings`` with the test providers: ``mock`` and ``mock-two`` (the mock, under two
    names), ``github`` (the fake); the app at https://testserver, the front end allow-listed."""
    secret = SecretStr("client-secret")
    return settings.model_copy(
        update={
            "public_url": "https://testserver",
            "http_allow_private": ["127.0.0.1"],
            "oidc_redirect_allowlist": [APP_PAGE],
            "oidc_providers": [
                IdentityProviderConfig(
                    name="mock",
                    kind="oidc",
                    display_name="Mock ID",
                    client_id="mainspring-tests",
                    client_secret=secret,
                    issuer=provider.issuer,
                ),
                IdentityProviderConfig(
                    name="mock-two",
                    kind="oidc",
                    client_id="mainspring-tests",
                    client_secret=secret,
                    issuer=provider.issuer,
                ),
                IdentityProviderConfig(
                    name="github",
                    kind="github",
                    client_id=github.client_id,
                    client_secret=SecretStr(github.client_secret),
                    authorization_endpoint=f"{github.base_url}/login/oauth/authorize",
                    token_endpoint=f"{github.base_url}/login/oauth/access_token",
                    api_url=f"{github.base_url}/api",
                ),
            ],
        }
    )


@dataclass
class ForgingProvider:
    """An OpenID Connect provider whose token endpoint answers the ID token a test made: to
    prove that each check of an ID token refuses what it must (wrong audience, issuer, key,
    algorithm, nonce...).

    It serves discovery, its JWKS (one RSA key), the token endpoint and userinfo; the
    authorization page is the test's: ``callback`` turns our authorization URL into the
    provider's redirect back, with a code the token endpoint accepts once.
    """

    client_id: str = "mainspring-tests"
    client_secret: str = "forged-provider-client-secret-0123456789"
    issuer: str = ""
    key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, {"kid": "forger"}))
    id_token: str = ""
    userinfo: dict[str, Any] = field(default_factory=dict)
    codes: set[str] = field(default_factory=set)

    @classmethod
    @contextmanager
    def running(cls) -> Iterator[ForgingProvider]:
        forger = cls()
        with serve(forger) as base_url:
            forger.issuer = base_url
            yield forger

    def claims(self, authorization_url: str, **overrides: Any) -> dict[str, Any]:
        """The claims a genuine ID token for this authorization would carry, with
        ``overrides`` (a value of None removes the claim)."""
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": self.client_id,
            "sub": "forged-subject",
            "iat": now,
            "exp": now + 300,
            "nonce": query_of(authorization_url)["nonce"],
            "email": "forged@example.org",
            "email_verified": True,
        }
        claims.update(overrides)
        return {name: value for name, value in claims.items() if value is not None}

    def sign(self, claims: dict[str, Any], key: RSAKey | None = None) -> str:
        signing_key = key or self.key
        header = {"alg": "RS256", "kid": signing_key.kid or "forger"}
        return jwt.encode(header, claims, signing_key)

    def callback(
        self, authorization_url: str, id_token: str, userinfo_sub: str = "forged-subject"
    ) -> str:
        """The provider's redirect back for ``authorization_url``; its code redeems for
        ``id_token`` (and userinfo then speaks of ``userinfo_sub``)."""
        self.id_token = id_token
        self.userinfo = {"sub": userinfo_sub}
        code = secrets.token_urlsafe(16)
        self.codes.add(code)
        query = query_of(authorization_url)
        return f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query['state']})}"

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        if request.path == "/.well-known/openid-configuration":
            response = _json(
                {
                    "issuer": self.issuer,
                    "authorization_endpoint": f"{self.issuer}/authorize",
                    "token_endpoint": f"{self.issuer}/token",
                    "userinfo_endpoint": f"{self.issuer}/userinfo",
                    "jwks_uri": f"{self.issuer}/jwks",
                    "id_token_signing_alg_values_supported": ["RS256", "HS256", "none"],
                }
            )
        elif request.path == "/jwks":
            response = _json({"keys": [self.key.as_dict(private=False)]})
        elif request.path == "/token" and request.form.get("code") in self.codes:
            self.codes.discard(request.form["code"])
            response = _json(
                {"access_token": "forged-access", "token_type": "Bearer", "id_token": self.id_token}
            )
        elif request.path == "/userinfo":
            response = _json(self.userinfo)
        else:
            response = _json({"error": "invalid_request"}, 400)
        return response(environ, start_response)


def forging_settings(settings: Settings, forger: ForgingProvider) -> Settings:
    """``settings`` with one provider, ``forged``, at ``forger``."""
    forged = IdentityProviderConfig(
        name="forged",
        kind="oidc",
        client_id=forger.client_id,
        client_secret=SecretStr(forger.client_secret),
        issuer=forger.issuer,
    )
    return settings.model_copy(
        update={
            "public_url": "https://testserver",
            "http_allow_private": ["127.0.0.1"],
            "oidc_redirect_allowlist": [APP_PAGE],
            "oidc_providers": [forged],
        }
    )
