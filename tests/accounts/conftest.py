"""Accounts tests: mail goes to a real SMTP server, and each test calls from its own address.

Rate limits key on the client address and, with Redis, outlive a test; a random address per
test keeps one test's failed logins from throttling the next.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from mainspring.core.config import Settings
from tests.fixtures.jobs import DrainJobs
from tests.fixtures.mail import ReceivedMail, SMTPServer
from tests.fixtures.users import any_client_address

_TOKEN = re.compile(r"[?&]token=([A-Za-z0-9_\-]+)")


@pytest.fixture
def settings(settings: Settings, smtp_server: SMTPServer) -> Settings:
    return smtp_server.configure(settings)


@pytest.fixture
def client_address() -> str:
    """The root ``client`` connects from this address."""
    return any_client_address()


@dataclass
class Mailbox:
    """The test SMTP server's messages, after running the queued jobs that send them."""

    smtp: SMTPServer
    drain_jobs: DrainJobs

    async def deliver(self) -> None:
        outcomes = await self.drain_jobs()
        assert all(outcome.status == "done" for outcome in outcomes), outcomes

    async def to(self, address: str) -> list[ReceivedMail]:
        await self.deliver()
        return [mail for mail in self.smtp.messages if address in mail.recipients]

    async def link_token(self, address: str, path: str) -> str:
        """The token of the newest link to ``path`` mailed to ``address``."""
        links = [mail for mail in await self.to(address) if path + "?token=" in mail.text]
        assert links, f"no {path} link was mailed to {address}"
        match = _TOKEN.search(links[-1].text)
        assert match is not None
        return match.group(1)


@pytest.fixture
def mailbox(smtp_server: SMTPServer, drain_jobs: DrainJobs) -> Mailbox:
    return Mailbox(smtp_server, drain_jobs)
