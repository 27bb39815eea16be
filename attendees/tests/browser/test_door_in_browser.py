"""The door page on a phone-sized screen (390 x 844), in a real browser: signing in,
finding people by name, the keyboard, the remembered settings, two phones at once."""

import re
from urllib.parse import urlsplit

import pytest
from django.db import connection

from attendees.models import Area, Record, Visit

from .conftest import PASSWORD, PHONE, PLAYWRIGHT_MISSING

expect = pytest.importorskip("playwright.sync_api", reason=PLAYWRIGHT_MISSING).expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sign_in_at_the_door(page, user, next_url: str = "/door/") -> None:
    """Sign in on the door's own login page, as door staff would."""
    page.goto(f"/door/login/?next={next_url}")
    page.get_by_label("Username").fill(user.get_username())
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: urlsplit(url).path == urlsplit(next_url).path)


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


def expect_result(page, kind: str, title: str, name: str = "") -> None:
    expect(page.locator("#door-result")).to_have_class(re.compile(rf"\bresult-{kind}\b"))
    expect(page.locator("#door-result .result-title")).to_have_text(title)
    if name:
        expect(page.locator("#door-result .result-name")).to_have_text(name)


def results(page):
    return page.locator("#door-results > li")


def result_of(page, name: str):
    return results(page).filter(has_text=name)


