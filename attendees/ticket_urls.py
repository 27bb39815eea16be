"""Public ticket pages; include it with `path("tickets/", include("attendees.ticket_urls"))`.

The ticket code in the URL is the key: whoever holds it may see the ticket."""

from django.urls import path

from . import tickets

app_name = "attendees_tickets"

urlpatterns = [
    path("<str:ticket_code>/", tickets.ticket_page, name="ticket"),
    path("<str:ticket_code>/qr.svg", tickets.ticket_qr, name="ticket-qr"),
]
