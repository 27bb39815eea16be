"""The Django admin as organizers and door staff use it, in a real browser."""

import re
from datetime import timedelta
from unittest import mock

import pytest
from django.urls import reverse
from django.utils import timezone

from attendees import selectors, services
from attendees.models import Area, Attendee, Event, Visit

from .conftest import PLAYWRIGHT_MISSING

expect = pytest.importorskip("playwright.sync_api", reason=PLAYWRIGHT_MISSING).expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHANGELIST = "/admin/attendees/attendee/"
EVENTS = "/admin/attendees/event/"


@pytest.fixture
def crowd(make_attendee, event, other_event) -> dict[str, Attendee]:
    """PyCon attendees in every state, and one of DjangoCon inside."""
    return {
        "ada": make_attendee("inside", first_name="Ada", last_name="Lovelace", email="ada@example.org"),
        "alan": make_attendee("inside", first_name="Alan", last_name="Turing", email="alan@example.org"),
        "grace": make_attendee("never", first_name="Grace", last_name="Hopper", email="grace@example.org"),
        "edsger": make_attendee("left", first_name="Edsger", last_name="Dijkstra", email="edsger@example.org"),
        "guido": make_attendee(
            "inside", event=other_event, first_name="Guido", last_name="Rossum", email="guido@example.org"
        ),
    }


def row(page, attendee: Attendee):
    return page.locator("#result_list tbody tr", has_text=attendee.email)


def state_in_list(page, attendee: Attendee):
    return row(page, attendee).locator("td.field-state")


def filter_by(page, title: str, choice: str) -> None:
    page.locator("#changelist-filter details", has_text=title).get_by_role("link", name=choice, exact=True).click()


def run_action(page, attendees: list[Attendee], action: str) -> None:
    for attendee in attendees:
        row(page, attendee).locator("input.action-select").check()
    page.get_by_label("Action:").select_option(label=action)
    page.get_by_role("button", name="Go").click()


def test_door_staff_check_out_a_mix_of_attendees_from_the_filtered_list(
    page, log_in, make_user, crowd, event, screenshot
):
    log_in(page, make_user("door_staff", is_staff=True), CHANGELIST)
    screenshot(page, "attendee list with every event")

    filter_by(page, "By event", "PyCon")
    expect(row(page, crowd["ada"])).to_be_visible()
    expect(row(page, crowd["guido"])).to_have_count(0)
    filter_by(page, "By state", "Inside")
    expect(page.locator("#result_list tbody tr")).to_have_count(2)
    expect(row(page, crowd["grace"])).to_have_count(0)
    screenshot(page, "filtered by event and state inside")

    filter_by(page, "By state", "All")
    expect(page.locator("#result_list tbody tr")).to_have_count(4)
    run_action(page, [crowd["ada"], crowd["alan"], crowd["grace"], crowd["edsger"]], "Check out selected attendees")

    expect(page.locator(".messagelist li")).to_have_text("Checked out 2 attendees; skipped 2 who were not inside.")
    expect(page).to_have_url(re.compile(rf"event__id__exact={event.pk}"))
    for name in ("ada", "alan", "edsger"):
        expect(state_in_list(page, crowd[name])).to_have_text("Left")
    expect(state_in_list(page, crowd["grace"])).to_have_text("Never checked in")
    screenshot(page, "after check out selected")
    assert selectors.count_inside(Attendee.objects.filter(event=event)) == 0
    assert selectors.count_inside(Attendee.objects.filter(pk=crowd["guido"].pk)) == 1


def test_door_staff_check_in_a_mix_of_attendees_from_the_list(page, log_in, make_user, crowd, event, screenshot):
    log_in(page, make_user("door_staff", is_staff=True), f"{CHANGELIST}?event__id__exact={event.pk}")

    run_action(page, [crowd["ada"], crowd["grace"], crowd["edsger"]], "Check in selected attendees")

    expect(page.locator(".messagelist li")).to_have_text("Checked in 2 attendees; skipped 1 who was already inside.")
    for name in ("ada", "grace", "edsger", "alan"):
        expect(state_in_list(page, crowd[name])).to_have_text("Inside")
    expect(row(page, crowd["grace"]).locator("td.field-last_checked_in_at")).not_to_have_text("-")
    screenshot(page, "after check in selected")
    assert Visit.objects.filter(attendee=crowd["ada"]).count() == 1
    assert Visit.objects.filter(attendee=crowd["edsger"]).count() == 2


def test_viewer_sees_the_list_without_the_check_in_and_out_actions(page, log_in, make_user, crowd, screenshot):
    log_in(page, make_user("viewer", is_staff=True), CHANGELIST)

    expect(row(page, crowd["ada"])).to_be_visible()
    expect(page.locator("select[name=action]")).to_have_count(0)
    expect(page.locator("input.action-select")).to_have_count(0)
    expect(page.get_by_text("Check out selected attendees")).to_have_count(0)
    screenshot(page, "viewer list without actions")


