"""Mail: rendered from templates in the request, delivered by a background job.

What modules call::

    await send_mail(session, to=user.email, template="accounts/verify_email",
                    context={"name": user.display_name, "link": link})

``send_mail`` renders the templates at once (a broken template fails the request that uses it,
in development and in tests, rather than a job later) and enqueues the ``mail.send`` job, with
the rendered parts, in ``session``'s transaction: no mail leaves for a change that rolled back.
The job builds the message (``From: MAINSPRING_MAIL_FROM``; a ``Message-ID`` made from the job
id, the same on every retry, so receivers can drop a duplicate) and hands it to the transport
of ``MAINSPRING_MAIL_URL``. A transport that fails (server down, refused, timed out) fails the
job, which is retried with backoff and parked as dead after its last attempt.

Templates. The name ``"<module>/<name>"`` means, under ``src/mainspring/<module>/mail/``:

* ``<name>.subject.txt`` — the subject (whitespace and line breaks collapse into one line);
* ``<name>.txt`` — the plain-text body (required: every mail reads without HTML);
* ``<name>.html`` — an optional HTML alternative, autoescaped.

``"core/<name>"`` is looked up in ``src/mainspring/core/templates/mail/``. Jinja2 runs with
``StrictUndefined``: a variable missing from the context is an error, never an empty string.
The kernel ships ``core/notice``, a plain notification any module can send: ``subject``,
``body`` (paragraphs separated by blank lines), and optionally ``action_url`` with
``action_label``.

Transports (``MAINSPRING_MAIL_URL``):

* ``smtp://user:password@host:port?tls=starttls&timeout=10`` — aiosmtplib; ``tls`` is
  ``starttls`` (the default, port 587), ``tls`` (implicit TLS, port 465; also ``smtps://``) or
  ``none`` (port 25; development servers only); ``timeout`` in seconds (default 10); user and
  password percent-encoded.
* ``console:`` — print each message on standard output (the development default).
* ``file:./var/mail`` — write each message as an ``.eml`` file into that directory.
"""

from __future__ import annotations

import asyncio
import re
import sys
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, TextIO
from urllib.parse import parse_qs, unquote, urlsplit

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from mainspring.core.background import JobContext, enqueue, task
from mainspring.core.config import Settings

if TYPE_CHECKING:
    from jinja2 import Environment

PACKAGE_ROOT = Path(__file__).resolve().parents[1]
"""``src/mainspring``: the modules' ``mail/`` folders are found under it."""
MAIL_TASK = "mail.send"
TLSMode = Literal["starttls", "tls", "none"]
TLS_MODES: dict[str, TLSMode] = {"starttls": "starttls", "tls": "tls", "none": "none"}
DEFAULT_PORTS: dict[TLSMode, int] = {"starttls": 587, "tls": 465, "none": 25}
DEFAULT_TIMEOUT_SECONDS = 10.0
_TEMPLATE_NAME = re.compile(r"^[a-z][a-z0-9_]*(/[a-z0-9_][a-z0-9_-]*)+$")


# --- templates ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    text: str
    html: str | None


def _environment(root: Path) -> Environment:
    """The Jinja2 environment of the mail templates under ``root``.

    Jinja2 is imported here, by the first mail a process renders, not at start: its compiler
    and runtime are about 2 MiB of every idle worker (docs/performance.md, "Start-up and
    memory"), and most requests send no mail.
    """
    from jinja2 import (
        BaseLoader,
        Environment,
        FileSystemLoader,
        StrictUndefined,
        select_autoescape,
    )

    class MailTemplateLoader(BaseLoader):
        """Maps ``"<module>/<file>"`` to ``<root>/<module>/mail/<file>`` (``core``: the
        kernel's ``core/templates/mail/``). Paths are resolved by Jinja's
        ``FileSystemLoader``, which refuses to leave the folder (no ``..``)."""

        def get_source(
            self, environment: Environment, template: str
        ) -> tuple[str, str | None, Any]:
            module, _, name = template.partition("/")
            folder = root / "core" / "templates" if module == "core" else root / module
            return FileSystemLoader(folder / "mail").get_source(environment, name)

    return Environment(
        loader=MailTemplateLoader(),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined,
    )


class MailTemplates:
    """The mail templates under ``root`` (the package by default; tests point it elsewhere)."""

    def __init__(self, root: Path = PACKAGE_ROOT) -> None:
        self.root = root
        self._environment: Environment | None = None

    @property
    def environment(self) -> Environment:
        """Built by the first render (see ``_environment``), then kept."""
        if self._environment is None:
            self._environment = _environment(self.root)
        return self._environment

    def render(self, template: str, context: Mapping[str, Any]) -> RenderedMail:
        from jinja2 import TemplateNotFound  # imported with the environment: see _environment

        if not _TEMPLATE_NAME.match(template):
            raise ValueError(f"{template!r} is not a mail template name like 'accounts/welcome'")
        subject = " ".join(self._render(f"{template}.subject.txt", context).split())
        if not subject:
            raise ValueError(f"the mail template {template!r} renders an empty subject")
        text = self._render(f"{template}.txt", context)
        try:
            html: str | None = self._render(f"{template}.html", context)
        except TemplateNotFound:
            html = None
        return RenderedMail(subject=subject, text=text, html=html)

    def _render(self, name: str, context: Mapping[str, Any]) -> str:
        return self.environment.get_template(name).render(context)


templates = MailTemplates()


# --- sending ------------------------------------------------------------------------------------


