"""Staff reports over HTTP, on orders paid through the API: revenue by period, top products,
average order value, repeat customers, low stock."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx

from tests.fixtures.users import NewUser, SignedInUser
from tests.shop.catalog import SHOP, add_to_cart, checkout, make_variant


async def _paid_order(
    client: httpx.AsyncClient, staff: SignedInUser, customer: SignedInUser, variant_id: str, n: int
) -> None:
    await add_to_cart(client, customer, variant_id, n)
    order = (await checkout(client, customer)).json()
    payment = await client.post(
        f"{SHOP}/orders/{order['id']}/payments",
        json={"provider": "manual"},
        headers=customer.with_headers(idempotency_key=str(uuid.uuid4())),
    )
    confirmed = await client.post(
        f"{SHOP}/payments/{payment.json()['id']}/confirm", headers=staff.headers
    )
    assert confirmed.status_code == 200, confirmed.text


async def test_reports_sum_up_paid_orders(
    client: httpx.AsyncClient, staff: SignedInUser, new_user: NewUser
) -> None:
    ada, bob = await new_user("ada"), await new_user("bob")
    _, mug = await make_variant(client, staff, price=1000, stock=20, name="Mug")
    _, pen = await make_variant(client, staff, price=300, stock=4, name="Pen")
    await _paid_order(client, staff, ada, mug, 3)  # 3000
    await _paid_order(client, staff, ada, pen, 2)  # 600
    await _paid_order(client, staff, bob, mug, 1)  # 1000
    await add_to_cart(client, bob, pen, 1)
    await checkout(client, bob)  # unpaid: in no report

    revenue = await client.get(
        f"{SHOP}/reports/revenue", params={"period": "day"}, headers=staff.headers
    )
    assert revenue.status_code == 200, revenue.text
    [today] = revenue.json()
    assert (today["currency"], today["orders"], today["revenue"]) == ("EUR", 3, 4600)
    assert today["period_start"] == datetime.now(UTC).date().isoformat()
    for period in ("week", "month"):
        response = await client.get(
            f"{SHOP}/reports/revenue", params={"period": period}, headers=staff.headers
        )
        assert [b["revenue"] for b in response.json()] == [4600]
        start = datetime.fromisoformat(response.json()[0]["period_start"]).date()
        assert start <= datetime.now(UTC).date()
        assert start.weekday() == 0 if period == "week" else start.day == 1

    top = (await client.get(f"{SHOP}/reports/top-products", headers=staff.headers)).json()
    assert [(p["name"], p["units"], p["revenue"]) for p in top] == [
        ("Mug", 4, 4000),
        ("Pen", 2, 600),
    ]
    aov = (await client.get(f"{SHOP}/reports/average-order-value", headers=staff.headers)).json()
    assert aov == [{"currency": "EUR", "orders": 3, "average": 1533}]
    repeat = (await client.get(f"{SHOP}/reports/repeat-customers", headers=staff.headers)).json()
    assert repeat == {"customers": 2, "repeat_customers": 1, "rate": 0.5}
    low = (
        await client.get(
            f"{SHOP}/reports/low-stock", params={"threshold": 2}, headers=staff.headers
        )
    ).json()
    assert [(v["product_name"], v["stock"]) for v in low] == [("Pen", 1)]

    past = (datetime.now(UTC) - timedelta(days=400)).isoformat()
    empty = await client.get(
        f"{SHOP}/reports/revenue",
        params={"since": past, "until": (datetime.now(UTC) - timedelta(days=300)).isoformat()},
        headers=staff.headers,
    )
    assert empty.json() == []
    backwards = await client.get(
        f"{SHOP}/reports/revenue",
        params={"since": datetime.now(UTC).isoformat(), "until": past},
        headers=staff.headers,
    )
    assert backwards.status_code == 400
    assert backwards.json()["code"] == "invalid-report-window"
    assert (await client.get(f"{SHOP}/reports/revenue", headers=ada.headers)).status_code == 403