def test_change_page_shows_the_times_and_offers_no_way_to_edit_or_delete_them(
    page, log_in, make_user, make_attendee, screenshot
):
    ada = make_attendee("left", first_name="Ada", last_name="Lovelace", email="ada@example.org")
    services.check_in(attendee=ada, by=None)
    ada = selectors.attendees_with_times(Attendee.objects.filter(pk=ada.pk)).get()
    # In the event's zone (here UTC), to the second, the zone named.
    checkins = [f"{at:%Y-%m-%d %H:%M:%S} UTC" for at in selectors.checkin_times(ada)]
    checkouts = [f"{at:%Y-%m-%d %H:%M:%S} UTC" for at in selectors.checkout_times(ada)]
    log_in(page, make_user("superuser"), f"/admin/attendees/attendee/{ada.pk}/change/")

    expect(page.locator(".field-checkin_times .readonly div")).to_have_text(checkins)
    expect(page.locator(".field-checkout_times .readonly div")).to_have_text(checkouts)
    expect(page.locator(".field-state .readonly")).to_have_text("Inside")
    form = page.locator("#attendee_form")
    expect(form.locator("[name*=checkin], [name*=checkout], [name*=visit], [name*=state]")).to_have_count(0)
    expect(form.locator(".inline-group")).to_have_count(0)
    screenshot(page, "change page with read-only times")

    page.get_by_role("link", name="Delete").click()
    expect(page.get_by_role("heading", name="Cannot delete attendee")).to_be_visible()
    expect(page.locator("#content")).to_contain_text("visit")
    expect(page.get_by_role("button", name=re.compile("Yes"))).to_have_count(0)
    screenshot(page, "deleting the attendee is refused because of the history")

    page.goto(f"/admin/attendees/visit/?q={ada.email}")
    expect(page.locator("#result_list tbody tr")).to_have_count(2)
    expect(page.get_by_role("link", name=re.compile("Add visit", re.IGNORECASE))).to_have_count(0)
    expect(page.locator("select[name=action]")).to_have_count(0)
    page.locator("#result_list tbody tr th a").first.click()
    expect(page.locator("#content h1")).to_have_text("View visit")
    expect(page.locator("input[type=submit], button[type=submit]").filter(has_text="Save")).to_have_count(0)
    expect(page.locator("[name=_save]")).to_have_count(0)
    expect(page.get_by_role("link", name="Delete")).to_have_count(0)
    screenshot(page, "visit history is view only")


# Areas and capacity


def test_organizer_adds_an_area_inline_and_is_told_why_one_with_history_cannot_be_deleted(
    page, log_in, make_user, event, make_attendee, screenshot
):
    hall = Area.objects.create(event=event, name="Main hall", capacity=100)
    services.check_in(attendee=make_attendee(), by=None, area=hall)
    log_in(page, make_user("superuser"), f"{EVENTS}{event.pk}/change/")

    areas = page.locator(".inline-group", has_text="Areas")
    expect(areas.locator("tr.has_original td.field-inside")).to_have_text("1")
    page.get_by_label("Capacity:").fill("250")
    areas.get_by_role("button", name=re.compile("Add another Area", re.IGNORECASE)).click()
    areas.locator("input[name='areas-1-name']").fill("Workshop")
    areas.locator("input[name='areas-1-capacity']").fill("20")
    screenshot(page, "adding an area inline")
    page.get_by_role("button", name="Save and continue editing").click()

    expect(page.locator(".messagelist li.success")).to_be_visible()
    assert sorted(event.areas.values_list("name", "capacity")) == [("Main hall", 100), ("Workshop", 20)]
    assert Event.objects.get(pk=event.pk).capacity == 250

    areas.locator("tr.has_original", has_text="Main hall").locator("input[name$='-DELETE']").check()
    page.get_by_role("button", name="Save and continue editing").click()

    expect(page.locator(".errornote")).to_be_visible()
    expect(areas.locator(".errorlist.nonform")).to_have_text(
        "The area “Main hall” cannot be deleted: people have been in it, and attendance history is kept forever."
    )
    screenshot(page, "deleting an area with history is refused")
    assert event.areas.filter(name="Main hall").exists()


def test_door_staff_find_forgotten_exits_and_see_where_everyone_is(
    page, log_in, make_user, event, make_attendee, screenshot
):
    hall = Area.objects.create(event=event, name="Main hall")
    now = timezone.now()
    stays = {
        "Ada": (now - timedelta(hours=5), hall),
        "Alan": (now - timedelta(hours=3), None),
        "Grace": (now - timedelta(minutes=20), hall),
    }
    people = {}
    for name, (came, area) in stays.items():
        people[name] = make_attendee(first_name=name, email=f"{name.lower()}@example.org")
        with mock.patch("django.utils.timezone.now", return_value=came):
            services.check_in(attendee=people[name], by=None, area=area)
    log_in(page, make_user("door_staff", is_staff=True), CHANGELIST)

    expect(row(page, people["Ada"]).locator("td.field-current_area")).to_have_text("Main hall")
    expect(row(page, people["Alan"]).locator("td.field-current_area")).to_have_text("-")
    filter_by(page, "By inside longer than", "2 hours")
    expect(page.locator("#result_list tbody tr")).to_have_count(2)
    expect(row(page, people["Grace"])).to_have_count(0)
    screenshot(page, "inside longer than 2 hours")
    filter_by(page, "By inside longer than", "4 hours")
    expect(page.locator("#result_list tbody tr")).to_have_count(1)
    expect(row(page, people["Ada"])).to_be_visible()


def test_event_list_shows_counts_and_leads_to_the_door_page_of_an_event(
    page, log_in, make_user, event, other_event, make_attendee, screenshot
):
    event.capacity = 50
    event.save()
    for state in ("inside", "inside", "left", "never"):
        make_attendee(state)
    log_in(page, make_user("superuser"), EVENTS)

    event_row = page.locator("#result_list tbody tr", has_text="PyCon")
    expect(event_row.locator("td.field-registered")).to_have_text("4")
    expect(event_row.locator("td.field-inside")).to_have_text("2")
    expect(event_row.locator("td.field-capacity")).to_have_text("50")
    screenshot(page, "event list with counts and door links")
    event_row.get_by_role("link", name="Open the door page").click()

    page.wait_for_url(re.compile(rf"{re.escape(reverse('attendees:door'))}\?event={event.pk}$"))
    expect(page.locator("#door-event")).to_have_value(str(event.pk))
