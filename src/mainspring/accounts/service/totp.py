"""The second factor's cryptography: the TOTP secret, its codes, and the recovery codes.

**Derived keys.** Every key here is derived from ``MAINSPRING_SECRET_KEY`` with HKDF-SHA-256
(RFC 5869) and a purpose label (``derived_key``): the key that seals TOTP secrets, the one
that digests recovery codes and the one that signs sign-in challenges are unrelated to each
other and to the other uses of the secret key (cursors, CSRF tokens), so a key recovered from
one use opens nothing else.

**The TOTP secret** (RFC 6238) is 160 random bits (the length RFC 4226 recommends), shown to
the user once as base32 and as an ``otpauth://`` URI (and a QR code of it) for their
authenticator app. The server must read it back to compute codes, so it cannot be hashed: it is
sealed with AES-256-GCM under a derived key (``seal``). The user's id is the additional
authenticated data, so a sealed secret copied onto another user's row does not open. A leaked
table or backup without the secret key yields no secret.

**Codes** are 6 digits for 30-second steps, the defaults every authenticator app uses. A code
is accepted for the current step and one step either side (``matching_step``), which absorbs
clock drift and the time it takes to type. The step of an accepted code is recorded by the
caller: a code is accepted once, and so is any code of an older step.

**Recovery codes** are random, easy to type and easy to read aloud: ten characters from
Crockford's base32 (no ``i``, ``l``, ``o``, ``u``), 50 bits, shown as ``7kq2m-x9d4r``. Typing
is forgiven: case, spaces and dashes are ignored, and ``i``/``l`` read as ``1``, ``o`` as ``0``.
Each is stored as an HMAC-SHA-256 under a derived key over the user's id and the code: a plain
hash of a 50-bit code could be reversed by trying every code, a keyed one cannot without the
secret key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid
from datetime import datetime

import pyotp
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from mainspring.core.config import Settings

SECRET_BYTES = 20  # 160 bits
DIGITS = 6
STEP_SECONDS = 30
DRIFT_STEPS = 1  # a code of the step before or after now is accepted too
RECOVERY_CODE_COUNT = 10
RECOVERY_CODE_LENGTH = 10  # characters of Crockford's base32: 50 bits
_CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"
_MISREAD = str.maketrans({"i": "1", "l": "1", "o": "0"})
_SEALED_VERSION = "v1"
_NONCE_BYTES = 12


class UnreadableSecret(Exception):
    """A sealed TOTP secret that does not open: the secret key changed since it was sealed (or
    the row was tampered with)."""


def derived_key(settings: Settings, purpose: str) -> bytes:
    """A 256-bit key for one ``purpose``, derived from the secret key with HKDF-SHA-256."""
    hkdf = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=None,
        info=f"mainspring/accounts/two-factor/{purpose}".encode(),
    )
    return hkdf.derive(settings.secret_key.get_secret_value().encode())


# --- the TOTP secret ----------------------------------------------------------------------------


def new_secret() -> str:
    """A new random TOTP secret: 160 bits as 32 base32 characters."""
    return base64.b32encode(secrets.token_bytes(SECRET_BYTES)).decode()


def seal(settings: Settings, user_id: uuid.UUID, secret: str) -> str:
    """``secret`` encrypted with AES-256-GCM for ``user_id``: ``v1.<base64url(nonce|box)>``."""
    nonce = secrets.token_bytes(_NONCE_BYTES)
    box = AESGCM(derived_key(settings, "totp-secret")).encrypt(
        nonce, secret.encode(), user_id.bytes
    )
    return f"{_SEALED_VERSION}.{base64.urlsafe_b64encode(nonce + box).decode()}"


def unseal(settings: Settings, user_id: uuid.UUID, sealed: str) -> str:
    """The secret ``seal`` encrypted; ``UnreadableSecret`` if it does not open."""
    version, _, payload = sealed.partition(".")
    if version != _SEALED_VERSION:
        raise UnreadableSecret(f"unknown sealing version {version!r}")
    raw = base64.urlsafe_b64decode(payload)
    try:
        secret = AESGCM(derived_key(settings, "totp-secret")).decrypt(
            raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], user_id.bytes
        )
    except InvalidTag as exc:
        raise UnreadableSecret("the sealed secret does not open with the current key") from exc
    return secret.decode()


def provisioning_uri(settings: Settings, secret: str, account: str) -> str:
    """The ``otpauth://totp/...`` URI authenticator apps read (from its QR code)."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(
        name=account, issuer_name=settings.two_factor_issuer
    )


def qr_code(uri: str) -> str:
    """A QR code of ``uri`` as an SVG ``data:`` URI, ready for an ``<img src>``. (segno is
    imported here: it is needed only when a user enrols, not in every worker from start-up.)"""
    import segno

    return str(segno.make(uri, error="m", micro=False).svg_data_uri(scale=4))


def matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The time step whose code ``code`` is, among now and ``DRIFT_STEPS`` either side; None
    when it matches none. Every candidate is compared, in constant time."""
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)
    current = totp.timecode(now)
    found = None
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(step).encode(), code.encode()):
            found = step
    return found


# --- recovery codes -----------------------------------------------------------------------------


def new_recovery_codes() -> list[str]:
    """``RECOVERY_CODE_COUNT`` new random codes, as shown to the user (``7kq2m-x9d4r``)."""
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = "".join(secrets.choice(_CROCKFORD) for _ in range(RECOVERY_CODE_LENGTH))
        half = RECOVERY_CODE_LENGTH // 2
        codes.append(f"{raw[:half]}-{raw[half:]}")
    return codes


def normalize_recovery_code(code: str) -> str:
    """A typed code in canonical form: lower case, no spaces or dashes, misreadings mended."""
    return "".join(code.split()).replace("-", "").lower().translate(_MISREAD)


def recovery_code_digest(settings: Settings, user_id: uuid.UUID, code: str) -> str:
    """What is stored of a recovery code: an HMAC-SHA-256 (hex) of the user's id and the
    normalised code, under a derived key."""
    key = derived_key(settings, "recovery-code")
    message = user_id.bytes + normalize_recovery_code(code).encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()
