"""The admin attendee page's history and corrections, the CSV import, and the attendee
list on a laptop's screen, in a real browser."""

import datetime
import re
from unittest import mock

import pytest
from django.contrib.auth.models import Permission

from attendees import services
from attendees.models import Area, Attendee, Event, Record

from .conftest import PLAYWRIGHT_MISSING

expect = pytest.importorskip("playwright.sync_api", reason=PLAYWRIGHT_MISSING).expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHANGELIST = "/admin/attendees/attendee/"
LAPTOP = {"width": 1280, "height": 800}
UTC = datetime.UTC
# In the past of the real clock; Berlin is on CET (UTC+1) then.
NINE_CET = datetime.datetime(2026, 11, 20, 8, 0, 5, tzinfo=UTC)


def clock_at(moment: datetime.datetime):
    return mock.patch("django.utils.timezone.now", return_value=moment)


def at_cet(hours: float) -> datetime.datetime:
    return NINE_CET + datetime.timedelta(hours=hours - 9)


@pytest.fixture
def berlin(db) -> Event:
    return Event.objects.create(name="PyCon DE", timezone="Europe/Berlin")


@pytest.fixture
def corrector(make_user):
    user = make_user("viewer", username="carla", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="attendees", codename__in=["correct_attendance"])
    )
    return user


@pytest.fixture
def ada(make_attendee, make_user, berlin) -> Attendee:
    """In at nine at the North door, out at ten, back at noon into the full main hall (let in
    over capacity): inside since."""
    dora = make_user("door_staff", username="dora", is_staff=True)
    hall = Area.objects.create(event=berlin, name="Main hall", capacity=0)
    ada = make_attendee(event=berlin, first_name="Ada", last_name="Lovelace", email="ada@example.org")
    with clock_at(at_cet(9)):
        services.check_in(attendee=ada, by=dora, station="North door")
    with clock_at(at_cet(10)):
        services.check_out(attendee=ada, by=dora, station="North door", source=Record.Source.SCAN)
    with clock_at(at_cet(12)):
        services.check_in(
            attendee=ada, by=dora, station="South door", source=Record.Source.SCAN, area=hall, override_capacity=True
        )
    return ada


def history_row(page, text: str):
    return page.locator("#attendance-history tbody tr", has_text=text)


def message(page, level: str):
    return page.locator(f".messagelist li.{level}")


def test_organizer_adds_a_missed_check_out_is_refused_a_second_one_and_voids_the_first(
    new_page, log_in, corrector, ada, screenshot
):
    page = new_page(LAPTOP)
    log_in(page, corrector, f"{CHANGELIST}{ada.pk}/change/")

    history = page.locator("#attendance-history")
    expect(history.locator("tbody tr")).to_have_count(4)
    expect(history_row(page, "North door").first).to_contain_text("2026-11-20 09:00:05 CET")
    expect(history_row(page, "Main hall")).to_contain_text("Admitted over capacity")
    expect(history_row(page, "Main hall")).to_contain_text("dora")
    expect(page.locator(".field-state .readonly")).to_have_text("Inside")
    history.scroll_into_view_if_needed()
    screenshot(page, "attendee page with history and correction forms")
    # A second organizer's page, opened while the attendee is still inside.
    stale = page.context.new_page()
    stale.goto(f"{CHANGELIST}{ada.pk}/change/")

    form = page.locator("#missed-check-out-form")
    form.get_by_label("Left at").fill("2026-11-20T17:30:05")
    form.get_by_label("Reason").fill("left by the side exit")
    form.get_by_role("button", name="Add the check-out").click()

    expect(message(page, "success")).to_have_text("Added the missed check-out at 2026-11-20 17:30:05 CET.")
    expect(page.locator(".field-state .readonly")).to_have_text("Left")
    correction = history_row(page, "left by the side exit")
    expect(correction).to_have_count(2)  # the event's check-out and the main hall's
    expect(correction.first).to_contain_text("2026-11-20 17:30:05 CET")
    expect(correction.first).to_contain_text("carla")
    # Only an attendee inside can miss a check-out.
    expect(form).to_have_count(0)
    screenshot(page, "missed check-out added")

    stale_form = stale.locator("#missed-check-out-form")
    stale_form.get_by_label("Left at").fill("2026-11-20T18:00:00")
    stale_form.get_by_label("Reason").fill("again")
    stale_form.get_by_role("button", name="Add the check-out").click()

    expect(message(stale, "error")).to_have_text("The attendee has already checked out.")
    expect(history_row(stale, "again")).to_have_count(0)
    screenshot(stale, "second check-out refused by the rules")

    added = Record.objects.filter(attendee=ada, source=Record.Source.CORRECTION, area__isnull=True).get()
    void = page.locator("#void-record-form")
    void.get_by_label("Record").select_option(str(added.pk))
    void.get_by_label("Reason").fill("she was still inside")
    void.get_by_role("button", name="Void the record").click()

    expect(message(page, "success")).to_have_text(
        "Voided the check-out at 2026-11-20 17:30:05 CET: the stay it ended is open again."
    )
    expect(page.locator(".field-state .readonly")).to_have_text("Inside")
    voided = page.locator(f"#record-{added.pk}")
    expect(voided).to_have_class(re.compile(r"\bvoided\b"))
    expect(voided).to_contain_text("by carla: she was still inside")
    expect(form).to_have_count(1)
    screenshot(page, "check-out voided and kept in the history")


