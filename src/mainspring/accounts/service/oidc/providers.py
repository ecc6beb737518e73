"""The identity providers: where to send the browser, and how to learn who came back.

Each configured provider (``MAINSPRING_OIDC_PROVIDERS``) gets a client with two operations:
``authorization_url`` (the provider's page the browser is sent to) and ``identify`` (exchange
the code it sent back for a verified ``ProviderIdentity``). Two kinds of client:

``OidcClient`` (kinds ``oidc`` and ``google``)
    OpenID Connect. The endpoints come from the issuer's discovery document
    (``{issuer}/.well-known/openid-configuration``), whose ``issuer`` must be the configured one
    exactly (OIDC Discovery 4.3: a document that names another issuer could hand out that
    issuer's tokens as ours). The code is exchanged at the token endpoint with the PKCE
    verifier, and the ID token that comes back is checked here, not trusted because it came
    over TLS: its signature by a key of the provider's JWKS, with an asymmetric algorithm the
    provider announced (never ``none``, never an HMAC); ``iss``; ``aud`` (our client id);
    ``exp`` and ``iat``; ``nonce`` (the one stored with the attempt); ``azp`` and ``at_hash`` when
    present (authlib's ``CodeIDToken``). The userinfo endpoint, when there is one, fills in the
    claims the ID token leaves out, once it has said it speaks of the same ``sub``.

``GitHubClient`` (kind ``github``)
    OAuth 2.0 only: GitHub issues no ID token. Its access token reads the profile (``/user``;
    the subject is the numeric ``id``, never the ``login``, which its owner may rename and
    someone else then take) and the addresses (``/user/emails``, each with its ``verified``
    flag).

Discovery documents and key sets are cached for an hour in the kernel cache (shared by the
replicas with Redis); a key set is fetched again when an ID token names a key it does not
hold, which is how a provider's key rotation is followed. Every request goes through the
kernel's outbound client (``core/http.py``): timeouts, retries of idempotent calls, and the SSRF
guard (a provider on a private address must be allowed with ``MAINSPRING_HTTP_ALLOW_PRIVATE``).

Anything that goes wrong on the provider's side raises ``ProviderError``, whose ``reason`` is
what the browser is told (``provider_unavailable``, ``provider_error``); the details go to the
log only, never to the client.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
import structlog

from mainspring.accounts.schemas import normalize_email
from mainspring.core.cache import Cache
from mainspring.core.config import Settings
from mainspring.core.config_accounts import IdentityProviderConfig
from mainspring.core.errors import NotFound
from mainspring.core.http import OutboundRequestRefused

if TYPE_CHECKING:
    from joserfc.jwk import KeySet

# authlib and joserfc (about 2 MiB of every idle worker) are imported by the first sign-in
# through a provider, inside the methods below: most workers never serve one.

logger = structlog.get_logger("mainspring.accounts.oidc")

METADATA_TTL_SECONDS = 3600
"""How long a discovery document and a key set are kept before being fetched again."""
ID_TOKEN_LEEWAY_SECONDS = 60
"""Clock skew allowed between the provider and us on ``exp`` and ``iat``."""
ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
"""ID token signatures accepted: public-key ones. ``none`` proves nothing, and an HMAC would be
keyed with our client secret, a key more places hold than the provider's private key."""

GOOGLE_ISSUER = "https://accounts.google.com"
GITHUB_AUTHORIZATION_ENDPOINT = "https://github.com/login/oauth/authorize"
GITHUB_TOKEN_ENDPOINT = "https://github.com/login/oauth/access_token"  # noqa: S105 - a URL
GITHUB_API_URL = "https://api.github.com"
OIDC_SCOPES = ("openid", "email", "profile")
GITHUB_SCOPES = ("read:user", "user:email")
DISPLAY_NAMES = {"google": "Google", "github": "GitHub"}


class ProviderError(Exception):
    """The provider failed us; ``reason`` is the code the browser is sent back with."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


def unavailable(detail: str) -> ProviderError:
    """The provider could not be reached or answered nonsense: try again later."""
    return ProviderError("provider_unavailable", detail)


def refused(detail: str) -> ProviderError:
    """The provider answered, and what it said cannot be accepted."""
    return ProviderError("provider_error", detail)


@dataclass(frozen=True)
class ProviderIdentity:
    """Who the provider says signed in: the stable ``subject``, and the profile it asserts."""

    subject: str
    email: str | None
    """Normalised (lower-case); None when the provider gave no usable address."""
    email_verified: bool
    """Whether the *provider* asserts the address is its owner's."""
    name: str | None = None
    username: str | None = None
    """A username the provider suggests (``preferred_username``, GitHub's ``login``)."""