def fits_the_screen(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def focused(page, attribute: str):
    return page.evaluate(f"document.activeElement && document.activeElement.{attribute}")


def test_door_staff_without_admin_access_go_from_the_home_page_through_the_door_login_to_the_door(
    phone_page, make_user, crowd, screenshot
):
    page = phone_page
    make_user("door_staff", is_staff=False)
    page.goto("/")
    expect(page.get_by_role("link", name=re.compile("^Admin"))).to_have_attribute("href", "/admin/")
    expect(page.get_by_role("link", name=re.compile("^API documentation"))).to_have_attribute("href", "/api/docs/")
    expect(page.get_by_text("python manage.py runserver 0.0.0.0:8000")).to_be_visible()
    assert fits_the_screen(page)
    screenshot(page, "home page")

    page.get_by_role("link", name=re.compile("^Door")).click()

    page.wait_for_url(re.compile(r"/door/login/\?next=/door/$"))
    expect(page.get_by_role("heading", name="Door")).to_be_visible()
    assert focused(page, "id") == "id_username"
    page.get_by_label("Username").fill("door_staff")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("Please enter a correct username and password.")
    assert fits_the_screen(page)
    screenshot(page, "login page with a wrong password")

    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    page.wait_for_url(lambda url: urlsplit(url).path == "/door/")
    expect(page.locator("#door-result .result-title")).to_have_text("Ready")
    expect(page.get_by_text("Signed in as door_staff")).to_be_visible()
    screenshot(page, "door page after signing in")

    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(lambda url: urlsplit(url).path == "/door/login/")
    screenshot(page, "login page after logging out")


def test_home_and_door_pages_on_a_computer_screen(new_page, make_user, crowd, event, screenshot):
    page = new_page()
    page.goto("/")
    expect(page.get_by_role("heading", name="Event check-in")).to_be_visible()
    screenshot(page, "home page on a computer")

    sign_in_at_the_door(page, make_user("door_staff"), f"/door/?event={event.pk}")
    page.get_by_label("Scan a ticket or type a name").fill("lovelace")
    page.get_by_role("button", name="Check in Ada Lovelace").click()

    expect_result(page, "checked-in", "Checked in", "Ada Lovelace")
    assert page.evaluate("document.documentElement.scrollHeight") <= page.viewport_size["height"]
    screenshot(page, "door page on a computer")


def test_door_staff_search_a_name_and_tap_check_in_on_a_phone_and_the_counts_follow(
    phone_page, make_user, crowd, event, screenshot
):
    page = phone_page
    sign_in_at_the_door(page, make_user("door_staff"))
    expect(page.locator("#door-result .result-detail")).to_have_text("Scan a ticket, or type a name.")
    assert focused(page, "id") == "door-event"
    screenshot(page, "door page before choosing an event")

    page.get_by_label("Event").select_option(label="PyCon")
    expect_counts(page, inside=1, left=1, not_arrived=2)
    expect(page).to_have_url(re.compile(rf"/door/\?event={event.pk}$"))
    assert fits_the_screen(page)
    screenshot(page, "event chosen ready to scan")

    page.get_by_label("Scan a ticket or type a name").press_sequentially("lov", delay=50)
    expect(results(page)).to_have_count(1)
    ada = result_of(page, "Ada Lovelace")
    expect(ada.locator(".state")).to_have_text("Not arrived")
    expect(page.locator("#door-summary")).to_have_text("1 attendee matches “lov”.")
    button = ada.get_by_role("button", name="Check in Ada Lovelace")
    box = button.bounding_box()
    assert box["height"] >= 44
    screenshot(page, "typed part of a name")

    button.click()

    expect_result(page, "checked-in", "Checked in", "Ada Lovelace")
    expect(page.locator("#door-result .result-detail")).to_have_text(re.compile(r"^\d\d:\d\d UTC$"))
    expect(ada.locator(".state")).to_have_text("Inside")
    expect_counts(page, inside=2, left=1, not_arrived=1)
    assert focused(page, "id") == "door-query"
    assert fits_the_screen(page)
    screenshot(page, "checked in by tapping the name")
    assert Visit.objects.get(attendee=crowd["ada"]).checked_out_at is None

    page.get_by_label("Scan a ticket or type a name").fill("edsger@")
    expect(results(page)).to_have_count(1)
    expect(result_of(page, "Edsger Dijkstra").locator(".state")).to_have_text("Left")
    expect(result_of(page, "Edsger Dijkstra").get_by_role("button")).to_have_text("Check in")
    page.get_by_label("Scan a ticket or type a name").fill("nobody")
    expect(page.locator("#door-summary")).to_have_text("No attendee matches “nobody”.")
    expect(results(page)).to_have_count(0)


def test_the_rows_button_follows_the_mode(phone_page, make_user, crowd, event):
    page = phone_page
    sign_in_at_the_door(page, make_user("door_staff"), f"/door/?event={event.pk}")
    page.get_by_label("Scan a ticket or type a name").fill("example.org")
    expect(results(page)).to_have_count(4)
    for mode, alan, ada in [
        ("Entrance", "Check in", "Check in"),
        ("Exit", "Check out", "Check out"),
        ("Auto", "Check out", "Check in"),
    ]:
        page.get_by_role("button", name=mode, exact=True).click()
        assert focused(page, "id") == "door-query"
        expect(result_of(page, "Alan Turing").get_by_role("button")).to_have_text(alan)
        expect(result_of(page, "Ada Lovelace").get_by_role("button")).to_have_text(ada)


def test_door_page_works_with_the_keyboard_alone(phone_page, make_user, crowd, event, screenshot):
    page = phone_page
    door_staff = make_user("door_staff")
    page.goto("/door/")
    # The door's login form, by keyboard: its username field has the focus.
    page.wait_for_url(lambda url: urlsplit(url).path == "/door/login/")
    # Typing starts once the page has put the focus there, however slowly it loads.
    expect(page.locator("#id_username")).to_be_focused()
    page.keyboard.type(door_staff.get_username())
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: urlsplit(url).path == "/door/")

    assert focused(page, "id") == "door-event"
    page.keyboard.press("ArrowDown")
    expect(page.get_by_label("Event")).to_have_value(str(event.pk))
    expect_counts(page, inside=1, left=1, not_arrived=2)
    page.keyboard.press("Tab")
    assert focused(page, "id") == "door-station"
    page.keyboard.type("North door")
    page.keyboard.press("Tab")
    assert focused(page, "textContent") == "Entrance"
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert focused(page, "id") == "door-query"
    page.keyboard.type("ada")
    page.keyboard.press("Enter")

    expect_result(page, "checked-in", "Checked in", "Ada Lovelace")
    expect(page.locator("#door-result .result-detail")).to_have_text(re.compile(r"^\d\d:\d\d UTC, North door$"))
    assert focused(page, "id") == "door-query"
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") == "solid"
    expect_counts(page, inside=2, left=1, not_arrived=1)
    screenshot(page, "checked in by name and enter")

    # To the Exit mode and back to the input by keyboard: the mode buttons sit just before it.
    # (Past the two seconds in which the same attendee again only repeats the success.)
    page.wait_for_timeout(2100)
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Shift+Tab")
    assert focused(page, "textContent") == "Exit"
    page.keyboard.press("Space")
    assert focused(page, "id") == "door-query"
    expect(page.get_by_role("button", name="Exit", exact=True)).to_have_attribute("aria-pressed", "true")
    page.keyboard.type("ada")
    page.keyboard.press("Enter")

    expect_result(page, "checked-out", "Checked out", "Ada Lovelace")
    expect_counts(page, inside=1, left=2, not_arrived=1)
    screenshot(page, "checked out by name and enter in exit mode")
    visit = Visit.objects.get(attendee=crowd["ada"])
    assert visit.checked_out_at is not None
    assert [(record.type, record.station) for record in Record.objects.filter(visit=visit).order_by("at")] == [
        ("check_in", "North door"),
        ("check_out", "North door"),
    ]


