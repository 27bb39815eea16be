"""The door page: door staff on a phone find an attendee and check them in or out.

The page itself only renders the form; its script reads and writes through the JSON
API (`attendees.api`) with the session cookie, so every rule and permission is the API's.
"""

from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_GET

from . import selectors
from .models import Attendee, Event

# Finding attendees needs `view_attendee` (the API's rule for every attendee endpoint);
# checking them in and out needs `record_attendance`.
DOOR_PERMISSIONS = ["attendees.view_attendee", "attendees.record_attendance"]


def door_staff_only(view):
    """Anonymous users go to the admin login; logged-in users without the door permissions get 403."""
    return login_required(login_url="admin:login")(permission_required(DOOR_PERMISSIONS, raise_exception=True)(view))


@require_GET
@door_staff_only
def door(request: HttpRequest) -> HttpResponse:
    events = list(Event.objects.all())
    selected = _selected_event_id(request.GET.get("event"), events)
    return render(
        request,
        "attendees/door.html",
        {
            "events": events,
            "selected_event_id": selected,
            "attendees_url": reverse("attendee-list"),
            "counts_url": reverse("attendees:door-counts"),
        },
    )


@require_GET
@door_staff_only
def door_counts(request: HttpRequest) -> JsonResponse:
    """How many attendees of `?event=ID` are inside, have left and have not arrived: one aggregate query."""
    event_id = request.GET.get("event", "")
    if not event_id.isdigit():
        return JsonResponse({"detail": "Send ?event=ID.", "code": "event_required"}, status=400)
    event = get_object_or_404(Event, pk=int(event_id))
    counts = selectors.state_counts(Attendee.objects.filter(event=event))
    counts["not_arrived"] = counts["registered"] - counts["inside"] - counts["left"]
    return JsonResponse({"event": event.pk, **counts})


def _selected_event_id(requested: str | None, events: list[Event]) -> int | None:
    """The event asked for in the query string, or the only one there is."""
    ids = {event.pk for event in events}
    if requested and requested.isdigit() and int(requested) in ids:
        return int(requested)
    if len(events) == 1:
        return events[0].pk
    return None
