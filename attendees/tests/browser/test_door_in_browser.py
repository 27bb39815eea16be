"""The door page on a phone-sized screen (390 x 844), in a real browser."""

import re
from urllib.parse import urlsplit

import pytest
from django.db import connection

from attendees.models import Record, Visit

from .conftest import PASSWORD, PHONE, PLAYWRIGHT_MISSING

expect = pytest.importorskip("playwright.sync_api", reason=PLAYWRIGHT_MISSING).expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def crowd(make_attendee, event, other_event) -> dict:
    """PyCon attendees in every state, and one of DjangoCon."""
    return {
        "ada": make_attendee("never", first_name="Ada", last_name="Lovelace", email="ada@example.org"),
        "alan": make_attendee("inside", first_name="Alan", last_name="Turing", email="alan@example.org"),
        "grace": make_attendee("never", first_name="Grace", last_name="Hopper", email="grace@example.org"),
        "edsger": make_attendee("left", first_name="Edsger", last_name="Dijkstra", email="edsger@example.org"),
        "guido": make_attendee(
            "inside", event=other_event, first_name="Guido", last_name="Rossum", email="guido@example.org"
        ),
    }


def expect_counts(page, inside: int, left: int, not_arrived: int) -> None:
    expect(page.locator("#count-inside")).to_have_text(str(inside))
    expect(page.locator("#count-left")).to_have_text(str(left))
    expect(page.locator("#count-not-arrived")).to_have_text(str(not_arrived))


def results(page):
    return page.locator("#door-results > li")


def result_of(page, name: str):
    return results(page).filter(has_text=name)


def fits_the_screen(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_door_staff_search_and_check_in_on_a_phone_and_the_counts_follow(
    phone_page, log_in, make_user, crowd, event, screenshot
):
    page = phone_page
    log_in(page, make_user("door_staff", is_staff=True), "/door/")
    expect(page.locator("#door-summary")).to_have_text("Choose an event to see its attendees.")
    screenshot(page, "door page before choosing an event")

    page.get_by_label("Event").select_option(label="PyCon")
    expect(results(page)).to_have_count(4)
    expect_counts(page, inside=1, left=1, not_arrived=2)
    expect(page).to_have_url(re.compile(rf"/door/\?event={event.pk}$"))
    assert fits_the_screen(page)
    screenshot(page, "event chosen every attendee with state and counts")

    page.get_by_label("Name or email").press_sequentially("lov", delay=50)
    expect(results(page)).to_have_count(1)
    ada = result_of(page, "Ada Lovelace")
    expect(ada.locator(".state")).to_have_text("Not arrived")
    expect(page.locator("#door-summary")).to_have_text("1 attendee matches “lov”.")
    button = ada.get_by_role("button", name="Check in Ada Lovelace")
    box = button.bounding_box()
    assert box["height"] >= 48
    assert box["width"] >= PHONE["width"] * 0.8
    screenshot(page, "typed part of a name")

    button.click()

    expect(page.locator("#door-message")).to_have_text(re.compile(r"^Checked in: Ada Lovelace at \d\d:\d\d"))
    expect(ada.locator(".state")).to_have_text("Inside")
    expect(ada.get_by_role("button")).to_have_accessible_name("Check out Ada Lovelace")
    expect_counts(page, inside=2, left=1, not_arrived=1)
    assert fits_the_screen(page)
    screenshot(page, "checked in and counts updated")
    assert Visit.objects.get(attendee=crowd["ada"]).checked_out_at is None

    page.get_by_label("Name or email").fill("edsger@")
    expect(results(page)).to_have_count(1)
    expect(result_of(page, "Edsger Dijkstra").locator(".state")).to_have_text("Left")
    expect(result_of(page, "Edsger Dijkstra").get_by_role("button")).to_have_text("Check in")
    page.get_by_label("Name or email").fill("nobody")
    expect(page.locator("#door-summary")).to_have_text("No attendee matches “nobody”.")
    expect(results(page)).to_have_count(0)


def test_door_page_works_with_the_keyboard_alone(phone_page, make_user, crowd, event, screenshot):
    page = phone_page
    door_staff = make_user("door_staff", is_staff=True)
    page.goto("/door/")
    # The admin login form, by keyboard: its username field has the focus.
    page.keyboard.type(door_staff.get_username())
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: urlsplit(url).path == "/door/")

    assert focused(page, "id") == "door-event"
    page.keyboard.press("Shift+Tab")
    assert focused(page, "id") == "door-station"
    page.keyboard.type("North door")
    page.keyboard.press("Tab")
    assert focused(page, "id") == "door-event"
    page.keyboard.press("ArrowDown")
    expect(page.get_by_label("Event")).to_have_value(str(event.pk))
    expect_counts(page, inside=1, left=1, not_arrived=2)
    page.keyboard.press("Tab")
    assert focused(page, "id") == "door-query"
    page.keyboard.type("ada")
    page.keyboard.press("Enter")
    expect(results(page)).to_have_count(1)
    page.keyboard.press("Tab")
    assert focused(page, "ariaLabel") == "Check in Ada Lovelace"
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") == "solid"
    screenshot(page, "check in button focused by keyboard")

    page.keyboard.press("Enter")

    expect(page.locator("#door-message")).to_have_text(re.compile(r"^Checked in: Ada Lovelace"))
    expect(result_of(page, "Ada Lovelace").get_by_role("button")).to_have_text("Check out")
    assert focused(page, "ariaLabel") == "Check out Ada Lovelace"
    expect_counts(page, inside=2, left=1, not_arrived=1)

    page.keyboard.press("Space")

    expect(page.locator("#door-message")).to_have_text(re.compile(r"^Checked out: Ada Lovelace"))
    expect(result_of(page, "Ada Lovelace").locator(".state")).to_have_text("Left")
    assert focused(page, "ariaLabel") == "Check in Ada Lovelace"
    expect_counts(page, inside=1, left=2, not_arrived=1)
    screenshot(page, "checked in and out by keyboard")
    visit = Visit.objects.get(attendee=crowd["ada"])
    assert visit.checked_out_at is not None
    assert [(record.type, record.station) for record in Record.objects.filter(visit=visit).order_by("at")] == [
        ("check_in", "North door"),
        ("check_out", "North door"),
    ]


