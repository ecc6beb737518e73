"""A project's tasks as CSV (RFC 4180), safe to open in a spreadsheet.

Spreadsheets run a cell that starts with ``=``, ``+``, ``-``, ``@`` (or a tab or carriage
return) as a formula: a task titled ``=HYPERLINK("http://evil", "click")`` would become a live
link in whoever opens the export. Such cells are prefixed with an apostrophe (OWASP's "CSV
injection" advice), which spreadsheets display as text.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import datetime

from mainspring.todo.tasks.schemas import TaskExport

COLUMNS = (
    "id",
    "title",
    "column",
    "done",
    "priority",
    "due_at",
    "assignee",
    "labels",
    "position",
    "subtasks_done",
    "subtasks_total",
    "completed_at",
    "created_at",
    "updated_at",
    "description",
)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: str) -> str:
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def _time(value: datetime | None) -> str:
    return value.isoformat() if value else ""


def csv_header() -> str:
    return _line(COLUMNS)


def csv_lines(tasks: Iterable[TaskExport]) -> str:
    """The CSV lines of these tasks (no header), CRLF-terminated."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for task in tasks:
        writer.writerow(
            [
                str(task.id),
                safe_cell(task.title),
                safe_cell(task.column.name),
                "yes" if task.column.is_done else "no",
                task.priority.value,
                _time(task.due_at),
                task.assignee.username if task.assignee else "",
                safe_cell(" ".join(task.labels)),
                task.position,
                task.subtasks_done,
                task.subtasks_total,
                _time(task.completed_at),
                _time(task.created_at),
                _time(task.updated_at),
                safe_cell(task.description),
            ]
        )
    return out.getvalue()


def _line(values: Iterable[str]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(values)
    return out.getvalue()
