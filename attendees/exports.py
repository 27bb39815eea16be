"""Attendance as CSV, streamed: one row per attendee, written as the database yields them."""

import csv
import datetime
from collections.abc import Iterator

from django.db.models import QuerySet
from django.http import StreamingHttpResponse

from . import selectors
from .models import Attendee

HEADER = ["id", "name", "email", "state", "first_check_in", "last_check_out", "visits", "seconds_inside"]
# A spreadsheet runs a cell that starts with one of these as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class _Echo:
    """A file whose write() returns the line, so csv.writer can feed a generator."""

    def write(self, line: str) -> str:
        return line


def attendance_response(attendees: QuerySet[Attendee], *, filename: str, with_event: bool = False):
    """A streamed CSV download of the attendance of `attendees`."""
    response = StreamingHttpResponse(attendance_csv(attendees, with_event=with_event), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def attendance_csv(attendees: QuerySet[Attendee], *, with_event: bool = False) -> Iterator[str]:
    """The CSV lines: a header, then one row per attendee. Times are ISO 8601 in UTC."""
    writer = csv.writer(_Echo())
    yield writer.writerow((["event"] if with_event else []) + HEADER)
    for row in selectors.attendance_rows(attendees):
        cells = [
            row.id,
            _safe(row.name),
            _safe(row.email),
            row.state,
            _utc(row.first_check_in),
            _utc(row.last_check_out),
            row.visits,
            "" if row.seconds_inside is None else round(row.seconds_inside),
        ]
        yield writer.writerow(([row.event_id] if with_event else []) + cells)


def _safe(text: str) -> str:
    """Text a spreadsheet shows as text: a leading formula character is escaped with a quote."""
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def _utc(moment: datetime.datetime | None) -> str:
    return "" if moment is None else moment.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z")
