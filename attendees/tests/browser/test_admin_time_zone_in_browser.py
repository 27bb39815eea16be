"""The event's page in the admin, opened on a computer whose clock is in another zone than
the event's: its times, typed and shown, are the event's local times, named."""

import datetime
from zoneinfo import ZoneInfo

import pytest

from attendees.models import Event

from .conftest import PLAYWRIGHT_MISSING

expect = pytest.importorskip("playwright.sync_api", reason=PLAYWRIGHT_MISSING).expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
def berlin_event(db) -> Event:
    return Event.objects.create(
        name="PyCon DE",
        timezone="Europe/Berlin",
        starts_at=datetime.datetime(2026, 12, 6, 8, 0, tzinfo=datetime.UTC),
        ends_at=datetime.datetime(2026, 12, 6, 17, 0, tzinfo=datetime.UTC),
    )


def test_an_organizer_in_new_york_sees_and_types_the_berlin_events_times_in_berlin_time(
    new_page, log_in, make_user, berlin_event, screenshot
):
    page = new_page(timezone_id="America/New_York")
    log_in(page, make_user("superuser"), f"/admin/attendees/event/{berlin_event.pk}/change/")

    expect(page.get_by_label("Time zone")).to_have_value("Europe/Berlin")
    expect(page.locator("#id_starts_at_0")).to_have_value("2026-12-06")
    expect(page.locator("#id_starts_at_1")).to_have_value("09:00:00")
    expect(page.locator(".field-starts_at")).to_contain_text("Local time in Europe/Berlin, the event's time zone.")
    # The admin's note comparing the computer's clock with the server's is not shown.
    expect(page.locator(".timezonewarning").first).to_be_hidden()
    screenshot(page, "event page in Berlin time on a computer in New York")

    page.locator("#id_ends_at_1").fill("18:30:00")
    page.get_by_role("button", name="Save", exact=True).click()

    expect(page.locator(".field-ends").first).to_have_text("2026-12-06 18:30:00 CET")
    expect(page.locator(".field-starts").first).to_have_text("2026-12-06 09:00:00 CET")
    screenshot(page, "event list in Berlin time")
    berlin_event.refresh_from_db()
    assert berlin_event.ends_at == datetime.datetime(2026, 12, 6, 18, 30, tzinfo=BERLIN)
