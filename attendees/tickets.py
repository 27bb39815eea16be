"""Tickets: the public ticket page and its QR code, ticket emails and badge sheets.

The ticket code in a ticket's URL is the key, so whoever holds the code (the attendee,
from their email) sees the ticket and its QR code, and nobody else. A code is a secret:
it is never written to a log.
"""

import io
import logging
import zoneinfo
from collections.abc import Callable, Iterable, Sequence
from typing import NamedTuple

import segno
from django.core import mail
from django.http import HttpRequest, HttpResponse, HttpResponseNotFound
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils.translation import gettext
from django.views.decorators.http import require_safe

from .models import Attendee, Event

logger = logging.getLogger(__name__)

# A ticket page is a secret's page: not cached, not sent on as a referrer, not indexed.
PRIVATE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex",
}

# Error correction "M" at least (segno raises it when the code fits anyway): a creased
# badge or a cracked phone screen still scans.
QR_ERROR = "m"
# The quiet zone that the QR standard asks for around the code, in modules.
QR_BORDER = 4
# Badges on one A4 sheet: two columns of four (see badges.html).
BADGES_PER_SHEET = 8


class TicketsSent(NamedTuple):
    sent: int
    failed: int


def _qr(ticket_code: str) -> segno.QRCode:
    return segno.make_qr(ticket_code, error=QR_ERROR)


def qr_svg(ticket_code: str, *, svg_class: str = "qr") -> str:
    """The QR code of `ticket_code` as an SVG element to put inline in a page: sized by its
    viewBox, so CSS scales it, on a white ground that keeps it readable on any page."""
    return _qr(ticket_code).svg_inline(
        scale=1, border=QR_BORDER, light="#fff", omitsize=True, svgclass=svg_class, title=gettext("Ticket QR code")
    )


def qr_svg_document(ticket_code: str, *, scale: int = 8) -> bytes:
    """The QR code of `ticket_code` as a standalone SVG document."""
    document = io.BytesIO()
    _qr(ticket_code).save(document, kind="svg", scale=scale, border=QR_BORDER, light="#fff")
    return document.getvalue()


def qr_png(ticket_code: str, *, scale: int = 8) -> bytes:
    """The QR code of `ticket_code` as a PNG image."""
    image = io.BytesIO()
    _qr(ticket_code).save(image, kind="png", scale=scale, border=QR_BORDER)
    return image.getvalue()


def event_zone(event: Event) -> zoneinfo.ZoneInfo:
    """The time zone an event's times are shown in."""
    return event.zone


def private(response: HttpResponse) -> HttpResponse:
    """`response` with the headers that keep a page holding ticket codes out of caches,
    referrers and search engines. Django logs the path of every 4xx answer ("Not Found:
    /tickets/<code>/"); the path holds a code, so the answer is marked as logged already."""
    for name, value in PRIVATE_HEADERS.items():
        response[name] = value
    response._has_been_logged = True
    return response


@require_safe
def ticket_page(request: HttpRequest, ticket_code: str) -> HttpResponse:
    attendee = Attendee.objects.select_related("event").filter(ticket_code=ticket_code).first()
    if attendee is None:
        return private(render(request, "attendees/ticket.html", {"attendee": None}, status=404))
    context = {
        "attendee": attendee,
        "event": attendee.event,
        "zone": event_zone(attendee.event),
        "qr": qr_svg(attendee.ticket_code, svg_class="ticket-qr"),
    }
    return private(render(request, "attendees/ticket.html", context))


@require_safe
def ticket_qr(request: HttpRequest, ticket_code: str) -> HttpResponse:
    if not Attendee.objects.filter(ticket_code=ticket_code).exists():
        return private(HttpResponseNotFound(gettext("No ticket has this code."), content_type="text/plain"))
    return private(HttpResponse(qr_svg_document(ticket_code), content_type="image/svg+xml"))


def ticket_email(attendee: Attendee, *, url: str) -> mail.EmailMultiAlternatives:
    """The email that brings `attendee` their ticket: a link to the ticket page and the QR code.

    The HTML part shows the QR code as inline SVG, which many mail clients (Gmail, Outlook)
    do not display; the same code is attached as a PNG, which every client shows or opens,
    so the attendee always has a code the door can scan."""
    context = {"attendee": attendee, "event": attendee.event, "zone": event_zone(attendee.event), "url": url}
    subject = " ".join(render_to_string("attendees/email/ticket_subject.txt", context).split())
    text = render_to_string("attendees/email/ticket.txt", context)
    html = render_to_string(
        "attendees/email/ticket.html", {**context, "qr": qr_svg(attendee.ticket_code, svg_class="ticket-qr")}
    )
    message = mail.EmailMultiAlternatives(subject=subject, body=text, to=[attendee.email])
    message.attach_alternative(html, "text/html")
    message.attach("ticket-qr.png", qr_png(attendee.ticket_code), "image/png")
    return message


def send_tickets(*, attendees: Iterable[Attendee], build_url: Callable[[Attendee], str]) -> TicketsSent:
    """Email each of `attendees` their ticket (see `ticket_email`), with `build_url(attendee)`
    as the link to their ticket page, over one connection to the mail server.

    A ticket that cannot be sent is counted as failed and the others still go out; a mail
    server that cannot be reached fails them all. Nothing is raised for either."""
    messages = [(attendee.pk, ticket_email(attendee, url=build_url(attendee))) for attendee in attendees]
    if not messages:
        return TicketsSent(sent=0, failed=0)
    connection = mail.get_connection()
    try:
        connection.open()
    except Exception as error:
        logger.warning("Could not connect to send %d tickets: %s", len(messages), type(error).__name__)
        return TicketsSent(sent=0, failed=len(messages))
    sent = 0
    try:
        for attendee_id, message in messages:
            # Whatever a backend raises for one message, the batch goes on. Only the error's
            # class is logged: its text could quote the message, and so the ticket code.
            try:
                sent += connection.send_messages([message]) or 0
            except Exception as error:
                logger.warning("Could not send the ticket of attendee %s: %s", attendee_id, type(error).__name__)
    finally:
        try:
            connection.close()
        except Exception as error:
            # The tickets are out by now: a server that hangs up badly changes nothing.
            logger.warning("Could not close the connection to the mail server: %s", type(error).__name__)
    return TicketsSent(sent=sent, failed=len(messages) - sent)


def badge_sheets(attendees: Iterable[Attendee]) -> list[list[dict]]:
    """The badges of `attendees` (with their events selected), grouped by printed A4 sheet."""
    badges = [
        {"attendee": attendee, "qr": qr_svg(attendee.ticket_code, svg_class="badge-qr")} for attendee in attendees
    ]
    return [badges[start : start + BADGES_PER_SHEET] for start in range(0, len(badges), BADGES_PER_SHEET)]


def badges_response(request: HttpRequest, attendees: Sequence[Attendee]) -> HttpResponse:
    """A printable page of badges: name, event and QR code of each of `attendees`."""
    context = {"sheets": badge_sheets(attendees), "count": len(attendees)}
    return private(render(request, "attendees/badges.html", context))