def _email(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        return normalize_email(value)
    except ValueError:
        return None


def _text(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    return value.strip() or None


async def _json(http: httpx.AsyncClient, request: httpx.Request, what: str) -> Any:
    """Send ``request`` through the guarded client; the JSON of a 2xx answer."""
    try:
        response = await http.send(request)
    except (httpx.HTTPError, OutboundRequestRefused) as exc:
        raise unavailable(f"{what}: {type(exc).__name__}: {exc}") from exc
    if response.is_server_error:
        raise unavailable(f"{what}: HTTP {response.status_code}")
    if not response.is_success:
        raise refused(f"{what}: HTTP {response.status_code}: {response.text[:200]}")
    try:
        return response.json()
    except ValueError as exc:
        raise unavailable(f"{what}: the answer is not JSON") from exc


class ProviderClient(ABC):
    """One configured provider: its name, and the two steps of the authorization code flow."""

    default_scopes: tuple[str, ...] = OIDC_SCOPES

    def __init__(
        self, config: IdentityProviderConfig, http: httpx.AsyncClient, cache: Cache
    ) -> None:
        self.config = config
        self.http = http
        self.cache = cache

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def display_name(self) -> str:
        return self.config.display_name or DISPLAY_NAMES.get(self.config.kind, self.config.name)

    @property
    def scopes(self) -> list[str]:
        return self.config.scopes or list(self.default_scopes)

    @abstractmethod
    async def authorization_url(
        self, *, redirect_uri: str, state: str, nonce: str, code_challenge: str
    ) -> str:
        """The provider's page to send the browser to (code flow, PKCE with S256)."""

    @abstractmethod
    async def identify(
        self, *, code: str, redirect_uri: str, code_verifier: str, nonce: str
    ) -> ProviderIdentity:
        """Exchange the ``code`` for the identity of whoever signed in at the provider."""

    def _grant_uri(self, endpoint: str, redirect_uri: str, state: str, **extra: str) -> str:
        from authlib.oauth2.rfc6749.parameters import (  # type: ignore[import-untyped]
            prepare_grant_uri,  # imported on first use: see the note above ProviderError
        )

        return str(
            prepare_grant_uri(
                endpoint,
                client_id=self.config.client_id,
                response_type="code",
                redirect_uri=redirect_uri,
                scope=self.scopes,
                state=state,
                code_challenge_method="S256",
                **extra,
            )
        )

    async def _redeem(
        self,
        endpoint: str,
        *,
        code: str,
        redirect_uri: str,
        code_verifier: str,
        auth_method: str,
    ) -> dict[str, Any]:
        """The token endpoint's answer to the code (RFC 6749 4.1.3, with the PKCE verifier)."""
        from authlib.oauth2.auth import ClientAuth  # type: ignore[import-untyped]
        from authlib.oauth2.rfc6749.parameters import (
            prepare_token_request,
        )

        body = prepare_token_request(
            "authorization_code", code=code, redirect_uri=redirect_uri, code_verifier=code_verifier
        )
        headers = {
            "Accept": "application/json",
            "Content-Type": "application/x-www-form-urlencoded",
        }
        client_auth = ClientAuth(
            self.config.client_id, self.config.client_secret.get_secret_value(), auth_method
        )
        url, headers, body = client_auth.prepare("POST", endpoint, headers, body)
        request = self.http.build_request("POST", url, headers=headers, content=body)
        answer = await _json(self.http, request, f"{self.name} token endpoint")
        if not isinstance(answer, dict) or "error" in answer:
            error = answer.get("error") if isinstance(answer, dict) else "not an object"
            raise refused(f"{self.name} token endpoint refused the code: {error}")
        if not isinstance(answer.get("access_token"), str):
            raise refused(f"{self.name} token endpoint answered no access token")
        return answer


class OidcClient(ProviderClient):
    """An OpenID Connect provider, configured by discovery (see the module docstring)."""

    @property
    def issuer(self) -> str:
        return self.config.issuer or GOOGLE_ISSUER

    async def metadata(self) -> dict[str, Any]:
        """The discovery document (cached), checked to be the configured issuer's."""
        key = "oidc-discovery:" + hashlib.sha256(self.issuer.encode()).hexdigest()
        document: dict[str, Any] = await self.cache.get_or_set(
            key, self._discover, ttl=METADATA_TTL_SECONDS
        )
        return document

    async def _discover(self) -> dict[str, Any]:
        url = self.issuer.rstrip("/") + "/.well-known/openid-configuration"
        document = await _json(self.http, self.http.build_request("GET", url), "discovery")
        if not isinstance(document, dict) or document.get("issuer") != self.issuer:
            raise refused(f"the discovery document at {url} is not the issuer {self.issuer}'s")
        for field in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(document.get(field), str):
                raise refused(f"the discovery document at {url} has no {field}")
        return document

    async def authorization_url(
        self, *, redirect_uri: str, state: str, nonce: str, code_challenge: str
    ) -> str:
        metadata = await self.metadata()
        return self._grant_uri(
            metadata["authorization_endpoint"],
            redirect_uri,
            state,
            nonce=nonce,
            code_challenge=code_challenge,
        )

    async def identify(
        self, *, code: str, redirect_uri: str, code_verifier: str, nonce: str
    ) -> ProviderIdentity:
        metadata = await self.metadata()
        token = await self._redeem(
            metadata["token_endpoint"],
            code=code,
            redirect_uri=redirect_uri,
            code_verifier=code_verifier,
            auth_method=self._auth_method(metadata),
        )
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise refused(f"{self.name} answered no ID token")
        claims = await self.verify_id_token(
            metadata, id_token, nonce=nonce, access_token=token["access_token"]
        )
        if isinstance(metadata.get("userinfo_endpoint"), str):
            userinfo = await self._userinfo(metadata["userinfo_endpoint"], token["access_token"])
            if userinfo.get("sub") != claims["sub"]:
                raise refused(f"{self.name} userinfo speaks of another subject")
            claims = {**userinfo, **claims}  # the signed ID token wins where both speak
        verified = claims.get("email_verified")
        return ProviderIdentity(
            subject=str(claims["sub"]),
            email=_email(claims.get("email")),
            email_verified=verified is True or verified == "true",
            name=_text(claims.get("name")),
            username=_text(claims.get("preferred_username")) or _text(claims.get("nickname")),
        )

    @staticmethod
    def _auth_method(metadata: dict[str, Any]) -> str:
        """How to authenticate at the token endpoint: Basic when offered (OIDC's default),
        else the secret in the form."""
        offered = metadata.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
        for method in ("client_secret_basic", "client_secret_post"):
            if method in offered:
                return method
        raise refused(f"the token endpoint accepts none of our client authentications: {offered}")

    async def verify_id_token(
        self, metadata: dict[str, Any], id_token: str, *, nonce: str, access_token: str
    ) -> dict[str, Any]:
        """The claims of a valid ID token (see the module docstring); ``ProviderError`` else."""
        from authlib.oidc.core import CodeIDToken  # type: ignore[import-untyped]
        from joserfc import jwt
        from joserfc.errors import InvalidKeyIdError, JoseError
        from joserfc.jws import JWSRegistry

        announced = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
        algorithms = sorted(ASYMMETRIC_ALGORITHMS.intersection(announced))
        if not algorithms:
            raise refused(f"{self.name} signs ID tokens with none of {sorted(announced)}")
        registry = JWSRegistry(algorithms=algorithms, strict_check_header=False)
        try:
            try:
                keys = await self._keys(metadata["jwks_uri"], fresh=False)
                decoded = jwt.decode(id_token, keys, registry=registry)
            except InvalidKeyIdError:  # a key we have not seen: the provider rotated its keys
                keys = await self._keys(metadata["jwks_uri"], fresh=True)
                decoded = jwt.decode(id_token, keys, registry=registry)
            claims = CodeIDToken(
                decoded.claims,
                decoded.header,
                {
                    "iss": {"essential": True, "value": self.issuer},
                    "aud": {"essential": True, "value": self.config.client_id},
                    "sub": {"essential": True},
                },
                {"nonce": nonce, "client_id": self.config.client_id, "access_token": access_token},
            )
            claims.validate(leeway=ID_TOKEN_LEEWAY_SECONDS)
        except (JoseError, ValueError) as exc:
            raise refused(f"{self.name} ID token rejected: {type(exc).__name__}: {exc}") from exc
        return dict(claims)

    async def _keys(self, jwks_uri: str, *, fresh: bool) -> KeySet:
        from joserfc.errors import JoseError
        from joserfc.jwk import KeySet

        key = "oidc-jwks:" + hashlib.sha256(jwks_uri.encode()).hexdigest()

        async def fetch() -> Any:
            return await _json(self.http, self.http.build_request("GET", jwks_uri), "JWKS")

        if fresh:
            document = await fetch()
            await self.cache.set(key, document, ttl=METADATA_TTL_SECONDS)
        else:
            document = await self.cache.get_or_set(key, fetch, ttl=METADATA_TTL_SECONDS)
        try:
            return KeySet.import_key_set(document)
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise refused(f"{self.name} JWKS cannot be read: {exc}") from exc

    async def _userinfo(self, endpoint: str, access_token: str) -> dict[str, Any]:
        request = self.http.build_request(
            "GET", endpoint, headers={"Authorization": f"Bearer {access_token}"}
        )
        answer = await _json(self.http, request, f"{self.name} userinfo")
        if not isinstance(answer, dict):
            raise refused(f"{self.name} userinfo is not an object")
        return answer


class GitHubClient(ProviderClient):
    """GitHub's OAuth 2.0 apps (see the module docstring)."""

    default_scopes = GITHUB_SCOPES

    async def authorization_url(
        self, *, redirect_uri: str, state: str, nonce: str, code_challenge: str
    ) -> str:
        endpoint = self.config.authorization_endpoint or GITHUB_AUTHORIZATION_ENDPOINT
        return self._grant_uri(endpoint, redirect_uri, state, code_challenge=code_challenge)

    async def identify(
        self, *, code: str, redirect_uri: str, code_verifier: str, nonce: str
    ) -> ProviderIdentity:
        token = await self._redeem(
            self.config.token_endpoint or GITHUB_TOKEN_ENDPOINT,
            code=code,
            redirect_uri=redirect_uri,
            code_verifier=code_verifier,
            auth_method="client_secret_post",
        )
        api = (self.config.api_url or GITHUB_API_URL).rstrip("/")
        profile = await self._api(f"{api}/user", token["access_token"])
        emails = await self._api(f"{api}/user/emails", token["access_token"])
        if not isinstance(profile, dict) or not isinstance(profile.get("id"), int):
            raise refused("GitHub /user has no numeric id")
        email = self._verified_email(emails)
        return ProviderIdentity(
            subject=str(profile["id"]),
            email=email,
            email_verified=email is not None,
            name=_text(profile.get("name")),
            username=_text(profile.get("login")),
        )

    @staticmethod
    def _verified_email(emails: Any) -> str | None:
        """The primary address if GitHub verified it, else the first verified one."""
        if not isinstance(emails, list):
            raise refused("GitHub /user/emails is not a list")
        verified = [
            entry
            for entry in emails
            if isinstance(entry, dict)
            and entry.get("verified") is True
            and _email(entry.get("email"))
        ]
        verified.sort(key=lambda entry: entry.get("primary") is not True)
        return _email(verified[0]["email"]) if verified else None

    async def _api(self, url: str, access_token: str) -> Any:
        request = self.http.build_request(
            "GET",
            url,
            headers={
                "Accept": "application/vnd.github+json",
                "Authorization": f"Bearer {access_token}",
                "X-GitHub-Api-Version": "2022-11-28",
            },
        )
        return await _json(self.http, request, f"GitHub {url}")


class IdentityProviders:
    """The configured providers, by name, each with its client."""

    def __init__(self, settings: Settings, http: httpx.AsyncClient, cache: Cache) -> None:
        self._clients: dict[str, ProviderClient] = {
            config.name: (GitHubClient if config.kind == "github" else OidcClient)(
                config, http, cache
            )
            for config in settings.oidc_providers
        }

    def __iter__(self) -> Iterator[ProviderClient]:
        return iter(self._clients.values())

    def get(self, name: str) -> ProviderClient:
        """The provider called ``name``; 404 when none is."""
        client = self._clients.get(name)
        if client is None:
            raise NotFound("No identity provider has this name.")
        return client

    def display_name(self, name: str) -> str:
        """A provider's display name, or its bare name once it is no longer configured."""
        client = self._clients.get(name)
        return client.display_name if client else name
