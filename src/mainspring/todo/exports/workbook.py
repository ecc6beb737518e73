"""A project's tasks as an Excel workbook (Office Open XML, ``.xlsx``), typed cell by cell.

The columns of the CSV export (``spreadsheet.COLUMNS``), one row per task, but typed: times
are Excel date-times in UTC (Excel has no time zones, so the number format says ``UTC``),
positions and subtask counts are numbers, ``done`` is a boolean, the rest is text. A bold
header row stays frozen above the rows, with an autofilter over them; each column has a width
that suits its content, and the sheet is named after the project.

Formula injection: every text is written with ``write_string``, as a string cell, which Excel
shows and never evaluates (and the workbook is opened with ``strings_to_formulas`` and
``strings_to_urls`` off, so no other write could turn one into a formula or a link). A text
that Excel would run as a formula if a user re-entered it (it starts with ``=``, ``+``,
``-``, ``@``, a tab or a carriage return: ``spreadsheet.FORMULA_STARTS``) also carries
Excel's quote prefix, which is what Excel itself stores when one types an apostrophe before a
formula: the cell shows the exact title, and editing it keeps it text. That is the CSV
export's apostrophe, without changing the value.

XlsxWriter's ``constant_memory`` mode writes each row to a temporary file as it is added, so a
large export holds one chunk of tasks and the finished file in memory, never every cell. Text
longer than Excel's 32 767 UTF-16 units per cell (a description of 20 000 emoji) is cut there.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from mainspring.todo.exports.spreadsheet import COLUMNS, FORMULA_STARTS
from mainspring.todo.tasks.schemas import TaskExport

MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
WIDTHS = {
    "id": 38,
    "title": 40,
    "column": 16,
    "done": 7,
    "priority": 10,
    "due_at": 21,
    "assignee": 16,
    "labels": 24,
    "position": 9,
    "subtasks_done": 14,
    "subtasks_total": 14,
    "completed_at": 21,
    "created_at": 21,
    "updated_at": 21,
    "description": 60,
}
"""Column widths in characters: an id or a time in full, a title or a description readable."""
TIME_FORMAT = 'yyyy-mm-dd hh:mm:ss "UTC"'
SHEET_NAME_MAX = 31
"""Excel's limit, in UTF-16 code units."""
_SHEET_NAME_FORBIDDEN = re.compile(r"[\[\]:*?/\\\x00-\x1f\x7f]")
RESERVED_SHEET_NAMES = frozenset({"history"})
"""Excel reserves ``History`` (for its change tracking) in any case."""


def sheet_name(project_name: str) -> str:
    """A valid sheet name made from the project's: the characters Excel forbids in one
    (``[]:*?/\\`` and control characters) become spaces, apostrophes at either end go, and
    the rest is cut to 31 UTF-16 units; ``Tasks`` when nothing remains."""
    name = " ".join(_SHEET_NAME_FORBIDDEN.sub(" ", project_name).split()).strip("'")
    while len(name.encode("utf-16-le")) // 2 > SHEET_NAME_MAX:
        name = name[:-1]
    name = name.strip().strip("'")
    if not name:
        return "Tasks"
    if name.lower() in RESERVED_SHEET_NAMES:
        return f"{name} (tasks)"
    return name


def _utc(value: datetime) -> datetime:
    """The naive UTC time Excel stores (it refuses aware ones)."""
    return value.astimezone(UTC).replace(tzinfo=None)


class TaskWorkbook:
    """One export being written: ``add`` tasks a chunk at a time, then ``close`` for the bytes.

    A workbook that is not closed leaves its temporary row file behind: call ``close`` on
    every path (the service does, in a ``finally``)."""

    def __init__(self, project_name: str) -> None:
        # Imported by the first export, not at start: XlsxWriter is about 10 MiB of a
        # worker's memory, for a request most workers never serve.
        import xlsxwriter

        self._output = io.BytesIO()
        self._book = xlsxwriter.Workbook(
            self._output,
            {
                "constant_memory": True,
                "strings_to_formulas": False,
                "strings_to_urls": False,
                "strings_to_numbers": False,
            },
        )
        self._book.set_properties({"title": project_name, "comments": "Exported by Mainspring"})
        self._sheet = self._book.add_worksheet(sheet_name(project_name))
        self._time = self._book.add_format({"num_format": TIME_FORMAT})
        self._literal = self._book.add_format({"quote_prefix": True})
        header = self._book.add_format({"bold": True, "bottom": 1})
        for col, name in enumerate(COLUMNS):
            self._sheet.set_column(col, col, WIDTHS[name])
            self._sheet.write_string(0, col, name, header)
        self._sheet.freeze_panes(1, 0)
        self._rows = 0
        self._closed = False

    def add(self, tasks: Iterable[TaskExport]) -> None:
        """Write these tasks' rows below the ones already written."""
        for task in tasks:
            self._rows += 1
            self._row(self._rows, task)

    def _row(self, row: int, task: TaskExport) -> None:
        cells: list[Any] = [
            str(task.id),
            task.title,
            task.column.name,
            task.column.is_done,
            task.priority.value,
            task.due_at,
            task.assignee.username if task.assignee else None,
            " ".join(task.labels),
            task.position,
            task.subtasks_done,
            task.subtasks_total,
            task.completed_at,
            task.created_at,
            task.updated_at,
            task.description,
        ]
        sheet = self._sheet
        for col, value in enumerate(cells):
            if value is None or value == "":
                continue  # an empty cell, as the CSV's empty field
            if isinstance(value, bool):
                sheet.write_boolean(row, col, value)
            elif isinstance(value, int):
                sheet.write_number(row, col, value)
            elif isinstance(value, datetime):
                sheet.write_datetime(row, col, _utc(value), self._time)
            else:
                literal = self._literal if value.startswith(FORMULA_STARTS) else None
                sheet.write_string(row, col, value, literal)

    def close(self) -> bytes:
        """The finished file (its temporary row file removed); nothing more can be added."""
        if not self._closed:
            self._closed = True
            self._sheet.autofilter(0, 0, self._rows, len(COLUMNS) - 1)
            self._book.close()
        return self._output.getvalue()
