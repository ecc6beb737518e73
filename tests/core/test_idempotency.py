"""Idempotency-Key over HTTP on a real table: one effect, byte-identical replays, per-user keys."""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from types import SimpleNamespace
from typing import Annotated

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, Header, Request, Response
from prometheus_client import REGISTRY
from sqlalchemy import MetaData, String, func, select, update
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from mainspring.core import observability
from mainspring.core.auth import CurrentPrincipal
from mainspring.core.db import IdMixin, utcnow
from mainspring.core.deps import ReadSessionDep, SessionDep
from mainspring.core.errors import Conflict
from mainspring.core.idempotency import (
    IdempotencyDep,
    IdempotentRoute,
    idempotent,
    purge_expired,
)
from mainspring.core.models import IdempotencyKey
from mainspring.core.schemas import Input
from tests.accounts.helpers import signed_in_user


class ScratchBase(DeclarativeBase):
    metadata = MetaData()


class Order(IdMixin, ScratchBase):
    """The effect under test: one row per order actually placed."""

    __tablename__ = "test_idempotent_orders"

    item: Mapped[str] = mapped_column(String(50))


class OrderIn(Input):
    item: str


async def as_user(request: Request, x_test_user: Annotated[str | None, Header()] = None) -> None:
    """Stands in for authentication: sets the principal the way the accounts module does."""
    if x_test_user:
        request.state.principal = SimpleNamespace(user_id=x_test_user)


