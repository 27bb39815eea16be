"""The door page shows times in the event's own zone, named, also on a device whose clock
is set to another zone: a check-in, a scan saved offline and the roster on the device."""

import re
from zoneinfo import ZoneInfo

import pytest

from attendees.models import Event, Record

from .conftest import PASSWORD, PHONE, PLAYWRIGHT_MISSING

expect = pytest.importorskip("playwright.sync_api", reason=PLAYWRIGHT_MISSING).expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = "America/New_York"


def berlin_time(moment, language: str) -> str:
    """The time as the page shows it: the hour and minute in Berlin and the zone's short
    name in the page's language (browsers name Berlin's zone "GMT+1" in American English)."""
    local = moment.astimezone(BERLIN)
    summer = bool(local.dst())
    name = {"en": "GMT+2" if summer else "GMT+1", "de": "MESZ" if summer else "MEZ"}[language]
    return f"{local:%H:%M} {name}"


@pytest.fixture
def berlin_event(db) -> Event:
    return Event.objects.create(name="PyCon DE", timezone="Europe/Berlin")


@pytest.fixture
def ada(make_attendee, berlin_event):
    return make_attendee("never", event=berlin_event, first_name="Ada", last_name="Lovelace")


@pytest.fixture
def door_in_new_york(new_page, make_user, berlin_event, ada):
    """door_in_new_york(locale) -> the door page on a phone whose clock is in New York,
    signed in as door staff, the event chosen and its roster on the device. The test fails
    if the page's script throws."""
    errors = []

    def open_door(locale: str = "en-US"):
        page = new_page(PHONE, is_mobile=True, has_touch=True, timezone_id=NEW_YORK, locale=locale)
        page.on("pageerror", lambda error: errors.append(error))
        # The door's own login page, in the page's language: its fields are found by their names.
        page.goto(f"/door/login/?next=/door/%3Fevent%3D{berlin_event.pk}")
        page.locator("input[name=username]").fill(make_user("door_staff", is_staff=False).get_username())
        page.locator("input[name=password]").fill(PASSWORD)
        page.locator("button[type=submit]").click()
        page.wait_for_url(re.compile(r"/door/\?event="))
        assert page.evaluate("Intl.DateTimeFormat().resolvedOptions().timeZone") == NEW_YORK
        page.wait_for_function("navigator.serviceWorker.controller !== null")
        expect(page.locator("#door-roster")).not_to_be_empty()
        return page

    yield open_door
    assert errors == []


def scan(page, code: str) -> None:
    page.get_by_role("searchbox").focus()
    page.keyboard.type(code)
    page.keyboard.press("Enter")


def detail(page):
    return page.locator("#door-result .result-detail")


def test_a_check_in_shows_the_events_local_time_and_zone_not_the_devices(door_in_new_york, ada, screenshot):
    page = door_in_new_york()
    page.get_by_label("Station").fill("North door")

    scan(page, ada.ticket_code)

    expect(page.locator("#door-result .result-title")).to_have_text("Checked in")
    at = Record.objects.get(attendee=ada).at
    expect(detail(page)).to_have_text(f"{berlin_time(at, 'en')}, North door")
    assert f"{at.astimezone(ZoneInfo(NEW_YORK)):%H:%M}" not in detail(page).text_content()
    screenshot(page, "checked in shown in Berlin time on a device in New York")


def test_the_roster_on_the_device_says_as_of_when_in_the_events_zone(door_in_new_york):
    page = door_in_new_york()

    expect(page.locator("#door-roster")).to_have_text(
        re.compile(r"^On this device: 1 attendee, as of \d\d:\d\d GMT\+[12]$")
    )


def test_in_german_the_zone_has_its_german_name(door_in_new_york, ada, screenshot):
    page = door_in_new_york("de-DE")

    scan(page, ada.ticket_code)

    expect(page.locator("#door-result .result-title")).to_have_text("Eingecheckt")
    expect(detail(page)).to_have_text(berlin_time(Record.objects.get(attendee=ada).at, "de"))
    screenshot(page, "checked in shown in Berlin time in German")


def test_a_scan_saved_offline_shows_the_events_local_time_and_zone(door_in_new_york, ada, screenshot):
    page = door_in_new_york()
    page.context.set_offline(True)

    scan(page, ada.ticket_code)

    expect(page.locator("#door-result .result-title")).to_have_text("Saved offline")
    shown = detail(page).text_content()
    screenshot(page, "saved offline shown in Berlin time")
    page.context.set_offline(False)
    expect(page.locator("#door-connection")).to_contain_text("sent", timeout=20_000)
    # Recorded at the device's time of the scan, which the page showed.
    assert shown == f"Checked in at {berlin_time(Record.objects.get(attendee=ada).at, 'en')}"
