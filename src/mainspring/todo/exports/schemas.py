"""Response body of a new calendar feed."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from mainspring.core.schemas import Schema


class CalendarFeed(Schema):
    url: str = Field(
        description="The secret feed address; shown once. Subscribe to it in a calendar app.",
        examples=["https://tasks.example.com/api/v1/projects/calendar/2mV...Q.ics"],
    )
    created_at: datetime