def test_staff_without_correct_attendance_see_the_history_without_forms(new_page, log_in, make_user, ada, screenshot):
    page = new_page(LAPTOP)
    log_in(page, make_user("door_staff", username="desk", is_staff=True), f"{CHANGELIST}{ada.pk}/change/")

    expect(page.locator("#attendance-history tbody tr")).to_have_count(4)
    expect(page.locator("#void-record-form, #missed-check-out-form")).to_have_count(0)
    page.locator("#attendance-history").scroll_into_view_if_needed()
    screenshot(page, "history without correction forms")


def attendees_csv(event: Event, rows: int, bad_row: int | None = None) -> bytes:
    lines = ["first_name,last_name,email,ticket_code,event"]
    for n in range(1, rows + 1):
        email = "not-an-email" if n == bad_row else f"guest{n}@example.org"
        code = f"BADGE-{n:04}" if n % 3 == 0 else ""
        lines.append(f"Guest{n},Imported{n},{email},{code},{event.name}")
    return ("\n".join(lines) + "\n").encode()


def choose_file(page, name: str, content: bytes) -> None:
    page.get_by_label("File to import").set_input_files({"name": name, "mimeType": "text/csv", "buffer": content})


def test_organizer_imports_attendees_from_csv_after_a_preview(new_page, log_in, make_user, berlin, screenshot):
    page = new_page(LAPTOP)
    log_in(page, make_user("superuser"), CHANGELIST)
    page.get_by_role("link", name="Import").click()
    expect(page.locator(".attendees-import-help")).to_contain_text("the event's id")

    choose_file(page, "broken.csv", attendees_csv(berlin, 10, bad_row=4))
    page.get_by_role("button", name="Submit").click()

    expect(page.get_by_role("heading", name="Nothing can be imported from this file")).to_be_visible()
    bad = page.locator("tr.attendees-import-invalid-row")
    expect(bad).to_have_count(1)
    expect(bad).to_contain_text("email: Enter a valid email address.")
    expect(page.get_by_role("button", name="Confirm import")).to_have_count(0)
    screenshot(page, "a file with a bad row is refused with the rows error")
    assert Attendee.objects.count() == 0

    choose_file(page, "guests.csv", attendees_csv(berlin, 10))
    page.get_by_role("button", name="Submit").click()

    preview = page.locator("table.import-preview")
    expect(preview.locator("tr.new")).to_have_count(10)
    expect(preview).to_contain_text("BADGE-0003")
    expect(preview).to_contain_text("(made up on import)")
    expect(preview).to_contain_text("PyCon DE")
    screenshot(page, "import preview")
    assert Attendee.objects.count() == 0

    page.get_by_role("button", name="Confirm import").click()

    expect(message(page, "success")).to_have_text("Imported 10 attendees.")
    expect(page.locator("#result_list tbody tr")).to_have_count(10)
    screenshot(page, "imported attendees in the list")
    assert Attendee.objects.get(email="guest3@example.org").ticket_code == "BADGE-0003"


def test_attendee_list_shows_state_times_and_time_inside_without_horizontal_scroll_at_1280(
    new_page, log_in, make_user, make_attendee, berlin, event, screenshot
):
    hall = Area.objects.create(event=berlin, name="Main conference hall")
    people = [
        ("Maximiliane", "Mustermann-Schönberg", "maximiliane.mustermann-schoenberg@example.org", berlin),
        ("Ada", "Lovelace", "ada@example.org", event),
        ("Alan", "Turing", "alan.turing@example.org", berlin),
        ("Grace", "Hopper", "grace@example.org", event),
    ]
    attendees = [
        make_attendee(event=where, first_name=first, last_name=last, email=email)
        for first, last, email, where in people
    ]
    with clock_at(at_cet(9)):
        services.check_in(attendee=attendees[0], by=None, area=hall)
        services.check_in(attendee=attendees[1], by=None)
        services.check_in(attendee=attendees[2], by=None)
    with clock_at(at_cet(11.5)):
        services.check_out(attendee=attendees[2], by=None)
    page = new_page(LAPTOP)
    log_in(page, make_user("superuser"), CHANGELIST)

    row = page.locator("#result_list tbody tr", has_text="alan.turing@example.org")
    expect(row.locator("td.field-state")).to_have_text("Left")
    expect(row.locator("td.field-last_checked_in_at")).to_have_text("2026-11-20 09:00:05 CET")
    expect(row.locator("td.field-last_checked_out_at")).to_have_text("2026-11-20 11:30:05 CET")
    ada_row = page.locator("#result_list tbody tr", has_text="ada@example.org")
    expect(ada_row.locator("td.field-last_checked_in_at")).to_have_text("2026-11-20 08:00:05 UTC")
    screenshot(page, "attendee list at 1280 by 800")

    assert page.evaluate("document.documentElement.scrollWidth") <= LAPTOP["width"]
    results = page.locator("#changelist .results")
    assert results.evaluate("element => element.scrollWidth - element.clientWidth") <= 0
    visible = results.bounding_box()
    for column in ("state", "last_checked_in_at", "last_checked_out_at", "time_inside"):
        box = page.locator(f"#result_list thead th.column-{column}").bounding_box()
        assert visible["x"] <= box["x"]
        assert box["x"] + box["width"] <= visible["x"] + visible["width"], column
