"""Due dates as an iCalendar feed (RFC 5545) that calendar applications subscribe to.

Each task with a due date is a ``VEVENT`` starting and ending at its due time (a deadline has
no duration). The text rules of the format are the ones that trip implementations up:
lines end with CRLF; a line longer than 75 octets is folded (CRLF and a space) without cutting
a UTF-8 character in two; and ``\\``, ``;``, ``,`` and new lines in text are escaped.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from mainspring.todo.tasks.schemas import Task

PRODID = "-//Mainspring//Task manager//EN"
MAX_OCTETS = 75


def escape_text(value: str) -> str:
    return (
        value.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
        .replace("\r", "\\n")
    )


def fold(line: str) -> str:
    """Split a content line into chunks of at most 75 octets, on character boundaries."""
    chunks: list[str] = []
    current, size = "", 0
    limit = MAX_OCTETS
    for char in line:
        octets = len(char.encode())
        if size + octets > limit:
            chunks.append(current)
            current, size = "", 0
            limit = MAX_OCTETS - 1  # continuation lines start with a space
        current += char
        size += octets
    chunks.append(current)
    return "\r\n ".join(chunks)


def _stamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def render_calendar(name: str, tasks: Iterable[Task], *, host: str, now: datetime) -> str:
    """A ``VCALENDAR`` named ``name`` with one event per task with a due date."""
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODID}",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-CALNAME:{escape_text(name)}",
    ]
    for task in tasks:
        if task.due_at is None:
            continue
        summary = f"[done] {task.title}" if task.column.is_done else task.title
        details = f"Column: {task.column.name}. Priority: {task.priority.value}."
        lines += [
            "BEGIN:VEVENT",
            f"UID:{task.id}@{host}",
            f"DTSTAMP:{_stamp(now)}",
            f"LAST-MODIFIED:{_stamp(task.updated_at)}",
            f"SEQUENCE:{task.version}",
            f"DTSTART:{_stamp(task.due_at)}",
            f"DTEND:{_stamp(task.due_at)}",
            f"SUMMARY:{escape_text(summary)}",
            f"DESCRIPTION:{escape_text(details)}",
            "TRANSP:TRANSPARENT",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return "".join(fold(line) + "\r\n" for line in lines)
