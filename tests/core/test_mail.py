"""Mail: rendered in the request, delivered by a job to a real SMTP server (aiosmtpd).

The server runs in the test (``smtp_server`` fixture, or a TLS one built here with a
self-signed certificate that the client is told to trust through ``SSL_CERT_FILE``).
"""

from __future__ import annotations

import io
import ipaddress
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from fastapi import FastAPI
from jinja2 import TemplateNotFound, UndefinedError

from mainspring.app import create_app
from mainspring.core.background import JobOutcome, Worker
from mainspring.core.config import Settings
from mainspring.core.deps import SessionDep
from mainspring.core.errors import Conflict
from mainspring.core.mail import (
    ConsoleTransport,
    FileTransport,
    MailTemplates,
    SMTPTransport,
    build_message,
    send_mail,
    transport_from_url,
)
from mainspring.core.models import Job
from tests.conftest import empty_tables
from tests.fixtures.jobs import DrainJobs
from tests.fixtures.mail import ServerTLS, SMTPServer

SENDER = "Mainspring <no-reply@mainspring.test>"
NOTICE = {
    "subject": "Your report\n is ready",
    "body": "Hello <b>Ada</b>,\n\nThe numbers are in.",
    "action_url": "https://example.com/reports/1?a=1&b=2",
    "action_label": "Open the report",
}


@pytest.fixture
def settings(settings: Settings, smtp_server: SMTPServer) -> Settings:
    return smtp_server.configure(settings.model_copy(update={"mail_from": SENDER}))


@pytest.fixture
def mail_routes(app: FastAPI) -> FastAPI:
    @app.post("/_test/notices", status_code=202)
    async def notify(session: SessionDep, to: str, fail: bool = False) -> dict[str, str]:
        job_id = await send_mail(session, to=to, template="core/notice", context=NOTICE)
        if fail:
            raise Conflict("the request fails after sending")
        return {"job_id": str(job_id)}

    return app


async def test_a_mail_is_rendered_and_delivered_over_smtp(
    client: httpx.AsyncClient,
    mail_routes: FastAPI,
    drain_jobs: DrainJobs,
    smtp_server: SMTPServer,
) -> None:
    response = await client.post("/_test/notices", params={"to": "Ada <ada@example.com>"})
    assert response.status_code == 202
    job_id = response.json()["job_id"]
    assert smtp_server.messages == []  # nothing leaves before a worker runs the job
    assert [outcome.status for outcome in await drain_jobs()] == ["done"]

    [mail] = smtp_server.messages
    assert mail.sender == "no-reply@mainspring.test"
    assert mail.recipients == ["ada@example.com"]
    assert mail.message["From"] == SENDER
    assert mail.message["To"] == "Ada <ada@example.com>"
    assert mail.message["Message-ID"] == f"<{job_id}@mainspring.test>"  # stable across retries
    assert mail.subject == "Your report is ready"
    assert "Hello <b>Ada</b>," in mail.text  # text is sent as written
    assert "Open the report: https://example.com/reports/1?a=1&b=2" in mail.text
    assert mail.html is not None
    assert "<p>Hello &lt;b&gt;Ada&lt;/b&gt;,</p>" in mail.html  # HTML is autoescaped
    assert '<a href="https://example.com/reports/1?a=1&amp;b=2">Open the report</a>' in mail.html
    assert not mail.encrypted


async def test_no_mail_leaves_for_a_rolled_back_request(
    client: httpx.AsyncClient,
    mail_routes: FastAPI,
    drain_jobs: DrainJobs,
    smtp_server: SMTPServer,
) -> None:
    response = await client.post("/_test/notices", params={"to": "ada@example.com", "fail": True})
    assert response.status_code == 409
    assert await drain_jobs() == []
    assert smtp_server.messages == []


async def test_send_mail_refuses_bad_addresses(app: FastAPI) -> None:
    async with app.state.db.session() as session:
        for bad in ("not-an-address", "ada@example.com\r\nBcc: eve@example.com", "@example.com"):
            with pytest.raises(ValueError, match="not a mail address"):
                await send_mail(session, to=bad, template="core/notice", context=NOTICE)
        with pytest.raises(ValueError, match="at least one recipient"):
            await send_mail(session, to=[], template="core/notice", context=NOTICE)


