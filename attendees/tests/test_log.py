"""Ticket codes never reach a log line: the development server's request lines and
Django's "Not Found" lines show `***` in their place."""

import io
import logging
import threading
import urllib.error
import urllib.request

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.core.servers import basehttp

from attendees.log import HideTicketCodes, hide_ticket_codes


@pytest.mark.parametrize(
    ("target", "shown"),
    [
        ("/tickets/Abc-123_xyz:9.Q/", "/tickets/***/"),
        ("/tickets/Abc-123_xyz/qr.svg", "/tickets/***/qr.svg"),
        ("/tickets/no%20such%20code/", "/tickets/***/"),
        ("/api/attendees/?event=4&search=Abc-123_xyz&page_size=20", "/api/attendees/?event=4&search=***&page_size=20"),
        ("/admin/attendees/attendee/?q=Abc-123_xyz", "/admin/attendees/attendee/?q=***"),
        ("/api/attendees/?event=4", "/api/attendees/?event=4"),
        ("/door/", "/door/"),
        ("/no/such/page/", "/no/such/page/"),
    ],
)
def test_codes_in_paths_and_searches_are_hidden(target, shown):
    assert hide_ticket_codes(target) == shown


def test_the_filter_rewrites_request_lines_and_paths_and_nothing_else():
    record = logging.LogRecord(
        "django.server", logging.INFO, __file__, 1, '"%s" %s %s', ("GET /tickets/Secret-42/ HTTP/1.1", "200", "9"), None
    )
    assert HideTicketCodes().filter(record) is True
    assert record.getMessage() == '"GET /tickets/***/ HTTP/1.1" 200 9'
    record = logging.LogRecord(
        "django.request", logging.WARNING, __file__, 1, "%s: %s", ("Not Found", "/tickets/Secret-42/"), None
    )
    HideTicketCodes().filter(record)
    assert record.getMessage() == "Not Found: /tickets/***/"
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "%s of %d", ("Secret-42 or anything", 3), None)
    HideTicketCodes().filter(record)
    assert record.getMessage() == "Secret-42 or anything of 3"


@pytest.fixture
def server_log():
    """What the project's log handlers write, captured."""
    stream = io.StringIO()
    handlers = {
        handler
        for name in ("django.server", "django")
        for handler in logging.getLogger(name).handlers
        if type(handler) is logging.StreamHandler
    }
    assert handlers, "the project's LOGGING gives Django's loggers handlers"
    streams = {handler: handler.setStream(stream) for handler in handlers}
    try:
        yield stream
    finally:
        for handler, previous in streams.items():
            handler.setStream(previous)


@pytest.mark.django_db(transaction=True)
def test_the_development_server_logs_no_ticket_code(server_log, make_attendee):
    """The development server (`runserver`'s request handler) serving a ticket page, its
    QR code, a wrong code and a search at the door: its log names none of the codes."""
    attendee = make_attendee(first_name="Ada", last_name="Lovelace")
    server = basehttp.WSGIServer(("127.0.0.1", 0), basehttp.WSGIRequestHandler)
    server.set_app(WSGIHandler())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        for path, status in (
            (f"/tickets/{attendee.ticket_code}/", 200),
            (f"/tickets/{attendee.ticket_code}/qr.svg", 200),
            ("/tickets/Wrong-Code-77/", 404),
            (f"/api/attendees/?event={attendee.event_id}&search={attendee.ticket_code}", 401),
        ):
            assert _status(base + path) == status
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
    log = server_log.getvalue()
    assert log.count("/tickets/***/") == 3
    assert "/tickets/***/qr.svg" in log
    assert "search=***" in log
    assert attendee.ticket_code not in log
    assert "Wrong-Code-77" not in log


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code