async def send_mail(
    session: AsyncSession,
    *,
    to: str | Sequence[str],
    template: str,
    context: Mapping[str, Any] | None = None,
    reply_to: str | None = None,
) -> uuid.UUID:
    """Render ``template`` with ``context`` and enqueue its delivery to ``to`` in ``session``'s
    transaction. Returns the id of the ``mail.send`` job."""
    recipients = [_address(value) for value in ([to] if isinstance(to, str) else to)]
    if not recipients:
        raise ValueError("a mail needs at least one recipient")
    rendered = templates.render(template, context or {})
    payload = {
        "to": recipients,
        "reply_to": _address(reply_to) if reply_to else None,
        "subject": rendered.subject,
        "text": rendered.text,
        "html": rendered.html,
    }
    return await enqueue(session, MAIL_TASK, payload)


def _address(value: str) -> str:
    """``a@b.c`` or ``Name <a@b.c>``; refuses line breaks (header injection) and non-addresses."""
    _, address = parseaddr(value)
    local, at, domain = address.rpartition("@")
    if "\r" in value or "\n" in value or not (local and at and domain):
        raise ValueError(f"{value!r} is not a mail address")
    return value


def build_message(payload: Mapping[str, Any], *, sender: str, message_id: str) -> EmailMessage:
    """The MIME message of a ``mail.send`` payload: text, plus an HTML alternative if any."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(payload["to"])
    if payload.get("reply_to"):
        message["Reply-To"] = payload["reply_to"]
    message["Subject"] = payload["subject"]
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = message_id
    message.set_content(payload["text"])
    if payload.get("html"):
        message.add_alternative(payload["html"], subtype="html")
    return message


@task(MAIL_TASK)
async def deliver(ctx: JobContext, payload: dict[str, Any]) -> None:
    """The ``mail.send`` task: build the message and hand it to the configured transport."""
    domain = parseaddr(ctx.settings.mail_from)[1].rpartition("@")[2] or "localhost"
    message = build_message(
        payload, sender=ctx.settings.mail_from, message_id=f"<{ctx.job_id}@{domain}>"
    )
    transport: MailTransport = ctx.state.mail
    await transport.send(message)


# --- transports ---------------------------------------------------------------------------------


class MailTransport(Protocol):
    async def send(self, message: EmailMessage) -> None: ...


@dataclass(frozen=True)
class SMTPTransport:
    """Delivery to an SMTP server, one connection per message (aiosmtplib)."""

    host: str
    port: int
    tls: TLSMode
    timeout: float
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    async def send(self, message: EmailMessage) -> None:
        # Imported here: only the background worker sends mail, and only through SMTP.
        import aiosmtplib

        await aiosmtplib.send(
            message,
            hostname=self.host,
            port=self.port,
            username=self.username,
            password=self.password,
            use_tls=self.tls == "tls",
            start_tls=self.tls == "starttls",
            timeout=self.timeout,
        )


@dataclass(frozen=True)
class ConsoleTransport:
    """Development: print each message, headers and body, on ``stream`` (standard output as it
    is when the message is sent)."""

    stream: TextIO | None = None

    async def send(self, message: EmailMessage) -> None:
        stream = self.stream or sys.stdout
        rule = "-" * 72
        stream.write(f"{rule}\n{message.as_string()}\n{rule}\n")
        stream.flush()


@dataclass(frozen=True)
class FileTransport:
    """Development: write each message as ``<UTC time>-<id>.eml`` into ``directory``."""

    directory: Path

    async def send(self, message: EmailMessage) -> None:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        path = self.directory / f"{stamp}-{uuid.uuid4().hex[:8]}.eml"
        await asyncio.to_thread(_write, path, message.as_bytes())


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def transport_from_url(url: str) -> MailTransport:
    """The transport ``MAINSPRING_MAIL_URL`` names; ``ValueError`` if it names none."""
    if url in ("console:", "console://"):
        return ConsoleTransport()
    if url.startswith("file:"):
        directory = url.removeprefix("file:").removeprefix("//")
        if not directory:
            raise ValueError("MAINSPRING_MAIL_URL file: needs a directory, e.g. file:./var/mail")
        return FileTransport(Path(directory))
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ValueError("MAINSPRING_MAIL_URL must be smtp://host..., console: or file:<dir>")
    options = parse_qs(parts.query, keep_blank_values=True)
    unknown = set(options) - {"tls", "timeout"}
    if unknown:
        raise ValueError(f"MAINSPRING_MAIL_URL: unknown options {sorted(unknown)}")
    default_mode = "tls" if parts.scheme == "smtps" else "starttls"
    mode = TLS_MODES.get(options.get("tls", [default_mode])[-1])
    if mode is None:
        raise ValueError("MAINSPRING_MAIL_URL: tls must be starttls, tls or none")
    timeout = float(options.get("timeout", [str(DEFAULT_TIMEOUT_SECONDS)])[-1])
    if timeout <= 0:
        raise ValueError("MAINSPRING_MAIL_URL: timeout must be positive")
    return SMTPTransport(
        host=parts.hostname,
        port=parts.port or DEFAULT_PORTS[mode],
        tls=mode,
        timeout=timeout,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


def install(app: FastAPI, settings: Settings) -> None:
    """Put the transport of ``MAINSPRING_MAIL_URL`` on ``app.state.mail`` (a bad URL stops the
    start-up). No readiness check: a mail server that is down delays mail (jobs retry), it does
    not stop the API from serving."""
    app.state.mail = transport_from_url(settings.mail_url)
