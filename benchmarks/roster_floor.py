"""The floor of the roster: a plain WSGI application (no Django request handling, no REST
framework, no ORM) answering `GET /roster/<event id>/` with the same JSON as the API's
roster, from one hand-written SELECT read through the same chunked (server-side, on
PostgreSQL) cursor, hashed, encoded and gzipped in the same process. It checks the token
in one SELECT and asks for no permission. Served by gunicorn as
`benchmarks.roster_floor:application`; called in-process where gunicorn is not used.
"""

import datetime
import hashlib
import json
import os
import re
import zlib

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "eventsite.settings")
django.setup()

from django.db import connection  # noqa: E402  (needs the settings above)

CHUNK_SIZE = 1000
PATH = re.compile(r"^/roster/(\d+)/$")
TOKEN_SQL = "SELECT 1 FROM authtoken_token t JOIN auth_user u ON u.id = t.user_id WHERE t.key = %s AND u.is_active"
# The state as `selectors.attendees_with_state` derives it (inside: an open standing stay
# in the event; left: standing stays in the event, none open), and the one open stay in
# an area that a constraint allows.
ROSTER_SQL = """
SELECT a.id, a.first_name, a.last_name, a.ticket_code,
    EXISTS (SELECT 1 FROM attendees_visit v WHERE v.attendee_id = a.id AND v.voided_at IS NULL
        AND v.area_id IS NULL AND v.checked_out_at IS NULL),
    EXISTS (SELECT 1 FROM attendees_visit v WHERE v.attendee_id = a.id AND v.voided_at IS NULL
        AND v.area_id IS NULL),
    s.area_id
FROM attendees_attendee a
LEFT JOIN attendees_visit s ON s.attendee_id = a.id AND s.area_id IS NOT NULL AND s.checked_out_at IS NULL
    AND s.voided_at IS NULL
WHERE a.event_id = %s
ORDER BY a.id
"""


def application(environ, start_response):
    found = PATH.match(environ.get("PATH_INFO", ""))
    authorization = environ.get("HTTP_AUTHORIZATION", "")
    if found is None or not authorization.startswith("Token ") or not _known(authorization[len("Token ") :]):
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found"]
    body = _roster(int(found[1]))
    headers = [("Content-Type", "application/json"), ("Vary", "Accept-Encoding")]
    if "gzip" in environ.get("HTTP_ACCEPT_ENCODING", ""):
        body = _gzipped(body)
        headers.append(("Content-Encoding", "gzip"))
    start_response("200 OK", headers)
    return body


def _known(token: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(TOKEN_SQL, [token])
        return cursor.fetchone() is not None


def _roster(event_id: int):
    at = datetime.datetime.now(datetime.UTC).isoformat().replace("+00:00", "Z")
    yield f'{{"event":{event_id},"at":"{at}","attendees":['.encode()
    separator = b""
    with connection.chunked_cursor() as cursor:
        cursor.execute(ROSTER_SQL, [event_id])
        while rows := cursor.fetchmany(CHUNK_SIZE):
            items = [
                {
                    "id": pk,
                    "first_name": first,
                    "last_name": last,
                    "ticket_code_sha256": hashlib.sha256(code.encode()).hexdigest(),
                    "state": "inside" if inside else "left" if visited else "never_arrived",
                    "area": area,
                }
                for pk, first, last, code, inside, visited, area in rows
            ]
            yield separator + json.dumps(items, separators=(",", ":"))[1:-1].encode()
            separator = b","
    yield b"]}"


def _gzipped(pieces):
    # The level of Django's `compress_sequence`, which the API uses.
    compressor = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    for piece in pieces:
        if data := compressor.compress(piece):
            yield data
    yield compressor.flush()
