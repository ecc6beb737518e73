"""Exports parsed back: the CSV and the Excel workbook of a project's tasks (and their
defence against formula injection) and the iCalendar feed of due dates at a revocable secret URL."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import UTC, datetime

import httpx
import openpyxl
from openpyxl.worksheet.worksheet import Worksheet

from mainspring.todo.exports.spreadsheet import COLUMNS
from tests.todo.workspace import Team, new_task

ICS_FIELDS = ("UID", "DTSTAMP", "DTSTART", "DTEND", "SUMMARY")


async def test_csv_export_parses_back(client: httpx.AsyncClient, team: Team) -> None:
    task = await new_task(
        client,
        team.owner,
        team.project_id,
        title='Quote "this", then, a comma',
        description="Line one\nline two",
        labels=["b", "a"],
        due_at="2030-05-01T09:30:00Z",
        assignee_id=str(team.editor.id),
        subtasks=["x", "y"],
        priority="high",
    )
    await new_task(client, team.owner, team.project_id, title='=HYPERLINK("http://evil")')
    await new_task(client, team.owner, team.project_id, title="@SUM(A1)", column="done")
    response = await client.get(
        f"/api/v1/projects/{team.project_id}/tasks.csv", headers=team.viewer.headers
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert "attachment" in response.headers["content-disposition"]
    assert response.text.endswith("\r\n")
    rows = list(csv.DictReader(io.StringIO(response.text, newline="")))
    assert len(rows) == 3
    first = rows[0]
    assert first["id"] == task["id"]
    assert first["title"] == 'Quote "this", then, a comma'
    assert first["description"] == "Line one\nline two"
    assert first["labels"] == "a b"
    assert first["assignee"] == "eddie"
    assert first["priority"] == "high"
    assert (first["column"], first["done"]) == ("To do", "no")
    assert (rows[2]["column"], rows[2]["done"]) == ("Done", "yes")
    assert datetime.fromisoformat(first["due_at"]) == datetime(2030, 5, 1, 9, 30, tzinfo=UTC)
    assert (first["subtasks_done"], first["subtasks_total"]) == ("0", "2")
    assert rows[1]["title"] == '\'=HYPERLINK("http://evil")'  # shown as text, never run
    assert rows[2]["title"] == "'@SUM(A1)"
    assert rows[2]["completed_at"] != ""


def parse_ics(text: str) -> list[dict[str, str]]:
    """A strict reading of RFC 5545: CRLF lines of at most 75 octets, folded lines unfolded,
    BEGIN/END balanced; returns the VEVENTs' properties, text unescaped."""
    assert text.endswith("\r\n")
    raw_lines = text[:-2].split("\r\n")
    assert all(len(line.encode()) <= 75 for line in raw_lines)
    lines: list[str] = []
    for line in raw_lines:
        if line.startswith(" "):
            lines[-1] += line[1:]
        else:
            lines.append(line)
    assert lines[0] == "BEGIN:VCALENDAR"
    assert lines[-1] == "END:VCALENDAR"
    assert "VERSION:2.0" in lines
    assert any(line.startswith("PRODID:") for line in lines)
    events: list[dict[str, str]] = []
    current: dict[str, str] | None = None
    for line in lines[1:-1]:
        name, _, value = line.partition(":")
        if line == "BEGIN:VEVENT":
            assert current is None
            current = {}
        elif line == "END:VEVENT":
            assert current is not None
            events.append(current)
            current = None
        elif current is not None:
            current[name] = (
                value.replace("\\n", "\n")
                .replace("\\,", ",")
                .replace("\\;", ";")
                .replace("\\\\", "\\")
            )
    assert current is None
    return events