class Gate:
    """Holds a request inside its transaction until the test lets it go."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.release = asyncio.Event()


@pytest.fixture
async def orders_app(app: FastAPI) -> AsyncIterator[FastAPI]:
    async with app.state.db.engine.begin() as conn:
        await conn.run_sync(ScratchBase.metadata.create_all)
    app.state.test_failing = True
    app.state.test_gate = Gate()
    router = APIRouter(prefix="/_test", route_class=IdempotentRoute)

    async def place(session: SessionDep, response: Response, body: OrderIn) -> dict[str, str]:
        order = Order(item=body.item)
        session.add(order)
        await session.flush()
        response.headers["Location"] = f"/_test/orders/{order.id}"
        response.headers["X-Not-Replayed"] = uuid.uuid4().hex
        return {"id": str(order.id), "item": order.item}

    @router.post("/orders", status_code=201, dependencies=[Depends(as_user)])
    async def create_order(
        session: SessionDep, response: Response, body: OrderIn, idem: IdempotencyDep
    ) -> dict[str, str]:
        return await place(session, response, body)

    @router.post("/other-orders", status_code=201, dependencies=[Depends(as_user)])
    async def create_other_order(
        session: SessionDep, response: Response, body: OrderIn, idem: IdempotencyDep
    ) -> dict[str, str]:
        return await place(session, response, body)

    @router.post(
        "/payments",
        status_code=201,
        dependencies=[Depends(as_user), Depends(idempotent(required=True))],
    )
    async def create_payment(
        session: SessionDep, response: Response, body: OrderIn, idem: IdempotencyDep
    ) -> dict[str, str]:
        assert idem is not None  # the same pending key as the required dependency's
        return await place(session, response, body)

    @router.post(
        "/token-orders", status_code=201, dependencies=[Depends(idempotent(required=True))]
    )
    async def create_token_order(
        session: SessionDep, response: Response, body: OrderIn, principal: CurrentPrincipal
    ) -> dict[str, str]:
        return await place(session, response, body)

    @router.post("/flaky-orders", status_code=201)
    async def create_flaky_order(
        session: SessionDep, response: Response, body: OrderIn, idem: IdempotencyDep
    ) -> dict[str, str]:
        placed = await place(session, response, body)
        if app.state.test_failing:
            raise Conflict("fails after the insert")
        return placed

    @router.post("/slow-orders", status_code=201)
    async def create_slow_order(
        session: SessionDep, response: Response, body: OrderIn, idem: IdempotencyDep
    ) -> dict[str, str]:
        placed = await place(session, response, body)
        app.state.test_gate.entered.set()
        await app.state.test_gate.release.wait()
        return placed

    @router.post("/misordered-orders", status_code=201)
    async def create_misordered_order(
        session: SessionDep,
        response: Response,
        body: OrderIn,
        idem: IdempotencyDep,
        _user: Annotated[None, Depends(as_user)],
    ) -> dict[str, str]:
        return await place(session, response, body)

    @router.get("/orders/count")
    async def count(session: ReadSessionDep) -> dict[str, int]:
        return {"count": int(await session.scalar(select(func.count(Order.id))) or 0)}

    plain = APIRouter(prefix="/_test")

    @plain.post("/plain-orders", status_code=201)
    async def create_plain_order(
        session: SessionDep, response: Response, body: OrderIn, idem: IdempotencyDep
    ) -> dict[str, str]:
        return await place(session, response, body)

    app.include_router(router)
    app.include_router(plain)
    try:
        yield app
    finally:
        async with app.state.db.engine.begin() as conn:
            await conn.run_sync(ScratchBase.metadata.drop_all)


async def _orders(client: httpx.AsyncClient) -> int:
    count: int = (await client.get("/_test/orders/count")).json()["count"]
    return count


def _key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


def _replays() -> float:
    return REGISTRY.get_sample_value("mainspring_idempotent_replays_total") or 0.0


async def test_a_retry_replays_the_first_response_byte_for_byte(
    client: httpx.AsyncClient, orders_app: FastAPI
) -> None:
    headers = _key()
    first = await client.post("/_test/orders", json={"item": "book"}, headers=headers)
    assert first.status_code == 201
    assert "idempotent-replayed" not in first.headers
    replays_before = _replays()

    again = await client.post("/_test/orders", json={"item": "book"}, headers=headers)
    assert again.status_code == 201
    assert again.content == first.content
    assert again.headers["idempotent-replayed"] == "true"
    for name in ("location", "content-type", "content-length"):
        assert again.headers[name] == first.headers[name]
    assert "x-not-replayed" not in again.headers  # only the listed headers are stored
    assert await _orders(client) == 1
    assert _replays() == replays_before + 1


async def test_without_a_key_every_request_acts(
    client: httpx.AsyncClient, orders_app: FastAPI
) -> None:
    for _ in range(2):
        response = await client.post("/_test/orders", json={"item": "book"})
        assert response.status_code == 201
    assert await _orders(client) == 2


async def test_the_same_key_for_another_request_is_422(
    client: httpx.AsyncClient, orders_app: FastAPI
) -> None:
    headers = _key()
    assert (
        await client.post("/_test/orders", json={"item": "book"}, headers=headers)
    ).status_code == 201
    other_body = await client.post("/_test/orders", json={"item": "pen"}, headers=headers)
    other_path = await client.post("/_test/other-orders", json={"item": "book"}, headers=headers)
    other_query = await client.post(
        "/_test/orders", params={"x": "1"}, json={"item": "book"}, headers=headers
    )
    for response in (other_body, other_path, other_query):
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "idempotency-key-reused"
    assert await _orders(client) == 1


async def test_keys_belong_to_their_principal(
    client: httpx.AsyncClient, orders_app: FastAPI
) -> None:
    key = str(uuid.uuid4())
    answers = []
    for user in ("alice", "bob", None):
        headers = {"Idempotency-Key": key, **({"X-Test-User": user} if user else {})}
        response = await client.post("/_test/orders", json={"item": "book"}, headers=headers)
        assert response.status_code == 201
        assert "idempotent-replayed" not in response.headers
        answers.append(response.json()["id"])
    assert len(set(answers)) == 3
    assert await _orders(client) == 3
    async with orders_app.state.db.session() as session:
        principals = set(await session.scalars(select(IdempotencyKey.principal)))
    assert principals == {"alice", "bob", "anonymous:127.0.0.1"}


async def test_the_bearer_token_decides_the_principal(
    client: httpx.AsyncClient, orders_app: FastAPI
) -> None:
    """Real users and tokens; the key dependency runs before the handler's own authentication
    and still keys on the token's user."""
    alice = await signed_in_user(orders_app, client)
    bob = await signed_in_user(orders_app, client)
    key = _key()
    first: dict[str, httpx.Response] = {}
    for user in (alice, bob):
        response = await client.post(
            "/_test/token-orders", json={"item": "book"}, headers={**key, **user.headers}
        )
        assert response.status_code == 201
        assert "idempotent-replayed" not in response.headers
        first[user.username] = response
    again = await client.post(
        "/_test/token-orders", json={"item": "book"}, headers={**key, **alice.headers}
    )
    assert again.headers["idempotent-replayed"] == "true"
    assert again.content == first[alice.username].content
    assert await _orders(client) == 2
    async with orders_app.state.db.session() as session:
        principals = set(await session.scalars(select(IdempotencyKey.principal)))
    assert principals == {str(alice.id), str(bob.id)}


