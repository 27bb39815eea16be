"""The door page: door staff scan tickets (a barcode scanner, the device's camera) or find
attendees by name, and check them in or out.

The page itself only renders the controls; its scripts read and write through the JSON
API (`attendees.api`) with the session cookie, so every rule and permission is the API's.
"""

from django.contrib.auth import views as auth_views
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
    """Anonymous users go to the project's login page (`settings.LOGIN_URL`); logged-in
    users without the door permissions get 403."""
    return login_required(permission_required(DOOR_PERMISSIONS, raise_exception=True)(view))


class DoorLoginView(auth_views.LoginView):
    """Sign-in for door staff, who need no admin access; lands on the door page."""

    template_name = "attendees/login.html"
    next_page = "attendees:door"
    redirect_authenticated_user = True


class DoorLogoutView(auth_views.LogoutView):
    next_page = "attendees:door-login"


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
            "scans_url": reverse("scan-list"),
            "undo_url": _url_with_id_placeholder("record-undo"),
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


def _url_with_id_placeholder(name: str) -> str:
    """The URL of `name` with `{id}` where the object's id goes, for the script to fill in."""
    sentinel = 2_147_483_647
    return reverse(name, args=[sentinel]).replace(str(sentinel), "{id}")


def _selected_event_id(requested: str | None, events: list[Event]) -> int | None:
    """The event asked for in the query string, or the only one there is."""
    ids = {event.pk for event in events}
    if requested and requested.isdigit() and int(requested) in ids:
        return int(requested)
    if len(events) == 1:
        return events[0].pk
    return None
