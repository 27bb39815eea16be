"""The limit of the stack for a door scan: plain Django views (no REST framework, no
ORM) doing a check-in or check-out in hand-written PostgreSQL, with the same token
authentication, permission rule and response body as the API. Served by gunicorn
through `benchmarks.bare_wsgi`; this module is also its URLconf.

By id (`/bare/attendees/<id>/checkin/`), three statements per request: the token, user
and permissions in one SELECT; the write (the event's number inside, the stay and its
record); the attendee with its times in one SELECT.
By ticket code (`/bare/scans/`, directions "in" and "out"), four: the same, and the
attendee found by its code before the write. The same work by id behind the REST
framework's dispatch and rendering (`/drf/...`) shows what the framework itself costs.
"""

import dataclasses
import datetime
import json

from django.db import IntegrityError, connection
from django.http import JsonResponse
from django.urls import re_path
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from rest_framework.response import Response
from rest_framework.views import APIView

# What each endpoint's permission class asks of the user, as in `attendees.api.permissions`.
ATTENDEE_PERMISSIONS = ["view_attendee", "record_attendance"]
SCAN_PERMISSIONS = ["record_attendance"]
USER_SQL = """
SELECT u.id, u.username, u.is_active AND (u.is_superuser OR %s = (
    SELECT COUNT(DISTINCT p.codename)
    FROM auth_permission p JOIN django_content_type c ON c.id = p.content_type_id
    WHERE c.app_label = 'attendees' AND p.codename = ANY(%s) AND (
        EXISTS (SELECT 1 FROM auth_user_user_permissions up WHERE up.user_id = u.id AND up.permission_id = p.id)
        OR EXISTS (
            SELECT 1 FROM auth_user_groups ug JOIN auth_group_permissions gp ON gp.group_id = ug.group_id
            WHERE ug.user_id = u.id AND gp.permission_id = p.id
        )
    )
))
FROM authtoken_token t JOIN auth_user u ON u.id = t.user_id
WHERE t.key = %s
""".strip()
TICKET_SQL = "SELECT id, event_id FROM attendees_attendee WHERE ticket_code = %s"
# The place inside the event, the stay and its record in one statement each way:
# PostgreSQL's data-modifying CTEs. The benchmark's attendees are never in an area, so
# areas are left out.
RECORD_COLUMNS = "id, type, at, station, source, recorded_at, reason, area_id, capacity_override"
CHECK_IN_SQL = f"""
WITH admitted AS (
    UPDATE attendees_event SET inside = inside + 1
    WHERE id = (SELECT event_id FROM attendees_attendee WHERE id = %(attendee)s)
        AND (capacity IS NULL OR inside < capacity)
        AND NOT EXISTS (
            SELECT 1 FROM attendees_visit
            WHERE attendee_id = %(attendee)s AND checked_out_at IS NULL AND voided_at IS NULL AND area_id IS NULL
        )
    RETURNING id
), opened AS (
    INSERT INTO attendees_visit (attendee_id, checked_in_at, checked_in_by_id, area_id)
    SELECT %(attendee)s, %(now)s, %(user)s, NULL FROM admitted
    ON CONFLICT DO NOTHING
    RETURNING id, attendee_id, checked_in_at, checked_in_by_id
), recorded AS (
    INSERT INTO attendees_record (attendee_id, visit_id, area_id, type, at, recorded_at, recorded_by_id, station,
        source, capacity_override, reason, void_reason)
    SELECT attendee_id, id, NULL, 'check_in', checked_in_at, checked_in_at, checked_in_by_id, %(station)s,
        %(source)s, false, '', ''
    FROM opened
    RETURNING {RECORD_COLUMNS}
)
SELECT admitted.id, recorded.* FROM admitted LEFT JOIN recorded ON true
""".strip()
# A check-in admitted to the event whose stay a concurrent check-in opened first.
RELEASE_SQL = "UPDATE attendees_event SET inside = inside - 1 WHERE id = %s"
CHECK_OUT_SQL = f"""
WITH closed AS (
    UPDATE attendees_visit SET checked_out_at = GREATEST(%(now)s, checked_in_at), checked_out_by_id = %(user)s
    WHERE attendee_id = %(attendee)s AND checked_out_at IS NULL AND voided_at IS NULL AND area_id IS NULL
    RETURNING id, attendee_id, checked_out_at, checked_out_by_id
), counted AS (
    UPDATE attendees_event SET inside = inside - 1
    WHERE id = (SELECT event_id FROM attendees_attendee WHERE id = %(attendee)s) AND EXISTS (SELECT 1 FROM closed)
)
INSERT INTO attendees_record (attendee_id, visit_id, area_id, type, at, recorded_at, recorded_by_id, station, source,
    capacity_override, reason, void_reason)
SELECT attendee_id, id, NULL, 'check_out', checked_out_at, %(now)s, checked_out_by_id, %(station)s, %(source)s,
    false, '', ''
FROM closed
RETURNING {RECORD_COLUMNS}
""".strip()
ATTENDEE_SQL = """
SELECT a.id, a.event_id, a.first_name, a.last_name, a.email,
    ARRAY(
        SELECT v.checked_in_at FROM attendees_visit v
        WHERE v.attendee_id = a.id AND v.voided_at IS NULL AND v.area_id IS NULL
        ORDER BY v.checked_in_at, v.id
    ),
    ARRAY(
        SELECT v.checked_out_at FROM attendees_visit v
        WHERE v.attendee_id = a.id AND v.checked_out_at IS NOT NULL AND v.voided_at IS NULL AND v.area_id IS NULL
        ORDER BY v.checked_in_at, v.id
    ),
    (
        SELECT v.area_id FROM attendees_visit v
        WHERE v.attendee_id = a.id AND v.checked_out_at IS NULL AND v.voided_at IS NULL AND v.area_id IS NOT NULL
        LIMIT 1
    )
FROM attendees_attendee a WHERE a.id = %s
""".strip()
REFUSAL_SQL = """
SELECT EXISTS (SELECT 1 FROM attendees_attendee WHERE id = %(attendee)s),
    EXISTS (SELECT 1 FROM attendees_visit WHERE attendee_id = %(attendee)s AND voided_at IS NULL AND area_id IS NULL),
    EXISTS (
        SELECT 1 FROM attendees_visit
        WHERE attendee_id = %(attendee)s AND checked_out_at IS NULL AND voided_at IS NULL AND area_id IS NULL
    )
""".strip()
REFUSED_SCAN_SQL = """
INSERT INTO attendees_refusedscan
    (at, recorded_at, ticket_code, event_id, attendee_id, area_id, direction, station, reason, recorded_by_id, offline)
VALUES (%s, %s, %s, %s, %s, NULL, %s, %s, %s, %s, false)
""".strip()
NOT_FOUND = "No Attendee matches the given query."
ALREADY_IN = "The attendee is already checked in."
ALREADY_OUT = "The attendee has already checked out."
NEVER_IN = "The attendee has never checked in, so cannot check out."
FULL = "The event is full."


