"""The key ring verifies a token's signature once, then remembers it: the times are still checked
on every use, nothing that failed is remembered, and what is remembered is bounded.

(Forged, tampered and misused tokens, through the API, are in ``tests/accounts/test_tokens.py``.)
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mainspring.core.access_tokens import (
    ACCESS_TOKEN_TYPE,
    ALGORITHM,
    CLOCK_LEEWAY_SECONDS,
    InvalidToken,
    KeyRing,
    generate_private_key_pem,
)
from mainspring.core.access_tokens import _load_key as load_key


class Clock:
    """A clock the test sets by hand, starting now."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def ring(clock: Callable[[], float] = time.time, remember: int = 16) -> KeyRing:
    return KeyRing(
        [load_key("test", generate_private_key_pem())],
        issuer="mainspring",
        audience="mainspring-api",
        clock=clock,
        remember=remember,
    )


def issue(keyring: KeyRing, ttl: timedelta = timedelta(minutes=15)) -> str:
    return keyring.issue(subject=uuid.uuid4(), session_id=uuid.uuid4(), ttl=ttl)


@pytest.fixture
def signature_checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The tokens whose signature PyJWT verified, in order."""
    checked: list[str] = []
    decode = jwt.decode

    def counting(token: str, *args: Any, **kwargs: Any) -> Any:
        checked.append(token)
        return decode(token, *args, **kwargs)

    monkeypatch.setattr(jwt, "decode", counting)
    return checked


def test_a_token_is_verified_once_then_remembered(signature_checks: list[str]) -> None:
    keyring = ring()
    first, second = issue(keyring), issue(keyring)

    claims = [keyring.verify(token) for token in (first, first, second, first, second)]

    assert signature_checks == [first, second]
    assert claims[0] == claims[1] == claims[3]
    assert claims[2] == claims[4] != claims[0]


def test_a_remembered_token_still_expires_and_is_not_valid_before_its_time() -> None:
    clock = Clock()
    keyring = ring(clock)
    token = issue(keyring, ttl=timedelta(seconds=60))
    claims = jwt.decode(token, options={"verify_signature": False})
    keyring.verify(token)

    clock.now = claims["exp"] + CLOCK_LEEWAY_SECONDS - 0.5  # expired, within the leeway
    keyring.verify(token)
    clock.now = claims["exp"] + CLOCK_LEEWAY_SECONDS
    with pytest.raises(InvalidToken, match="expired"):
        keyring.verify(token)

    clock.now = claims["nbf"] - CLOCK_LEEWAY_SECONDS - 0.5  # a clock set back
    with pytest.raises(InvalidToken, match="not yet valid"):
        keyring.verify(token)


def test_nothing_that_failed_is_remembered(signature_checks: list[str]) -> None:
    keyring = ring()
    genuine = issue(keyring)
    header, payload, _ = genuine.split(".")
    forged = jwt.encode(
        jwt.decode(genuine, options={"verify_signature": False}),
        Ed25519PrivateKey.generate(),
        algorithm=ALGORITHM,
        headers={"kid": "test", "typ": ACCESS_TOKEN_TYPE},
    )
    unsigned = f"{header}.{payload}."
    signature_checks.clear()

    for _ in range(2):
        for bad in (forged, unsigned):
            with pytest.raises(InvalidToken):
                keyring.verify(bad)

    assert signature_checks == [forged, unsigned, forged, unsigned]  # checked every time
    assert keyring.verify(genuine).subject == uuid.UUID(
        jwt.decode(genuine, options={"verify_signature": False})["sub"]
    )


def test_a_token_of_another_ring_is_refused_though_this_ring_remembers_its_own() -> None:
    ours, theirs = ring(), ring()
    ours.verify(issue(ours))
    with pytest.raises(InvalidToken):
        ours.verify(issue(theirs))  # the same kid, another key


def test_what_is_remembered_is_bounded(signature_checks: list[str]) -> None:
    keyring = ring(remember=2)
    tokens = [issue(keyring) for _ in range(3)]

    for token in tokens:
        keyring.verify(token)
    keyring.verify(tokens[2])  # remembered
    keyring.verify(tokens[0])  # the oldest, forgotten: verified again

    assert signature_checks == [*tokens, tokens[0]]