async def test_twenty_concurrent_duplicates_act_once(
    client: httpx.AsyncClient, orders_app: FastAPI
) -> None:
    headers = {**_key(), "X-Test-User": "alice"}
    responses = await asyncio.gather(
        *(client.post("/_test/orders", json={"item": "book"}, headers=headers) for _ in range(20))
    )
    originals = [
        r for r in responses if r.status_code == 201 and "idempotent-replayed" not in r.headers
    ]
    replays = [r for r in responses if r.headers.get("idempotent-replayed") == "true"]
    in_progress = [r for r in responses if r.status_code == 409]
    assert len(originals) == 1
    assert len(originals) + len(replays) + len(in_progress) == 20
    assert all(r.content == originals[0].content for r in replays)
    assert all(r.json()["code"] == "idempotency-key-in-progress" for r in in_progress)
    assert await _orders(client) == 1
    after = await client.post("/_test/orders", json={"item": "book"}, headers=headers)
    assert after.content == originals[0].content


async def test_a_duplicate_while_the_first_runs(
    client: httpx.AsyncClient, orders_app: FastAPI
) -> None:
    """PostgreSQL answers 409 at once; SQLite queues it on the write lock, then replays."""
    headers = _key()
    gate: Gate = orders_app.state.test_gate
    first = asyncio.create_task(
        client.post("/_test/slow-orders", json={"item": "book"}, headers=headers)
    )
    await gate.entered.wait()
    duplicate = asyncio.create_task(
        client.post("/_test/slow-orders", json={"item": "book"}, headers=headers)
    )
    if orders_app.state.db.dialect == "postgresql":
        early = await duplicate
        assert early.status_code == 409
        assert early.json()["code"] == "idempotency-key-in-progress"
        assert early.headers["retry-after"] == "1"
        gate.release.set()
        assert (await first).status_code == 201
    else:
        await asyncio.sleep(0.05)  # let the duplicate reach the write lock
        gate.release.set()
        original = await first
        late = await duplicate
        assert original.status_code == late.status_code == 201
        assert late.content == original.content
        assert late.headers["idempotent-replayed"] == "true"
    assert await _orders(client) == 1


async def test_a_failed_request_stores_nothing_and_can_be_retried(
    client: httpx.AsyncClient, orders_app: FastAPI
) -> None:
    headers = _key()
    failed = await client.post("/_test/flaky-orders", json={"item": "book"}, headers=headers)
    assert failed.status_code == 409
    assert await _orders(client) == 0
    orders_app.state.test_failing = False
    retried = await client.post("/_test/flaky-orders", json={"item": "book"}, headers=headers)
    assert retried.status_code == 201
    assert "idempotent-replayed" not in retried.headers
    assert await _orders(client) == 1