class Refused(Exception):
    """A request answered with `status` and `body` instead of a recorded check-in or check-out."""

    def __init__(self, status: int, body: dict):
        super().__init__(status)
        self.status = status
        self.body = body


@dataclasses.dataclass(frozen=True)
class User:
    id: int
    username: str


def _user(request, cursor, permissions: list[str]) -> User:
    """The user whose token the request carries, holding every one of `permissions`."""
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    if scheme != "Token" or not key:
        raise Refused(401, _error("not_authenticated", "Authentication credentials were not provided."))
    cursor.execute(USER_SQL, [len(permissions), permissions, key])
    row = cursor.fetchone()
    if row is None:
        raise Refused(401, _error("authentication_failed", "Invalid token."))
    user_id, username, allowed = row
    if not allowed:
        raise Refused(403, _error("permission_denied", "You do not have permission to perform this action."))
    return User(user_id, username)


def _error(code: str, detail: str) -> dict:
    return {"detail": detail, "code": code}


def _body(request) -> dict:
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        raise Refused(400, _error("parse_error", "JSON parse error.")) from None
    if not isinstance(body, dict):
        raise Refused(400, _error("parse_error", "Expected a JSON object."))
    station = body.get("station", "")
    if not isinstance(station, str) or len(station) > 100:
        raise Refused(400, {"station": ["Not a valid station."]})
    return body


def _attendee(cursor, pk: int) -> dict:
    cursor.execute(ATTENDEE_SQL, [pk])
    pk, event_id, first_name, last_name, email, checkins, checkouts, area_id = cursor.fetchone()
    inside = len(checkouts) < len(checkins)
    return {
        "id": pk,
        "event": event_id,
        "first_name": first_name,
        "last_name": last_name,
        "email": email,
        "is_checked_in": inside,
        "is_checked_out": bool(checkins) and not inside,
        "checkin_times": [_utc(at) for at in checkins],
        "checkout_times": [_utc(at) for at in checkouts],
        "area": area_id,
    }


def _record(row: tuple, user: User) -> dict:
    pk, type, at, station, source, recorded_at, reason, area_id, capacity_override = row
    return {
        "id": pk,
        "type": type,
        "at": _utc(at),
        "station": station,
        "recorded_by": user.username,
        "source": source,
        "voided": None,
        "recorded_at": _utc(recorded_at),
        "reason": reason,
        "area": area_id,
        "capacity_override": capacity_override,
    }


def _utc(at: datetime.datetime) -> str:
    return at.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z")


