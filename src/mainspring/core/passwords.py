"""Password hashing: Argon2id through pwdlib, off the event loop.

Argon2id through pwdlib (bcrypt hashes of an older system are still verified, then upgraded).
A hash costs tens of milliseconds of CPU and ~19 MiB of memory on purpose, so it never runs on
the event loop: it runs on a few threads of its own (``MAINSPRING_PASSWORD_HASH_CONCURRENCY``,
by default one per CPU the process may run on, at most four: a hash beyond the CPUs would
only wait for one, holding its memory) that the operating system schedules at a lower
priority than the event loop (nice ``HASH_THREAD_NICE``). A storm of logins then queues for
those threads, and while it lasts the event loop still gets the CPU whenever a read is
waiting: reads keep their latency, logins take longer. Each hash's 19 MiB goes back to the
operating system when it is done (see ``return_large_blocks_to_the_os``), so a storm leaves
no lasting memory behind. Verifying for an account that does not exist still runs one real
verification (against a dummy hash), so a login takes the same time whether or not the
account exists.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import functools
import os
import secrets
import sys
import threading
import unicodedata
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property
from typing import TypeVar

from pwdlib import PasswordHash
from pwdlib.exceptions import UnknownHashError
from pwdlib.hashers.argon2 import Argon2Hasher
from pwdlib.hashers.bcrypt import BcryptHasher

from mainspring.core.config import Settings

_T = TypeVar("_T")


class _LegacyBcryptHasher(BcryptHasher):
    """bcrypt, kept only to verify hashes imported from an older system (then upgraded).

    bcrypt reads at most 72 bytes; the library refuses longer input instead of silently
    truncating, and a password longer than that simply does not match.
    """

    def verify(self, password: str | bytes, hash: str | bytes) -> bool:
        try:
            return super().verify(password, hash)
        except ValueError:
            return False


def normalize_password(password: str) -> str:
    """NFKC-normalise (NIST SP 800-63B) so that one password typed on two keyboards matches."""
    return unicodedata.normalize("NFKC", password)


class PasswordHasher:
    """Argon2id hashing and verification off the event loop, a bounded number at once.

    ``calls`` counts every hash or verification really computed. It is the hook tests read to
    prove that a login for an unknown account runs the hasher exactly once, like a real one.
    """

    def __init__(
        self, *, time_cost: int, memory_kib: int, parallelism: int, concurrency: int
    ) -> None:
        self._argon2 = Argon2Hasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism
        )
        self._hash = PasswordHash((self._argon2, _LegacyBcryptHasher()))
        self._concurrency = concurrency
        self._threads: ThreadPoolExecutor | None = None  # started by the first hash
        self.calls = 0
        return_large_blocks_to_the_os()

    @classmethod
    def from_settings(cls, settings: Settings) -> PasswordHasher:
        return cls(
            time_cost=settings.password_hash_time_cost,
            memory_kib=settings.password_hash_memory_kib,
            parallelism=settings.password_hash_parallelism,
            concurrency=settings.password_hash_concurrency,
        )

    @cached_property
    def _dummy_hash(self) -> str:
        """A hash of a random password with the current parameters, verified for unknown users."""
        return self._argon2.hash(secrets.token_urlsafe(32))

    async def hash(self, password: str) -> str:
        """The Argon2id hash of ``password`` (NFKC-normalised, never truncated)."""
        return await self._run(self._hash.hash, normalize_password(password))

    async def verify(self, password: str, password_hash: str | None) -> tuple[bool, str | None]:
        """Whether ``password`` matches, and a new hash when the stored one should be upgraded
        (bcrypt, or Argon2 with weaker parameters than today's).

        ``password_hash=None`` (no such account, or an account without a password) still runs one
        verification, against a dummy hash, and answers ``(False, None)``.
        """
        if password_hash is None:
            await self._run(self._verify_dummy, normalize_password(password))
            return False, None
        try:
            return await self._run(
                self._hash.verify_and_update, normalize_password(password), password_hash
            )
        except UnknownHashError:  # a malformed stored hash matches nothing
            return False, None

    def _verify_dummy(self, password: str) -> None:
        self._argon2.verify(password, self._dummy_hash)

    async def _run(self, fn: Callable[..., _T], *args: object) -> _T:
        """Run ``fn(*args)`` on one of the hasher's threads, waiting for a free one."""
        self.calls += 1
        if self._threads is None:
            self._threads = ThreadPoolExecutor(
                max_workers=self._concurrency,
                thread_name_prefix="password-hash",
                initializer=_lower_thread_priority,
            )
        return await asyncio.get_running_loop().run_in_executor(
            self._threads, functools.partial(fn, *args)
        )

    def close(self) -> None:
        """Stop the hasher's threads (they end once their hash, if any, is done)."""
        if self._threads is not None:
            self._threads.shutdown(wait=False, cancel_futures=True)
            self._threads = None


HASH_THREAD_NICE = 19
"""How much less CPU priority the hashing threads have than the event loop (Linux ``nice``, the
lowest): with one of them busy on the event loop's CPU, a waiting event loop gets about 98 %
of it (CFS weights 1024 against 15), and still 94 % against four (instead of 20 % at the same
priority, or 70 % at nice 10). Logins still get the CPU whenever the event loop waits."""


def _lower_thread_priority() -> None:
    """Lower the calling thread's scheduling priority (Linux: priorities are per thread)."""
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASH_THREAD_NICE)


_M_MMAP_THRESHOLD = -3
LARGE_BLOCK_BYTES = 1024 * 1024
_large_blocks_returned = False


def return_large_blocks_to_the_os() -> None:
    """Make glibc serve blocks of 1 MiB and more with ``mmap``, so that freeing one unmaps it.

    By default glibc raises that threshold as large blocks are freed (up to 32 MiB), so after
    the first Argon2id hash its 19 MiB blocks come from the heaps of the hashing threads, which
    keep the memory once it is freed: a login storm left every worker some 80 MiB larger for
    good. A fixed threshold turns that dynamic adjustment off. Nothing happens elsewhere than
    on glibc (musl, macOS), where the call is absent.
    """
    global _large_blocks_returned
    if _large_blocks_returned or not sys.platform.startswith("linux"):
        return
    _large_blocks_returned = True
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(_M_MMAP_THRESHOLD, LARGE_BLOCK_BYTES)
