"""The door page: door staff scan tickets (a barcode scanner, the device's camera) or find
attendees by name, and check them in or out, also while the connection is down.

The page itself only renders the controls; its scripts read and write through the JSON
API (`attendees.api`) with the session cookie, so every rule and permission is the API's.
A service worker keeps the page and its assets for offline use; the scripts keep the
event's roster and the scans made offline in the browser's IndexedDB.
"""

import functools
import hashlib
import json
from pathlib import Path

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import permission_required
from django.contrib.auth.views import redirect_to_login
from django.contrib.staticfiles import finders
from django.contrib.staticfiles.storage import staticfiles_storage
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render, resolve_url
from django.templatetags.static import static
from django.urls import reverse
from django.utils.translation import gettext
from django.views.decorators.http import require_GET

from . import selectors
from .conf import app_settings
from .models import Area, Event

# Finding attendees needs `view_attendee` (the API's rule for every attendee endpoint);
# checking them in and out needs `record_attendance`.
DOOR_PERMISSIONS = ["attendees.view_attendee", "attendees.record_attendance"]

# The door page's assets, in the order the page loads its scripts. The service worker
# keeps all of them, and the QR decoder and the icon too, so that the page opens offline.
DOOR_STYLESHEET = "attendees/door.css"
DOOR_SCRIPTS = [
    "attendees/vendor/idb/idb.js",
    "attendees/door/api.js",
    "attendees/door/render.js",
    "attendees/door/store.js",
    "attendees/door/roster.js",
    "attendees/door/queue.js",
    "attendees/door/scanner.js",
    "attendees/door/camera.js",
    "attendees/door.js",
]
QR_DECODER = "attendees/vendor/jsqr/jsQR.js"
DOOR_ICON = "attendees/door-icon.svg"
SERVICE_WORKER = "attendees/door/service-worker.js"


def door_staff_only(view):
    """Anonymous users go to the door's login page (`ATTENDEES["DOOR_LOGIN_URL"]`, by
    default the project's `settings.LOGIN_URL`); logged-in users without the door
    permissions get 403."""
    checked = permission_required(DOOR_PERMISSIONS, raise_exception=True)(view)

    @functools.wraps(view)
    def door_view(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), resolve_url(app_settings.DOOR_LOGIN_URL))
        return checked(request, *args, **kwargs)

    return door_view


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
    areas = list(Area.objects.filter(event__in=events).values("id", "event", "name", "capacity"))
    return render(
        request,
        "attendees/door.html",
        {
            "events": events,
            "areas": areas,
            "selected_event_id": selected,
            "can_override_capacity": request.user.has_perm("attendees.override_capacity"),
            "door_stylesheet": DOOR_STYLESHEET,
            "door_scripts": DOOR_SCRIPTS,
            "attendees_url": reverse("attendees_api:attendee-list"),
            "scans_url": reverse("attendees_api:scan-list"),
            "batch_url": reverse("attendees_api:scan-batch"),
            "roster_url": _url_with_id_placeholder("attendees_api:event-roster"),
            "undo_url": _url_with_id_placeholder("attendees_api:record-undo"),
            "counts_url": reverse("attendees:door-counts"),
            "service_worker_url": reverse("attendees:door-service-worker"),
        },
    )


@require_GET
@door_staff_only
def door_counts(request: HttpRequest) -> JsonResponse:
    """How many attendees of `?event=ID` are registered, inside, have left and never
    arrived (the event's live counts: one row whatever its size), the event's capacity,
    and under `place` how many are inside the chosen place (the event, or `&area=ID`) and
    its capacity, read from its live counter."""
    event_id = request.GET.get("event", "")
    if not event_id.isdigit():
        return JsonResponse({"detail": "Send ?event=ID.", "code": "event_required"}, status=400)
    area_id = request.GET.get("area", "")
    if area_id and not area_id.isdigit():
        return JsonResponse({"detail": "Send &area=ID, or no area.", "code": "area_invalid"}, status=400)
    event = get_object_or_404(Event, pk=int(event_id))
    place = get_object_or_404(Area, pk=int(area_id), event=event) if area_id else event
    counts = selectors.event_counts(event)
    return JsonResponse(
        {
            "event": event.pk,
            **counts,
            "capacity": event.capacity,
            "place": {
                "area": place.pk if area_id else None,
                "name": place.name,
                "inside": place.inside,
                "capacity": place.capacity,
            },
        }
    )


@require_GET
def door_service_worker(request: HttpRequest) -> HttpResponse:
    """The door's service worker. It is served here, beside the door page, rather than
    from the static files: a worker controls only pages under its own address, and the
    static files live elsewhere. It is the static file's source, after one line that
    tells it the door page's address and the assets to keep; their contents go into its
    version, so any change to an asset installs a fresh copy of all of them."""
    source = _static_bytes(SERVICE_WORKER)
    assets = [
        reverse("attendees:door-jsi18n"),
        *(static(name) for name in (DOOR_STYLESHEET, *DOOR_SCRIPTS, QR_DECODER, DOOR_ICON)),
    ]
    version = hashlib.sha256(source)
    for name in (DOOR_STYLESHEET, *DOOR_SCRIPTS, QR_DECODER, DOOR_ICON):
        version.update(static(name).encode())
        version.update(hashlib.sha256(_static_bytes(name)).digest())
    config = {
        "page": reverse("attendees:door"),
        "manifest": reverse("attendees:door-manifest"),
        "assets": assets,
        "version": version.hexdigest()[:16],
    }
    body = f"self.doorOffline = {json.dumps(config)};\n".encode() + source
    response = HttpResponse(body, content_type="application/javascript; charset=utf-8")
    # The browser looks for a new worker at every visit; an old one must not come from a cache.
    response["Cache-Control"] = "no-cache"
    return response


@require_GET
def door_manifest(request: HttpRequest) -> JsonResponse:
    """The web app manifest: the door page can be added to a phone's home screen and opens
    there as an app of its own."""
    door_url = reverse("attendees:door")
    return JsonResponse(
        {
            "name": gettext("Door: check attendees in and out"),
            "short_name": gettext("Door"),
            "start_url": door_url,
            "scope": door_url,
            "display": "standalone",
            "background_color": "#ffffff",
            "theme_color": "#f2f3f5",
            "icons": [{"src": static(DOOR_ICON), "sizes": "any", "type": "image/svg+xml", "purpose": "any"}],
        },
        content_type="application/manifest+json",
    )


def _static_bytes(name: str) -> bytes:
    """The contents of a static file of the app, wherever the project's finders or storage keep it."""
    path = finders.find(name)
    if path:
        return Path(path).read_bytes()
    with staticfiles_storage.open(name) as file:
        return file.read()


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
