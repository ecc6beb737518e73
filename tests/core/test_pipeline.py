"""The request pipeline: route lookup by prefix, 405's Allow, caller-private caching, who reads
/metrics, and the JSON access log. All over HTTP."""

from __future__ import annotations

import asyncio
import json
import re

import httpx
import pytest
from fastapi import FastAPI, Response
from pydantic import SecretStr

from mainspring.app import create_app
from mainspring.core.config import Settings

PARAM = re.compile(r"\{[^}]+\}")


def _template_regex(template: str) -> re.Pattern[str]:
    return re.compile("^" + "[^/]+".join(re.escape(part) for part in PARAM.split(template)) + "$")


def _concreteness(template: str) -> tuple[bool, ...]:
    return tuple("{" not in segment for segment in template.split("/")[1:])


async def test_a_405_allows_every_method_its_path_serves(client: httpx.AsyncClient) -> None:
    """For every path of the OpenAPI document, a method it does not serve answers 405 whose
    Allow lists every method that the routes matching the path serve (RFC 9110 15.5.6). A
    concrete path is matched before a templated one (OpenAPI's path matching): the Allow of
    ``/api/v1/projects/inbox`` lists the inbox's methods, not those of ``{project_id}``."""
    schema = (await client.get("/openapi.json")).json()
    served = {
        template: {method.upper() for method in item if method != "parameters"}
        for template, item in schema["paths"].items()
    }
    regexes = {template: _template_regex(template) for template in served}
    # A route's first static segment is reserved: the shortener's /{code} never matches it.
    reserved = {template.split("/")[1] for template in served if not template.startswith("/{")}
    checked = 0
    for template in served:
        path = PARAM.sub("x1", template)
        matching = [
            other
            for other in served
            if regexes[other].match(path)
            and not (other.startswith("/{") and path.split("/")[1] in reserved)
        ]
        most_concrete = max(_concreteness(other) for other in matching)
        expected = set().union(
            *(served[other] for other in matching if _concreteness(other) == most_concrete)
        )
        response = await client.request("TRACE", path)
        assert response.status_code == 405, (template, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        allowed = {method.strip() for method in response.headers["allow"].split(",")}
        assert allowed == expected, template
        checked += 1
    assert checked == len(served) > 50  # the whole API, not a few paths


async def test_the_allow_header_lists_get_and_post_of_one_path(client: httpx.AsyncClient) -> None:
    response = await client.options("/api/v1/articles")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"


async def test_a_concrete_path_is_matched_before_a_templated_one(
    client: httpx.AsyncClient,
) -> None:
    """``/articles/feed`` is the feed, whose only method is GET: a PATCH or DELETE there is a
    405, not an attempt on an article whose slug would be "feed" (OpenAPI's path matching)."""
    for method in ("PATCH", "DELETE", "OPTIONS"):
        response = await client.request(method, "/api/v1/articles/feed")
        assert response.status_code == 405, method
        assert response.headers["allow"] == "GET"
    revoke = await client.delete("/api/v1/users/me/sessions/revoke-others")
    assert revoke.status_code == 405
    assert revoke.headers["allow"] == "POST"
    # The templated path is still served wherever no concrete one matches (here: it asks
    # for credentials, where the feed's path answers 405).
    assert (await client.patch("/api/v1/articles/no-such-article", json={})).status_code == 401


async def test_metrics_name_the_full_route_template(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/v1/articles/no-such-article")).status_code == 404
    assert (await client.get("/realworld/api/articles/no-such-article")).status_code == 404
    text = (await client.get("/metrics")).text
    assert 'route="/api/v1/articles/{slug}",status="404"' in text
    assert 'route="/realworld/api/articles/{slug}",status="404"' in text
    assert "no-such-article" not in text


async def test_a_trailing_slash_redirects_to_the_route(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/articles/?limit=5")
    assert response.status_code == 307
    assert response.headers["location"] == "http://testserver/api/v1/articles?limit=5"
    assert (await client.get("/no/such/page/")).status_code == 404


async def test_routes_added_after_create_app_are_served(app: FastAPI) -> None:
    @app.get("/_test/late/{name}")
    async def late(name: str) -> dict[str, str]:
        return {"name": name}

    async with _client(app) as client:
        assert (await client.get("/_test/late/abc")).json() == {"name": "abc"}


# --- Cache-Control for responses that depend on the caller --------------------------------------


@pytest.fixture
def cached_app(app: FastAPI) -> FastAPI:
    @app.get("/_test/plain")
    async def plain() -> dict[str, str]:
        return {}

    @app.get("/_test/tagged")
    async def tagged() -> Response:
        return Response(b"{}", headers={"ETag": 'W/"1"', "Vary": "Accept-Encoding"})

    @app.get("/_test/public")
    async def public() -> Response:
        return Response(b"{}", headers={"Cache-Control": "public, max-age=60"})

    @app.post("/_test/cookie")
    async def cookie(response: Response) -> dict[str, str]:
        response.set_cookie("session", "s3cret")
        return {}

    return app


async def test_anonymous_responses_keep_their_caching(cached_app: FastAPI) -> None:
    async with _client(cached_app) as client:
        assert "cache-control" not in (await client.get("/_test/plain")).headers
        tagged = await client.get("/_test/tagged")
        assert "cache-control" not in tagged.headers
        assert tagged.headers["vary"] == "Accept-Encoding"


async def test_a_response_to_credentials_is_private(cached_app: FastAPI) -> None:
    bearer = {"Authorization": "Bearer any-token"}
    async with _client(cached_app) as client:
        plain = await client.get("/_test/plain", headers=bearer)
        assert plain.headers["cache-control"] == "private, no-store"
        by_cookie = await client.get("/_test/plain", headers={"Cookie": "mainspring_csrf=x"})
        assert by_cookie.headers["cache-control"] == "private, no-store"
        tagged = await client.get("/_test/tagged", headers=bearer)
        assert tagged.headers["cache-control"] == "private, no-cache"
        assert tagged.headers["vary"] == "Accept-Encoding, Authorization"
        # The handler's own choice stands (a public document read with a token).
        public = await client.get("/_test/public", headers=bearer)
        assert public.headers["cache-control"] == "public, max-age=60"
        # A response that sets a cookie is the caller's too.
        cookie = await client.post("/_test/cookie")
        assert cookie.headers["cache-control"] == "private, no-store"
        # Problems to an authenticated caller as well.
        missing = await client.get("/_test/nowhere", headers=bearer)
        assert missing.status_code == 404
        assert missing.headers["cache-control"] == "private, no-store"


async def test_a_signed_in_read_is_private_and_revalidates(client: httpx.AsyncClient) -> None:
    """End to end: a signed-in user's own profile (with an ETag) stays out of shared caches."""
    account = {
        "username": "cacher",
        "email": "cacher@example.com",
        "password": "a long passphrase 42",
    }
    assert (await client.post("/api/v1/auth/register", json=account)).status_code in (201, 202)
    login = await client.post(
        "/api/v1/auth/login", json={"identifier": "cacher", "password": account["password"]}
    )
    assert "no-store" in login.headers["cache-control"]  # tokens are never stored
    token = login.json()["access_token"]
    me = await client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    assert me.headers["cache-control"].startswith("private, no-")
    if "etag" in me.headers:
        assert me.headers["cache-control"] == "private, no-cache"
        assert "Authorization" in me.headers["vary"]


# --- who may read /metrics ----------------------------------------------------------------------


async def test_metrics_answer_loopback_only_without_a_token(app: FastAPI) -> None:
    async with _client(app, client=("127.0.0.1", 4000)) as local:
        assert (await local.get("/metrics")).status_code == 200
    async with _client(app, client=("203.0.113.7", 4000)) as remote:
        refused = await remote.get("/metrics")
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    assert "mainspring_http_requests_total" not in refused.text


async def test_metrics_need_the_token_when_one_is_set(settings: Settings) -> None:
    app = create_app(
        settings.model_copy(update={"metrics_token": SecretStr("scrape-me-0123456789")})
    )
    async with app.router.lifespan_context(app):
        async with _client(app, client=("203.0.113.7", 4000)) as remote:
            right = await remote.get(
                "/metrics", headers={"Authorization": "Bearer scrape-me-0123456789"}
            )
            assert right.status_code == 200
            assert "mainspring_http_requests_total" in right.text
            assert right.headers["cache-control"] == "private, no-store"
            wrong = await remote.get("/metrics", headers={"Authorization": "Bearer guess"})
            assert wrong.status_code == 401
            assert wrong.headers["www-authenticate"] == "Bearer"
        async with _client(app, client=("127.0.0.1", 4000)) as local:
            # With a token, loopback is no exception.
            assert (await local.get("/metrics")).status_code == 401


# --- the access log -----------------------------------------------------------------------------


async def test_the_json_access_log_is_one_line_per_request(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    app = create_app(settings.model_copy(update={"log_format": "json", "log_level": "INFO"}))
    async with app.router.lifespan_context(app), _client(app) as client:
        capsys.readouterr()
        response = await client.get("/api/v1/articles/nope", headers={"X-Request-ID": "json-1"})
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]
    access = [line for line in lines if line.get("logger") == "mainspring.access"]
    assert len(access) == 1
    line = access[0]
    assert line["event"] == "request"
    assert line["level"] == "info"
    assert line["request_id"] == "json-1" == response.headers["x-request-id"]
    assert line["method"] == "GET"
    assert line["path"] == "/api/v1/articles/nope"
    assert line["route"] == "/api/v1/articles/{slug}"
    assert line["status"] == 404
    assert line["db_statements"] >= 1
    assert line["duration_ms"] >= 0
    assert line["client"] == "127.0.0.1"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", line["timestamp"])


async def test_concurrent_requests_each_get_their_own_whole_access_line(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """The lines of requests that end together are written together (core/observability.py,
    ``AccessLog``): none is lost, merged with another or cut, and each is written by the time
    the event loop has turned once more."""
    app = create_app(settings.model_copy(update={"log_format": "json", "log_level": "INFO"}))
    async with app.router.lifespan_context(app), _client(app) as client:
        capsys.readouterr()
        ids = [f"many-{n}" for n in range(60)]
        responses = await asyncio.gather(
            *(client.get("/healthz", headers={"X-Request-ID": id_}) for id_ in ids)
        )
        assert all(response.status_code == 200 for response in responses)
        await asyncio.sleep(0)
        written = capsys.readouterr().err
    lines = [json.loads(line) for line in written.splitlines() if line]
    access = [line["request_id"] for line in lines if line.get("logger") == "mainspring.access"]
    assert sorted(access) == sorted(ids)


async def test_no_access_log_below_its_level(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    app = create_app(settings.model_copy(update={"log_format": "json", "log_level": "WARNING"}))
    async with app.router.lifespan_context(app), _client(app) as client:
        capsys.readouterr()
        assert (await client.get("/healthz")).status_code == 200
    assert "mainspring.access" not in capsys.readouterr().err


def _client(app: FastAPI, client: tuple[str, int] = ("127.0.0.1", 123)) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=client)
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")