# --- templates ----------------------------------------------------------------------------------


def _write(root: Path, files: dict[str, str]) -> None:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)


def test_templates_follow_the_module_convention(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "shop/mail/receipt.subject.txt": "Receipt\n  for {{ order }}\n",
            "shop/mail/receipt.txt": "Order {{ order }}: {{ total }}",
            "shop/mail/receipt.html": "<p>{{ order }} &middot; {{ total }}</p>",
            "shop/mail/plain.subject.txt": "Plain",
            "shop/mail/plain.txt": "Only text",
            "core/templates/mail/ping.subject.txt": "Ping",
            "core/templates/mail/ping.txt": "pong",
        },
    )
    templates = MailTemplates(tmp_path)
    receipt = templates.render("shop/receipt", {"order": "A<1>", "total": "9.99 EUR"})
    assert receipt.subject == "Receipt for A<1>"
    assert receipt.text == "Order A<1>: 9.99 EUR"
    assert receipt.html == "<p>A&lt;1&gt; &middot; 9.99 EUR</p>"
    assert templates.render("shop/plain", {}).html is None
    assert templates.render("core/ping", {}).text == "pong"


def test_template_errors_are_raised_where_the_mail_is_sent(tmp_path: Path) -> None:
    _write(tmp_path, {"shop/mail/receipt.subject.txt": "{{ order }}", "shop/mail/receipt.txt": ""})
    templates = MailTemplates(tmp_path)
    with pytest.raises(UndefinedError):
        templates.render("shop/receipt", {})  # a missing variable is an error, never ""
    with pytest.raises(TemplateNotFound):
        templates.render("shop/missing", {})
    for name in ("receipt", "shop/../../etc/passwd", "Shop/receipt", "/shop/receipt"):
        with pytest.raises(ValueError, match="template name"):
            templates.render(name, {"order": 1})
    _write(tmp_path, {"shop/mail/blank.subject.txt": " \n ", "shop/mail/blank.txt": "x"})
    with pytest.raises(ValueError, match="empty subject"):
        templates.render("shop/blank", {})


# --- transports ---------------------------------------------------------------------------------


def test_mail_urls_name_their_transport() -> None:
    smtp = transport_from_url("smtp://mailer%40example.com:p%40ss%3Aword@mail.example.com")
    assert smtp == SMTPTransport(
        host="mail.example.com",
        port=587,
        tls="starttls",
        timeout=10.0,
        username="mailer@example.com",
        password="p@ss:word",
    )
    assert "p@ss" not in repr(smtp)
    assert transport_from_url("smtps://mail.example.com") == SMTPTransport(
        host="mail.example.com", port=465, tls="tls", timeout=10.0
    )
    assert transport_from_url("smtp://127.0.0.1:2525?tls=none&timeout=2.5") == SMTPTransport(
        host="127.0.0.1", port=2525, tls="none", timeout=2.5
    )
    assert isinstance(transport_from_url("console:"), ConsoleTransport)
    assert transport_from_url("file:./var/mail") == FileTransport(Path("./var/mail"))
    for bad in (
        "smtp://mail.example.com?tls=maybe",
        "smtp://mail.example.com?timeout=0",
        "smtp://mail.example.com?verify=no",
        "http://mail.example.com",
        "smtp://",
        "file:",
    ):
        with pytest.raises(ValueError, match="MAINSPRING_MAIL_URL"):
            transport_from_url(bad)


def test_an_invalid_mail_url_stops_the_start_up(settings: Settings) -> None:
    with pytest.raises(ValueError, match="MAINSPRING_MAIL_URL"):
        create_app(settings.model_copy(update={"mail_url": "smtp://host?tls=maybe"}))


def _message() -> Any:
    payload = {"to": ["ada@example.com"], "subject": "Hi", "text": "Body", "html": "<p>Body</p>"}
    return build_message(payload, sender=SENDER, message_id="<1@mainspring.test>")


