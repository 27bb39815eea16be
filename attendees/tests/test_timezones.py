"""Each event's own time zone: validated, shown in local time at the door, UTC in the API."""

import datetime

import pytest

from attendees import services
from attendees.models import Event, Record

pytestmark = pytest.mark.django_db


def test_an_event_defaults_to_the_sites_time_zone(settings):
    settings.TIME_ZONE = "America/New_York"

    assert Event.objects.create(name="Local").timezone == "America/New_York"


def test_an_unknown_time_zone_is_a_400_under_timezone(admin_client_api, event):
    response = admin_client_api.patch(f"/api/events/{event.pk}/", {"timezone": "Mars/Olympus"}, format="json")

    assert response.status_code == 400
    assert "timezone" in response.json()
    event.refresh_from_db()
    assert event.timezone == "UTC"


def test_a_known_time_zone_is_kept_and_the_api_stays_in_utc(admin_client_api, event, make_attendee):
    response = admin_client_api.patch(f"/api/events/{event.pk}/", {"timezone": "Europe/Berlin"}, format="json")
    attendee = make_attendee("inside")

    assert response.json()["timezone"] == "Europe/Berlin"
    assert admin_client_api.get(f"/api/attendees/{attendee.pk}/").json()["checkin_times"][0].endswith("Z")


def test_a_door_refusal_says_the_time_in_the_events_zone(door_client, make_attendee, event):
    Event.objects.filter(pk=event.pk).update(timezone="Europe/Berlin")
    attendee = make_attendee()
    services.check_in(attendee=attendee, by=None, station="North door")
    at = Record.objects.get().at.astimezone(datetime.timezone(datetime.timedelta(hours=1)))

    response = door_client.post("/api/scans/", {"ticket_code": attendee.ticket_code, "direction": "in"}, format="json")

    assert response.json()["detail"] == f"Already inside since {at:%H:%M} CET, North door."