async def test_a_required_key_is_400_when_missing(
    client: httpx.AsyncClient, orders_app: FastAPI
) -> None:
    missing = await client.post("/_test/payments", json={"item": "book"})
    assert missing.status_code == 400
    assert missing.json()["code"] == "idempotency-key-required"
    headers = _key()
    paid = await client.post("/_test/payments", json={"item": "book"}, headers=headers)
    again = await client.post("/_test/payments", json={"item": "book"}, headers=headers)
    assert paid.status_code == again.status_code == 201
    assert again.content == paid.content
    assert await _orders(client) == 1


async def test_a_malformed_key_is_refused(client: httpx.AsyncClient, orders_app: FastAPI) -> None:
    for bad in ("has space", "x" * 256):
        response = await client.post(
            "/_test/orders", json={"item": "book"}, headers={"Idempotency-Key": bad}
        )
        assert response.status_code == 422
    assert await _orders(client) == 0


async def test_an_expired_key_acts_again_and_is_purged(
    client: httpx.AsyncClient, orders_app: FastAPI
) -> None:
    headers = _key()
    first = await client.post("/_test/orders", json={"item": "book"}, headers=headers)
    async with orders_app.state.db.session() as session:
        await session.execute(
            update(IdempotencyKey).values(expires_at=utcnow() - timedelta(seconds=1))
        )
    second = await client.post("/_test/orders", json={"item": "book"}, headers=headers)
    assert second.status_code == 201
    assert "idempotent-replayed" not in second.headers
    assert second.json()["id"] != first.json()["id"]
    assert await _orders(client) == 2

    other = await client.post("/_test/orders", json={"item": "pen"}, headers=_key())
    assert other.status_code == 201
    async with orders_app.state.db.session() as session:
        assert await purge_expired(session, utcnow() + timedelta(days=2)) == 2
        assert await session.scalar(select(func.count(IdempotencyKey.id))) == 0


class ErrorLog:
    """Records the unhandled errors the app logs (rendering their tracebacks takes seconds)."""

    def __init__(self) -> None:
        self.errors: list[BaseException] = []

    def exception(self, event: str, **_context: object) -> None:
        error = sys.exc_info()[1]
        assert error is not None
        self.errors.append(error)


@pytest.fixture
def error_log(monkeypatch: pytest.MonkeyPatch) -> ErrorLog:
    log = ErrorLog()
    monkeypatch.setattr(observability, "error_logger", log)
    return log


async def test_a_principal_set_after_the_key_was_claimed_fails_closed(
    client: httpx.AsyncClient, orders_app: FastAPI, error_log: ErrorLog
) -> None:
    headers = {**_key(), "X-Test-User": "alice"}
    response = await client.post("/_test/misordered-orders", json={"item": "b"}, headers=headers)
    assert response.status_code == 500
    assert "request.state.principal changed" in str(error_log.errors[0])
    assert await _orders(client) == 0


async def test_the_dependency_needs_the_route_class(
    client: httpx.AsyncClient, orders_app: FastAPI, error_log: ErrorLog
) -> None:
    response = await client.post("/_test/plain-orders", json={"item": "b"}, headers=_key())
    assert response.status_code == 500
    assert "route_class=IdempotentRoute" in str(error_log.errors[0])
    assert await _orders(client) == 0


async def test_openapi_documents_the_header_and_its_problems(orders_app: FastAPI) -> None:
    operation = orders_app.openapi()["paths"]["/_test/orders"]["post"]
    header = next(p for p in operation["parameters"] if p["name"] == "Idempotency-Key")
    assert header["in"] == "header"
    assert not header.get("required", False)
    for status in ("400", "409", "422"):
        content = operation["responses"][status]["content"]
        assert "application/problem+json" in content
    plain = orders_app.openapi()["paths"]["/_test/orders/count"]["get"]
    assert "409" not in plain["responses"]