async def test_the_console_transport_prints_the_message() -> None:
    out = io.StringIO()
    await ConsoleTransport(out).send(_message())
    printed = out.getvalue()
    assert "Subject: Hi" in printed
    assert "To: ada@example.com" in printed


async def test_the_file_transport_writes_eml_files(settings: Settings, tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    async with _running(settings.model_copy(update={"mail_url": f"file:{outbox}"})) as app:
        async with app.state.db.session() as session:
            await send_mail(session, to="ada@example.com", template="core/notice", context=NOTICE)
        assert [o.status for o in await _drain(app)] == ["done"]
    [eml] = list(outbox.glob("*.eml"))
    message = message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert message["Subject"] == "Your report is ready"


# --- TLS, login, failures -----------------------------------------------------------------------


@asynccontextmanager
async def _running(settings: Settings) -> AsyncIterator[FastAPI]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        try:
            yield app
        finally:
            await empty_tables(app)


async def _drain(app: FastAPI, at: datetime | None = None) -> list[JobOutcome]:
    return await Worker(app.state.background, schedules=()).drain(at=at)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1: (cert.pem, key.pem)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mainspring test SMTP")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    directory = tmp_path_factory.mktemp("tls")
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture
def trusted(certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """The certificate, trusted by this process's TLS clients (OpenSSL reads SSL_CERT_FILE)."""
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
    return certificate


@pytest.mark.anyio  # explicit: conftest's automatic marker does not reach parametrized tests
@pytest.mark.parametrize("tls", ["starttls", "tls"])
# aiosmtpd's warning about its own implicit-TLS server (see SMTPServer.start): the connection
# is encrypted, aiosmtpd just cannot tell.
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
async def test_mail_goes_over_tls_with_a_login(
    settings: Settings, trusted: tuple[Path, Path], tls: ServerTLS
) -> None:
    server = SMTPServer(tls=tls, certificate=trusted, credentials=("mailer@example.com", "s3:cr/t"))
    server.start()
    try:
        async with _running(server.configure(settings)) as app:
            async with app.state.db.session() as session:
                await send_mail(
                    session, to="ada@example.com", template="core/notice", context=NOTICE
                )
            assert [o.status for o in await _drain(app)] == ["done"]
    finally:
        server.stop()
    [mail] = server.messages
    assert mail.encrypted
    assert mail.login == "mailer@example.com"
    assert mail.subject == "Your report is ready"


async def test_a_refused_login_fails_the_job_without_revealing_the_password(
    settings: Settings, trusted: tuple[Path, Path]
) -> None:
    server = SMTPServer(tls="starttls", certificate=trusted, credentials=("mailer", "right"))
    server.start()
    wrong = server.url.replace("mailer:right@", "mailer:wrong-secret-42@")
    try:
        async with _running(settings.model_copy(update={"mail_url": wrong})) as app:
            async with app.state.db.session() as session:
                await send_mail(
                    session, to="ada@example.com", template="core/notice", context=NOTICE
                )
            [outcome] = await _drain(app)
    finally:
        server.stop()
    assert outcome.status == "retry"
    assert outcome.error is not None
    assert "SMTPAuthenticationError" in outcome.error
    assert "wrong-secret-42" not in outcome.error
    assert server.messages == []


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def test_an_unreachable_server_retries_then_parks_the_mail_as_dead(
    settings: Settings,
) -> None:
    unreachable = f"smtp://127.0.0.1:{_closed_port()}?tls=none&timeout=2"
    failing = settings.model_copy(update={"mail_url": unreachable, "job_max_attempts": 2})
    async with _running(failing) as app:
        async with app.state.db.session() as session:
            job_id = await send_mail(
                session, to="ada@example.com", template="core/notice", context=NOTICE
            )
        [first] = await _drain(app)
        assert first.status == "retry"
        assert first.retry_at is not None
        [second] = await _drain(app, at=first.retry_at)
        assert second.status == "dead"
        async with app.state.db.read_session() as session:
            job = await session.get(Job, job_id)
    assert job is not None
    assert job.status == "dead"
    assert job.last_error is not None
    assert "SMTPConnectError" in job.last_error