def test_mode_station_and_event_are_remembered_on_the_device(phone_page, make_user, crowd, other_event):
    page = phone_page
    sign_in_at_the_door(page, make_user("door_staff"))
    page.get_by_label("Event").select_option(label="DjangoCon")
    page.get_by_label("Station").fill("South gate")
    page.get_by_label("Station").press("Tab")
    page.get_by_role("button", name="Exit", exact=True).click()
    expect_counts(page, inside=1, left=0, not_arrived=0)

    page.goto("/door/")

    expect(page.get_by_label("Event")).to_have_value(str(other_event.pk))
    expect(page.get_by_label("Station")).to_have_value("South gate")
    expect(page.get_by_role("button", name="Exit", exact=True)).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_role("button", name="Entrance", exact=True)).to_have_attribute("aria-pressed", "false")
    expect_counts(page, inside=1, left=0, not_arrived=0)
    expect(page).to_have_url(re.compile(rf"/door/\?event={other_event.pk}$"))
    assert focused(page, "id") == "door-query"


def test_the_area_is_remembered_with_the_event_and_offered_only_for_events_with_areas(
    phone_page, make_user, crowd, event, other_event
):
    Area.objects.create(event=event, name="Workshop", capacity=10)
    hall = Area.objects.create(event=event, name="Hall")
    page = phone_page
    sign_in_at_the_door(page, make_user("door_staff"), f"/door/?event={other_event.pk}")
    expect(page.get_by_label("Area")).to_be_hidden()

    page.get_by_label("Event").select_option(label="PyCon")
    expect(page.get_by_label("Area").locator("option")).to_have_text(["Whole event", "Hall", "Workshop"])
    page.get_by_label("Area").select_option(label="Hall")
    expect(page.locator("#door-place")).to_have_text("Hall0 inside")

    page.goto("/door/")

    expect(page.get_by_label("Event")).to_have_value(str(event.pk))
    expect(page.get_by_label("Area")).to_have_value(str(hall.pk))
    expect(page.locator("#door-place")).to_have_text("Hall0 inside")
    assert focused(page, "id") == "door-query"


def test_focus_stays_in_the_station_field_while_a_result_comes_in(phone_page, make_user, crowd, event):
    page = phone_page
    sign_in_at_the_door(page, make_user("door_staff"), f"/door/?event={event.pk}")
    page.get_by_label("Scan a ticket or type a name").fill("grace")
    expect(results(page)).to_have_count(1)
    page.get_by_label("Station").focus()
    page.evaluate("document.querySelector('#door-results button').click()")

    expect_result(page, "checked-in", "Checked in", "Grace Hopper")
    assert focused(page, "id") == "door-station"


def test_two_phones_checking_out_the_same_attendee_at_once_one_succeeds_the_other_is_told(
    new_page, make_user, make_attendee, event, screenshot
):
    ada = make_attendee("inside", first_name="Ada", last_name="Lovelace", email="ada@example.org")
    make_attendee("never")
    phones = []
    for username in ("north_door", "south_door"):
        page = new_page(PHONE, is_mobile=True, has_touch=True)
        sign_in_at_the_door(page, make_user("door_staff", username=username), f"/door/?event={event.pk}")
        page.get_by_role("button", name="Exit", exact=True).click()
        page.get_by_label("Scan a ticket or type a name").fill("ada")
        expect(page.locator("#door-summary")).to_have_text("1 attendee matches “ada”.")
        expect(result_of(page, "Ada Lovelace").get_by_role("button")).to_have_accessible_name("Check out Ada Lovelace")
        phones.append(page)

    if connection.vendor == "sqlite":
        # The in-memory SQLite test database is one connection shared by the live server's
        # threads, where two writes at the same instant fail with "table is locked" (a
        # database file queues them instead). Tap one after the other: the second phone
        # still shows the stale state.
        for page in phones:
            result_of(page, "Ada Lovelace").get_by_role("button").click()
            expect(page.locator("#door-result")).not_to_have_class(re.compile(r"\bresult-idle\b"))
    else:
        # Tap both before either answer has come back: both requests are in flight together.
        for page in phones:
            result_of(page, "Ada Lovelace").get_by_role("button").dispatch_event("click")

    outcomes = []
    for page in phones:
        expect(page.locator("#door-result")).not_to_have_class(re.compile(r"\bresult-idle\b"))
        expect(result_of(page, "Ada Lovelace").locator(".state")).to_have_text("Left")
        expect_counts(page, inside=0, left=1, not_arrived=1)
        outcomes.append(
            (page.locator("#door-result .result-title").inner_text(), page.locator("#door-result").inner_text())
        )
    for number, page in enumerate(phones, start=1):
        screenshot(page, f"phone {number} after both tapped check out")

    assert sorted(title for title, _ in outcomes) == ["Checked out", "Refused"], outcomes
    refused = next(text for title, text in outcomes if title == "Refused")
    assert "Ada Lovelace" in refused
    assert "The attendee has already checked out." in refused
    assert Visit.objects.filter(attendee=ada).count() == 1
    assert Visit.objects.get(attendee=ada).checked_out_at is not None
