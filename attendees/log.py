"""Ticket codes are secrets, so they stay out of log lines. A ticket page's path holds
its code, and a search typed at the door may hold one; a request line that is logged
(the development server logs every one) shows `***` in their place.

Add the filter to the handlers that write Django's log, as the demo project does::

    LOGGING = {
        ...
        "filters": {"hide_ticket_codes": {"()": "attendees.log.HideTicketCodes"}},
        "handlers": {"console": {..., "filters": ["hide_ticket_codes"]}, ...},
    }
"""

import logging
import re
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from django.urls import NoReverseMatch, Resolver404, resolve, reverse

HIDDEN = "***"
# Query parameters whose value may be a code: the API's search, the admin's search, a code sent as such.
CODE_PARAMETERS = frozenset({"search", "q", "ticket_code"})
REQUEST_LINE = re.compile(r"^(?P<method>[A-Z]+) (?P<target>\S+)(?P<version> HTTP/\S+)?$")


def hide_ticket_codes(target: str) -> str:
    """`target` (a request's path and query, as sent) with any ticket code in its path
    (a URL with a `ticket_code` argument) and the values of its search parameters
    replaced by `***`."""
    parts = urlsplit(target)
    path = parts.path
    try:
        match = resolve(unquote(path))
    except Resolver404:
        pass
    else:
        if "ticket_code" in match.kwargs:
            try:
                path = reverse(match.view_name, args=match.args, kwargs={**match.kwargs, "ticket_code": HIDDEN})
            except NoReverseMatch:
                path = HIDDEN
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(name in CODE_PARAMETERS for name, _ in pairs):
            query = urlencode([(name, HIDDEN if name in CODE_PARAMETERS else value) for name, value in pairs], safe="*")
    return urlunsplit(parts._replace(path=path, query=query))


class HideTicketCodes(logging.Filter):
    """Rewrites, by `hide_ticket_codes`, a request line among a log record's arguments
    (as the development server logs it: `"GET /tickets/<code>/ HTTP/1.1" 200 1234`) and
    a path (as Django logs an answer's status: `Not Found: /tickets/<code>/`). Never
    drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(_hidden(arg) for arg in record.args)
        return True


def _hidden(arg):
    if not isinstance(arg, str):
        return arg
    if arg.startswith("/"):
        return hide_ticket_codes(arg)
    line = REQUEST_LINE.match(arg)
    if line is None:
        return arg
    return f"{line['method']} {hide_ticket_codes(line['target'])}{line['version'] or ''}"