def _write(cursor, pk: int, action: str, *, user: User, station: str, source: str) -> tuple | None:
    """Check the attendee in or out (`action` "checkin" or "checkout"): the record's row, or
    None when their state or the event's capacity refuses it, or the attendee is unknown."""
    params = {"attendee": pk, "now": timezone.now(), "user": user.id, "station": station, "source": source}
    if action == "checkout":
        cursor.execute(CHECK_OUT_SQL, params)
        return cursor.fetchone()
    cursor.execute(CHECK_IN_SQL, params)
    row = cursor.fetchone()
    if row is None:
        return None
    event_id, *written = row
    if written[0] is None:
        cursor.execute(RELEASE_SQL, [event_id])
        return None
    return tuple(written)


def _refusal(cursor, pk: int, action: str) -> tuple[str, str]:
    """Why `action` was refused: (code, detail), or `not_found`."""
    cursor.execute(REFUSAL_SQL, {"attendee": pk})
    exists, has_visits, inside = cursor.fetchone()
    if not exists:
        return "not_found", NOT_FOUND
    if action == "checkin":
        return ("already_checked_in", ALREADY_IN) if inside else ("capacity_reached", FULL)
    if has_visits:
        return "already_checked_out", ALREADY_OUT
    return "not_checked_in", NEVER_IN


def record(request, pk: int, action: str) -> tuple[int, dict]:
    """Check the attendee in or out (`action` "checkin" or "checkout"): (status, body)."""
    try:
        with connection.cursor() as cursor:
            user = _user(request, cursor, ATTENDEE_PERMISSIONS)
            station = _body(request).get("station", "")
            written = _write(cursor, pk, action, user=user, station=station, source="api")
            if written is None:
                code, detail = _refusal(cursor, pk, action)
                return (404 if code == "not_found" else 409), _error(code, detail)
            return 201, _attendee(cursor, pk)
    except Refused as refused:
        return refused.status, refused.body


def scan_ticket(request) -> tuple[int, dict]:
    """Check in or out (`direction` "in" or "out") the attendee holding `ticket_code`, for
    `event` if given; a refused scan is kept, as the API keeps it: (status, body)."""
    try:
        with connection.cursor() as cursor:
            user = _user(request, cursor, SCAN_PERMISSIONS)
            code, direction, event, station = _scan(_body(request))
            cursor.execute(TICKET_SQL, [code])
            found = cursor.fetchone()
            pk, event_id = found or (None, None)
            if found is None:
                reason, detail = "unknown_ticket", "Unknown ticket: no attendee has this code."
            elif event is not None and event != event_id:
                reason, detail = "wrong_event", "This ticket is for another event."
            else:
                action = "checkin" if direction == "in" else "checkout"
                written = _write(cursor, pk, action, user=user, station=station, source="scan")
                if written is not None:
                    return 201, {
                        "result": "checked_in" if direction == "in" else "checked_out",
                        "attendee": _attendee(cursor, pk),
                        "record": _record(written, user),
                    }
                reason, detail = _refusal(cursor, pk, action)
            now = timezone.now()
            scanned_for = event if event is not None else event_id
            try:
                cursor.execute(REFUSED_SCAN_SQL, [now, now, code, scanned_for, pk, direction, station, reason, user.id])
            except IntegrityError:
                return 400, {"event": ["No such event."]}
            if pk is None:
                return 404, _error(reason, detail)
            return 409, {**_error(reason, detail), "attendee": _attendee(cursor, pk)}
    except Refused as refused:
        return refused.status, refused.body


def _scan(body: dict) -> tuple[str, str, int | None, str]:
    """The ticket code (trimmed), direction, event and station of a scan's body."""
    code, direction, event = body.get("ticket_code"), body.get("direction"), body.get("event")
    if not isinstance(code, str) or not code.strip():
        raise Refused(400, {"ticket_code": ["This field may not be blank."]})
    if direction not in ("in", "out"):
        raise Refused(400, {"direction": ["The bare view scans in or out."]})
    if event is not None and (not isinstance(event, int) or isinstance(event, bool)):
        raise Refused(400, {"event": ["Incorrect type."]})
    return code.strip(), direction, event, body.get("station", "")


@csrf_exempt
@require_POST
def attendee_action(request, pk: str, action: str) -> JsonResponse:
    status, body = record(request, int(pk), action)
    return JsonResponse(body, status=status)


@csrf_exempt
@require_POST
def ticket_scan(request) -> JsonResponse:
    status, body = scan_ticket(request)
    return JsonResponse(body, status=status)


class RestFrameworkScan(APIView):
    """The same work inside the REST framework's dispatch, negotiation and rendering."""

    # The SQL authenticates and checks the permissions itself, as in the plain view.
    authentication_classes = []
    permission_classes = []

    def post(self, request, pk: str, action: str) -> Response:
        status, body = record(request, int(pk), action)
        return Response(body, status=status)


PATH = r"attendees/(?P<pk>[0-9]+)/(?P<action>checkin|checkout)/$"

urlpatterns = [
    re_path(rf"^bare/{PATH}", attendee_action),
    re_path(r"^bare/scans/$", ticket_scan),
    re_path(rf"^drf/{PATH}", RestFrameworkScan.as_view()),
]
