"""A Stripe-compatible server for the tests: localstripe (PyPI), started as a subprocess on a
free loopback port, never the internet. ``Card`` plays the browser's part (Stripe.js): it
attaches a test card to a PaymentIntent and confirms it. ``signed`` builds a webhook request
the way Stripe signs one."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import stripe

from tests.conftest import unavailable

WEBHOOK_SECRET = "whsec_test_mainspring"
API_KEY = "sk_test_mainspring"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class StripeServer:
    url: str

    def client(self) -> stripe.StripeClient:
        return stripe.StripeClient(
            API_KEY, base_addresses={"api": self.url}, http_client=stripe.HTTPXClient()
        )

    async def pay(self, intent_id: str) -> dict[str, Any]:
        """What the customer's browser does: a test card, then confirm. The intent as JSON."""
        client = self.client()
        method = await client.v1.payment_methods.create_async(
            {
                "type": "card",
                "card": {
                    "number": "4242424242424242",
                    "exp_month": 12,
                    "exp_year": 2034,
                    "cvc": "123",
                },
            }
        )
        await client.v1.payment_intents.update_async(intent_id, {"payment_method": method.id})
        intent = await client.v1.payment_intents.confirm_async(intent_id)
        assert intent.status == "succeeded"
        return dict(intent.to_dict())

    async def refunds(self, intent_id: str) -> list[int]:
        listing = await self.client().v1.refunds.list_async({"payment_intent": intent_id})
        return [refund.amount for refund in listing.data]


def signed(
    event: dict[str, Any], *, secret: str = WEBHOOK_SECRET, at: int | None = None
) -> tuple[bytes, dict[str, str]]:
    """A webhook body and its ``Stripe-Signature`` header, as Stripe makes them."""
    body = json.dumps(event).encode()
    timestamp = int(time.time()) if at is None else at
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return body, {"Stripe-Signature": f"t={timestamp},v1={mac}", "Content-Type": "application/json"}


_IN_MEMORY = """
import sys
from localstripe import resources, server
resources.Store.try_load_from_disk = lambda self: None
resources.Store.dump_to_disk = lambda self: None
sys.exit(server.start())
"""
"""localstripe, its store kept in memory. As installed it loads and saves every object in
``/tmp/localstripe.pickle``, one file for every instance on the machine: two test workers (or
two suites) starting it at once read each other's half-written file and it dies at start-up,
and a new instance would begin with the objects of the last run."""


@pytest.fixture(scope="module")
def stripe_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StripeServer]:
    executable = Path(sys.executable).parent / "localstripe"
    if not executable.exists():
        unavailable("localstripe is not installed (uv sync --group dev)")
    port = _free_port()
    log = (tmp_path_factory.mktemp("localstripe") / "localstripe.log").open("w")
    process = subprocess.Popen(  # noqa: S603 - our own dev dependency
        [sys.executable, "-c", _IN_MEMORY, "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("localstripe did not start")
                time.sleep(0.1)
        yield StripeServer(f"http://127.0.0.1:{port}")
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()