async def test_the_calendar_feed_parses_back_and_can_be_revoked(
    client: httpx.AsyncClient, team: Team
) -> None:
    long_title = "Réunion; budget, planning — " + "très long " * 10
    await new_task(
        client, team.owner, team.project_id, title=long_title, due_at="2030-05-01T09:30:00+02:00"
    )
    await new_task(client, team.owner, team.project_id, title="No due date")
    await new_task(
        client,
        team.owner,
        team.project_id,
        title="Shipped",
        column="done",
        due_at="2030-04-01T00:00:00Z",
    )
    created = await client.post(
        f"/api/v1/projects/{team.project_id}/calendar-feed", headers=team.viewer.headers
    )
    assert created.status_code == 201
    url = created.json()["url"]
    assert created.headers["location"] == url
    path = url.removeprefix("http://127.0.0.1:8000")
    assert path.startswith("/api/v1/projects/calendar/")
    assert path.endswith(".ics")
    feed = await client.get(path)  # no Authorization: the URL is the credential
    assert feed.status_code == 200
    assert feed.headers["content-type"].startswith("text/calendar")
    events = parse_ics(feed.text)
    assert [e["SUMMARY"] for e in events] == ["[done] Shipped", long_title.strip()]
    for event in events:
        assert all(field in event for field in ICS_FIELDS)
    assert events[1]["DTSTART"] == "20300501T073000Z"
    assert len({e["UID"] for e in events}) == 2
    # A new URL replaces the old one; revoking ends it.
    renewed = await client.post(
        f"/api/v1/projects/{team.project_id}/calendar-feed", headers=team.viewer.headers
    )
    assert (await client.get(path)).status_code == 404
    new_path = renewed.json()["url"].removeprefix("http://127.0.0.1:8000")
    assert (await client.get(new_path)).status_code == 200
    revoked = await client.delete(
        f"/api/v1/projects/{team.project_id}/calendar-feed", headers=team.viewer.headers
    )
    assert revoked.status_code == 204
    assert (await client.get(new_path)).status_code == 404


async def test_a_feed_dies_with_its_owners_membership(
    client: httpx.AsyncClient, team: Team
) -> None:
    created = await client.post(
        f"/api/v1/projects/{team.project_id}/calendar-feed", headers=team.editor.headers
    )
    path = created.json()["url"].removeprefix("http://127.0.0.1:8000")
    assert (await client.get(path)).status_code == 200
    await client.delete(
        f"/api/v1/projects/{team.project_id}/members/{team.editor.id}", headers=team.owner.headers
    )
    assert (await client.get(path)).status_code == 404
    assert (await client.get("/api/v1/projects/calendar/" + "A" * 43 + ".ics")).status_code == 404


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def read_xlsx(body: bytes) -> tuple[Worksheet, str]:
    """The workbook's only sheet (openpyxl) and that sheet's raw XML."""
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        sheets = [name for name in archive.namelist() if name.startswith("xl/worksheets/")]
        assert sheets == ["xl/worksheets/sheet1.xml"]
        xml = archive.read(sheets[0]).decode()
    book = openpyxl.load_workbook(io.BytesIO(body))
    assert len(book.worksheets) == 1
    return book.worksheets[0], xml


