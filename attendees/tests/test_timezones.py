"""Each event's own time zone: validated, shown in local time at the door, UTC in the API."""

import datetime
import re
import zoneinfo

import pytest
from django import forms
from django.contrib.admin.models import LogEntry
from django.test.html import parse_html

from attendees import services
from attendees.admin import ZoneSelect
from attendees.models import Event, Record

from .test_admin_areas import event_form

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


def test_the_door_page_gives_its_script_each_events_zone(client, door_staff, event):
    Event.objects.filter(pk=event.pk).update(timezone="Europe/Berlin")
    client.force_login(door_staff)

    html = client.get("/door/").content.decode()

    assert f'<option value="{event.pk}" data-timezone="Europe/Berlin"' in html


# The event's page and list in the admin

EVENTS = "/admin/attendees/event/"
BERLIN_NINE = datetime.datetime(2026, 12, 6, 8, 0, tzinfo=datetime.UTC)


@pytest.fixture
def berlin() -> Event:
    return Event.objects.create(name="PyCon DE", timezone="Europe/Berlin", starts_at=BERLIN_NINE)


def test_the_event_page_offers_the_time_zone_and_shows_the_times_in_it_named_beside_them(admin_client, berlin):
    html = admin_client.get(f"{EVENTS}{berlin.pk}/change/").content.decode()

    assert re.search(r'<select name="timezone"[^>]*>', html)
    assert '<option value="Europe/Berlin" selected>' in html
    assert re.search(r'name="starts_at_0" value="2026-12-06"', html)
    assert re.search(r'name="starts_at_1" value="09:00:00"', html)
    assert html.count("Local time in Europe/Berlin, the event's time zone.") == 3
    # Rendered in the event's zone: the date and time pickers' "Now" is Berlin's.
    assert 'data-admin-utc-offset="3600"' in html


def test_times_typed_on_the_event_page_are_read_in_the_events_zone(admin_client, berlin):
    response = admin_client.post(
        f"{EVENTS}{berlin.pk}/change/",
        event_form(
            starts_at_0="2026-12-06",
            starts_at_1="10:00:00",
            ends_at_0="2026-12-06",
            ends_at_1="18:30:00",
            auto_checkout_at_0="2026-12-06",
            auto_checkout_at_1="23:00:00",
        ),
    )

    assert response.status_code == 302
    berlin.refresh_from_db()
    assert (berlin.starts_at, berlin.ends_at, berlin.auto_checkout_at) == (
        datetime.datetime(2026, 12, 6, 9, 0, tzinfo=datetime.UTC),
        datetime.datetime(2026, 12, 6, 17, 30, tzinfo=datetime.UTC),
        datetime.datetime(2026, 12, 6, 22, 0, tzinfo=datetime.UTC),
    )


def test_a_new_events_times_are_read_in_the_zone_chosen_for_it(admin_client):
    response = admin_client.post(
        f"{EVENTS}add/", event_form(timezone="America/New_York", starts_at_0="2026-07-04", starts_at_1="09:00:00")
    )

    assert response.status_code == 302
    event = Event.objects.get()
    assert event.timezone == "America/New_York"
    assert event.starts_at == datetime.datetime(2026, 7, 4, 13, 0, tzinfo=datetime.UTC)


def test_the_add_page_shows_the_sites_zone_as_the_new_events(admin_client):
    html = admin_client.get(f"{EVENTS}add/").content.decode()

    assert '<option value="UTC" selected>' in html
    assert "Local time in UTC, the event's time zone." in html


def test_the_event_page_posted_without_a_zone_keeps_the_events(admin_client, berlin):
    data = event_form(starts_at_0="2026-12-06", starts_at_1="09:00:00")
    del data["timezone"]

    response = admin_client.post(f"{EVENTS}{berlin.pk}/change/", data)

    assert response.status_code == 302
    berlin.refresh_from_db()
    assert (berlin.timezone, berlin.starts_at) == ("Europe/Berlin", BERLIN_NINE)


def test_the_event_page_refuses_an_unknown_zone_and_saves_nothing(admin_client, berlin):
    response = admin_client.post(f"{EVENTS}{berlin.pk}/change/", event_form(timezone="Mars/Olympus", name="Renamed"))

    assert response.status_code == 200
    assert "timezone" in response.context["adminform"].form.errors
    berlin.refresh_from_db()
    assert (berlin.name, berlin.timezone) == ("PyCon DE", "Europe/Berlin")


def test_a_local_time_the_clocks_skip_is_refused_on_the_event_page(admin_client, berlin):
    # Clocks in Berlin went from 02:00 to 03:00 that night.
    response = admin_client.post(
        f"{EVENTS}{berlin.pk}/change/", event_form(starts_at_0="2026-03-29", starts_at_1="02:30:00")
    )

    assert response.status_code == 200
    assert "Europe/Berlin" in str(response.context["adminform"].form.errors["starts_at"])
    berlin.refresh_from_db()
    assert berlin.starts_at == BERLIN_NINE


def test_saving_the_event_page_unchanged_logs_no_change(admin_client, berlin):
    admin_client.post(f"{EVENTS}{berlin.pk}/change/", event_form(starts_at_0="2026-12-06", starts_at_1="09:00:00"))

    assert LogEntry.objects.get().get_change_message() == "No fields changed."


def test_the_event_list_shows_the_times_with_seconds_in_the_events_zone(admin_client, berlin):
    Event.objects.filter(pk=berlin.pk).update(
        ends_at=datetime.datetime(2026, 12, 6, 17, 30, 15, tzinfo=datetime.UTC), auto_checkout_at=None
    )

    html = admin_client.get(EVENTS).content.decode()

    assert re.search(r'<td class="field-starts">2026-12-06 09:00:00 CET</td>', html)
    assert re.search(r'<td class="field-ends">2026-12-06 18:30:15 CET</td>', html)


@pytest.mark.parametrize("value", ["Europe/Berlin", "UTC", 'A&"B', None, ""])
def test_the_zone_select_writes_the_html_djangos_select_does(value):
    choices = [("Europe/Berlin", "Europe/Berlin"), ("UTC", "UTC"), ('A&"B', "<A & B>")]
    attrs = {"id": "id_timezone", "class": "zone"}

    written = ZoneSelect(choices=choices).render("timezone", value, attrs=attrs)

    assert parse_html(written) == parse_html(forms.Select(choices=choices).render("timezone", value, attrs=attrs))
    assert written.count("selected") == (value in dict(choices))


def test_the_event_page_offers_every_zone_with_the_events_chosen(admin_client, berlin):
    html = admin_client.get(f"/admin/attendees/event/{berlin.pk}/change/").content.decode()

    select = re.search(r'<select name="timezone".*?</select>', html, re.S).group(0)
    assert select.count("<option ") == len(zoneinfo.available_timezones())
    assert re.findall(r'<option value="([^"]+)" selected>', select) == ["Europe/Berlin"]
