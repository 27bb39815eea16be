"""The limit of the stack for a door scan: a plain Django view (no REST framework, no
ORM) doing a check-in or check-out in hand-written PostgreSQL, with the same token
authentication, permission rule and response body as the API. Served by gunicorn
through `benchmarks.bare_wsgi`; this module is also its URLconf.

Three statements per request: the token, user and permissions in one SELECT; the
write; the attendee with its times in one SELECT. The same work behind the REST
framework's dispatch and rendering (`/drf/...`) shows what the framework itself costs.
"""

import datetime

from django.db import IntegrityError, connection
from django.http import JsonResponse
from django.urls import re_path
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from rest_framework.response import Response
from rest_framework.views import APIView

USER_SQL = """
SELECT u.id, u.is_active AND (u.is_superuser OR 2 = (
    SELECT COUNT(DISTINCT p.codename)
    FROM auth_permission p JOIN django_content_type c ON c.id = p.content_type_id
    WHERE c.app_label = 'attendees' AND p.codename IN ('view_attendee', 'record_attendance') AND (
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
# The visit and its record in one statement each way: PostgreSQL's data-modifying CTEs.
CHECK_IN_SQL = """
WITH opened AS (
    INSERT INTO attendees_visit (attendee_id, checked_in_at, checked_in_by_id) VALUES (%s, %s, %s)
    ON CONFLICT DO NOTHING
    RETURNING id, attendee_id, checked_in_at, checked_in_by_id
)
INSERT INTO attendees_record
    (attendee_id, visit_id, type, at, recorded_at, recorded_by_id, station, source, reason, void_reason)
SELECT attendee_id, id, 'check_in', checked_in_at, checked_in_at, checked_in_by_id, %s, 'api', '', '' FROM opened
""".strip()
CHECK_OUT_SQL = """
WITH closed AS (
    UPDATE attendees_visit SET checked_out_at = GREATEST(%s, checked_in_at), checked_out_by_id = %s
    WHERE attendee_id = %s AND checked_out_at IS NULL AND voided_at IS NULL
    RETURNING id, attendee_id, checked_out_at, checked_out_by_id
)
INSERT INTO attendees_record
    (attendee_id, visit_id, type, at, recorded_at, recorded_by_id, station, source, reason, void_reason)
SELECT attendee_id, id, 'check_out', checked_out_at, %s, checked_out_by_id, %s, 'api', '', '' FROM closed
""".strip()
ATTENDEE_SQL = """
SELECT a.id, a.event_id, a.first_name, a.last_name, a.email,
    ARRAY(
        SELECT v.checked_in_at FROM attendees_visit v WHERE v.attendee_id = a.id AND v.voided_at IS NULL
        ORDER BY v.checked_in_at, v.id
    ),
    ARRAY(
        SELECT v.checked_out_at FROM attendees_visit v
        WHERE v.attendee_id = a.id AND v.checked_out_at IS NOT NULL AND v.voided_at IS NULL
        ORDER BY v.checked_in_at, v.id
    )
FROM attendees_attendee a WHERE a.id = %s
""".strip()
REFUSAL_SQL = """
SELECT EXISTS (SELECT 1 FROM attendees_attendee WHERE id = %s),
    EXISTS (SELECT 1 FROM attendees_visit WHERE attendee_id = %s AND voided_at IS NULL)
""".strip()


def _user_id(request, cursor) -> int | tuple[int, dict]:
    """The id of the user whose token the request carries, or the refusal."""
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    if scheme != "Token" or not key:
        return 401, _error("not_authenticated", "Authentication credentials were not provided.")
    cursor.execute(USER_SQL, [key])
    row = cursor.fetchone()
    if row is None:
        return 401, _error("authentication_failed", "Invalid token.")
    user_id, allowed = row
    if not allowed:
        return 403, _error("permission_denied", "You do not have permission to perform this action.")
    return user_id


def _error(code: str, detail: str) -> dict:
    return {"detail": detail, "code": code}


def _attendee(cursor, pk: int) -> dict:
    cursor.execute(ATTENDEE_SQL, [pk])
    pk, event_id, first_name, last_name, email, checkins, checkouts = cursor.fetchone()
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
    }


def _utc(at: datetime.datetime) -> str:
    return at.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z")


def record(request, pk: int, action: str) -> tuple[int, dict]:
    """Check the attendee in or out (`action` "checkin" or "checkout"): (status, body)."""
    with connection.cursor() as cursor:
        user_id = _user_id(request, cursor)
        if isinstance(user_id, tuple):
            return user_id
        if action == "checkin":
            try:
                cursor.execute(CHECK_IN_SQL, [pk, timezone.now(), user_id, ""])
            except IntegrityError:
                return 404, _error("not_found", "No Attendee matches the given query.")
            if cursor.rowcount == 0:
                return 409, _error("already_checked_in", "The attendee is already checked in.")
            return 201, _attendee(cursor, pk)
        now = timezone.now()
        cursor.execute(CHECK_OUT_SQL, [now, user_id, pk, now, ""])
        if cursor.rowcount == 0:
            cursor.execute(REFUSAL_SQL, [pk, pk])
            exists, has_visits = cursor.fetchone()
            if not exists:
                return 404, _error("not_found", "No Attendee matches the given query.")
            if has_visits:
                return 409, _error("already_checked_out", "The attendee has already checked out.")
            return 409, _error("not_checked_in", "The attendee has never checked in, so cannot check out.")
        return 201, _attendee(cursor, pk)


@csrf_exempt
@require_POST
def scan(request, pk: str, action: str) -> JsonResponse:
    status, body = record(request, int(pk), action)
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
    re_path(rf"^bare/{PATH}", scan),
    re_path(rf"^drf/{PATH}", RestFrameworkScan.as_view()),
]