async def test_xlsx_export_has_typed_cells_under_a_frozen_header(
    client: httpx.AsyncClient, team: Team
) -> None:
    task = await new_task(
        client,
        team.owner,
        team.project_id,
        title='Quote "this", then, a comma',
        description="Line one\nline two",
        labels=["b", "a"],
        due_at="2030-05-01T11:30:00+02:00",
        assignee_id=str(team.editor.id),
        subtasks=["x", "y"],
        priority="high",
    )
    await new_task(client, team.owner, team.project_id, title='=HYPERLINK("http://evil","x")')
    await new_task(client, team.owner, team.project_id, title="@SUM(A1)", column="done")
    response = await client.get(
        f"/api/v1/projects/{team.project_id}/tasks.xlsx", headers=team.viewer.headers
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == XLSX
    assert response.headers["content-disposition"] == (
        f'attachment; filename="tasks-{team.project_id}.xlsx"'
    )
    sheet, xml = read_xlsx(response.content)
    assert sheet.title == "Launch"
    assert sheet.freeze_panes == "A2"
    rows = list(sheet.iter_rows())
    header = [cell.value for cell in rows[0]]
    assert header == list(COLUMNS)
    assert all(cell.font.b for cell in rows[0])
    assert sheet.column_dimensions["B"].width > sheet.column_dimensions["D"].width
    assert len(rows) == 4
    first = dict(zip(header, rows[1], strict=True))
    assert first["id"].value == task["id"]
    assert first["title"].value == 'Quote "this", then, a comma'
    assert first["description"].value == "Line one\nline two"
    assert first["labels"].value == "a b"
    assert first["assignee"].value == "eddie"
    assert first["priority"].value == "high"
    assert (first["column"].value, first["done"].value) == ("To do", False)
    assert first["due_at"].value == datetime(2030, 5, 1, 9, 30)  # UTC, as Excel has no zones
    assert first["due_at"].is_date
    assert first["created_at"].is_date
    assert (first["subtasks_done"].value, first["subtasks_total"].value) == (0, 2)
    assert first["subtasks_total"].data_type == "n"
    assert first["completed_at"].value is None
    assert first["done"].data_type == "b"
    done = dict(zip(header, rows[3], strict=True))
    assert (done["column"].value, done["done"].value) == ("Done", True)
    assert isinstance(done["completed_at"].value, datetime)
    # Formula injection: stored as text, exactly as written, and kept text if edited.
    evil = rows[2][COLUMNS.index("title")]
    assert evil.value == '=HYPERLINK("http://evil","x")'
    assert evil.data_type == "s"
    assert evil.quotePrefix
    assert rows[3][COLUMNS.index("title")].quotePrefix
    assert not first["title"].quotePrefix
    assert "<f>" not in xml
    assert "<f " not in xml  # no formula anywhere in the sheet


async def test_xlsx_export_of_an_empty_project_with_an_awkward_name(
    client: httpx.AsyncClient, team: Team
) -> None:
    response = await client.patch(
        f"/api/v1/projects/{team.project_id}",
        json={"name": "'Q3: plans/ideas [draft] * for the whole team?'"},
        headers=team.owner.headers,
    )
    assert response.status_code == 200, response.text
    response = await client.get(
        f"/api/v1/projects/{team.project_id}/tasks.xlsx", headers=team.owner.headers
    )
    assert response.status_code == 200
    sheet, _ = read_xlsx(response.content)
    assert sheet.title == "Q3 plans ideas draft for the wh"  # Excel's 31, no [ ] : * ? / \\
    assert [cell.value for cell in next(sheet.iter_rows())] == list(COLUMNS)
    assert sheet.max_row == 1


async def test_xlsx_export_is_for_members_only(client: httpx.AsyncClient, team: Team) -> None:
    path = f"/api/v1/projects/{team.project_id}/tasks.xlsx"
    anonymous = await client.get(path)
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"] == "application/problem+json"
    outsider = await client.get(path, headers=team.outsider.headers)
    assert outsider.status_code == 404
    assert outsider.headers["content-type"] == "application/problem+json"
    assert outsider.json()["status"] == 404
    unknown = await client.get(
        "/api/v1/projects/00000000-0000-7000-8000-000000000000/tasks.xlsx",
        headers=team.owner.headers,
    )
    assert unknown.status_code == 404


async def test_both_exports_take_the_task_lists_filters(
    client: httpx.AsyncClient, team: Team
) -> None:
    await new_task(client, team.owner, team.project_id, title="Bug, open", labels=["bug"])
    await new_task(
        client, team.owner, team.project_id, title="Bug, fixed", labels=["bug"], column="done"
    )
    await new_task(
        client,
        team.owner,
        team.project_id,
        title="Eddie's feature",
        assignee_id=str(team.editor.id),
        priority="urgent",
    )
    base = f"/api/v1/projects/{team.project_id}/tasks"
    cases: list[tuple[dict[str, str], list[str]]] = [
        ({}, ["Bug, open", "Bug, fixed", "Eddie's feature"]),
        ({"label": "bug"}, ["Bug, open", "Bug, fixed"]),
        ({"label": "bug", "done": "false"}, ["Bug, open"]),
        ({"assignee": "me"}, ["Eddie's feature"]),  # the caller is Eddie
        ({"priority": "urgent"}, ["Eddie's feature"]),
        ({"q": "fixed"}, ["Bug, fixed"]),
        ({"assignee": "unassigned", "done": "true"}, ["Bug, fixed"]),
        ({"label": "nothing"}, []),
    ]
    for params, titles in cases:
        as_csv = await client.get(f"{base}.csv", params=params, headers=team.editor.headers)
        assert as_csv.status_code == 200, as_csv.text
        rows = list(csv.DictReader(io.StringIO(as_csv.text, newline="")))
        assert [row["title"] for row in rows] == titles, params
        as_xlsx = await client.get(f"{base}.xlsx", params=params, headers=team.editor.headers)
        assert as_xlsx.status_code == 200, as_xlsx.text
        sheet, _ = read_xlsx(as_xlsx.content)
        column = COLUMNS.index("title")
        assert [row[column] for row in sheet.iter_rows(min_row=2, values_only=True)] == titles
    for suffix in ("csv", "xlsx"):
        invalid = await client.get(
            f"{base}.{suffix}", params={"priority": "whenever"}, headers=team.editor.headers
        )
        assert invalid.status_code == 422
        assert invalid.headers["content-type"] == "application/problem+json"