def test_two_phones_checking_out_the_same_attendee_at_once_one_succeeds_the_other_is_told(
    new_page, log_in, make_user, make_attendee, event, screenshot
):
    ada = make_attendee("inside", first_name="Ada", last_name="Lovelace", email="ada@example.org")
    make_attendee("never")
    phones = []
    for username in ("north_door", "south_door"):
        page = new_page(PHONE, is_mobile=True, has_touch=True)
        log_in(page, make_user("door_staff", username=username, is_staff=True), f"/door/?event={event.pk}")
        page.get_by_label("Name or email").fill("ada")
        expect(page.locator("#door-summary")).to_have_text("1 attendee matches “ada”.")
        expect(result_of(page, "Ada Lovelace").get_by_role("button")).to_have_accessible_name("Check out Ada Lovelace")
        phones.append(page)

    if connection.vendor == "sqlite":
        # The in-memory SQLite test database is one connection shared by the live server's
        # threads, where two writes at the same instant fail with "table is locked" (a
        # database file queues them instead). Tap one after the other: the second phone
        # still shows the stale "Check out".
        for page in phones:
            result_of(page, "Ada Lovelace").get_by_role("button").click()
            expect_counts(page, inside=0, left=1, not_arrived=1)
    else:
        # Tap both before either answer has come back: both requests are in flight together.
        for page in phones:
            result_of(page, "Ada Lovelace").get_by_role("button").dispatch_event("click")

    messages = []
    for page in phones:
        message = page.locator("#door-message")
        expect(message).not_to_be_empty()
        expect(result_of(page, "Ada Lovelace").locator(".state")).to_have_text("Left")
        expect(result_of(page, "Ada Lovelace").get_by_role("button")).to_have_text("Check in")
        expect_counts(page, inside=0, left=1, not_arrived=1)
        messages.append(message.inner_text())
    for number, page in enumerate(phones, start=1):
        screenshot(page, f"phone {number} after both tapped check out")

    succeeded = [text for text in messages if text.startswith("Checked out: Ada Lovelace")]
    refused = [text for text in messages if text == "Already checked out. Ada Lovelace has left; nothing was changed."]
    assert (len(succeeded), len(refused)) == (1, 1), messages
    assert Visit.objects.filter(attendee=ada).count() == 1
    assert Visit.objects.get(attendee=ada).checked_out_at is not None


def focused(page, attribute: str):
    return page.evaluate(f"document.activeElement && document.activeElement.{attribute}")
