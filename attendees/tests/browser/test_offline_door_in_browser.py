"""The door page without a connection, in a real browser: once opened online, its service
worker opens it again offline and the event's roster on the device lets it go on scanning;
the scans wait in the device's queue and are recorded exactly once when the connection is
back, also when the answer to an upload is lost on the way."""

import json
import re
import time

import pytest
from django.core.signals import request_started

from attendees.models import Area, Record, RefusedScan

from .conftest import PHONE, PLAYWRIGHT_MISSING
from .test_door_in_browser import sign_in_at_the_door
from .test_scanning_in_browser import PHONE_WITH_KEYBOARD_UP, assert_fully_visible

expect = pytest.importorskip("playwright.sync_api", reason=PLAYWRIGHT_MISSING).expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# A failed upload is tried again at the next heartbeat of the page (every 10 s).
UPLOAD_RETRIED_WITHIN_MS = 20_000

# What the door keeps in IndexedDB, read without the page's scripts (also on the login page).
DUMP_DEVICE_STORAGE = """async () => {
    const asked = (request) => new Promise((resolve, reject) => {
        request.onsuccess = () => resolve(request.result);
        request.onerror = () => reject(request.error);
    });
    const database = await asked(indexedDB.open("attendees-door"));
    const stores = {};
    for (const name of database.objectStoreNames) {
        stores[name] = await asked(database.transaction(name).objectStore(name).getAll());
    }
    database.close();
    return stores;
}"""

SAVED_URLS = """async () => {
    const urls = [];
    for (const name of await caches.keys()) {
        const cache = await caches.open(name);
        urls.push(...(await cache.keys()).map((request) => new URL(request.url).pathname));
    }
    return urls;
}"""


@pytest.fixture
def people(make_attendee, event) -> dict:
    return {
        "ada": make_attendee("never", first_name="Ada", last_name="Lovelace", email="ada@example.org"),
        "alan": make_attendee("inside", first_name="Alan", last_name="Turing", email="alan@example.org"),
        "grace": make_attendee("never", first_name="Grace", last_name="Hopper", email="grace@example.org"),
        "edsger": make_attendee("never", first_name="Edsger", last_name="Dijkstra", email="edsger@example.org"),
        "barbara": make_attendee("never", first_name="Barbara", last_name="Liskov", email="barbara@example.org"),
    }


@pytest.fixture
def door(new_page, make_user, event, people):
    """The door page on a phone, signed in as door staff, with its service worker in control
    and the event's roster on the device: ready to go offline. The test fails if the page's
    script throws."""
    page = new_page(PHONE, is_mobile=True, has_touch=True)
    errors = []
    page.on("pageerror", lambda error: errors.append(error))
    sign_in_at_the_door(page, make_user("door_staff", is_staff=False))
    page.wait_for_function("navigator.serviceWorker.controller !== null")
    expect(page.locator("#door-roster")).to_have_text(re.compile(r"^On this device: 5 attendees, as of \d\d:\d\d UTC$"))
    yield page
    assert errors == []


@pytest.fixture
def server_requests():
    """The paths of the requests that reach the live server, in order."""
    paths = []

    def started(sender, environ, **kwargs):
        paths.append(environ["PATH_INFO"])

    request_started.connect(started)
    yield paths
    request_started.disconnect(started)


def scan(page, code: str) -> None:
    """What a keyboard-wedge barcode scanner does: type the code fast, then Enter."""
    page.keyboard.type(code)
    page.keyboard.press("Enter")


def result(page):
    return page.locator("#door-result")


def expect_result(page, kind: str, title: str, name: str = "", detail: str | None = None) -> None:
    expect(result(page)).to_have_class(re.compile(rf"\bresult-{kind}\b"))
    expect(result(page).locator(".result-title")).to_have_text(title)
    if name:
        expect(result(page).locator(".result-name")).to_have_text(name)
    if detail is not None:
        expect(result(page).locator(".result-detail")).to_have_text(detail)


def banner(page):
    return page.locator("#door-connection")


def expect_counts(page, inside: int, left: int, not_arrived: int) -> None:
    expect(page.locator("#count-inside")).to_have_text(str(inside))
    expect(page.locator("#count-left")).to_have_text(str(left))
    expect(page.locator("#count-not-arrived")).to_have_text(str(not_arrived))


def records_of(attendee) -> list[tuple[str, str]]:
    return [(record.type, record.source) for record in Record.objects.filter(attendee=attendee).order_by("at", "id")]


def test_scans_made_offline_are_shown_by_name_kept_through_a_reload_and_recorded_once_back_online(
    door, people, server_requests, screenshot
):
    door.get_by_label("Station").fill("North door")
    door.get_by_label("Station").press("Enter")
    door.context.set_offline(True)
    server_requests.clear()

    scan(door, people["ada"].ticket_code)
    expect_result(door, "checked-in", "Saved offline", "Ada Lovelace")
    expect(result(door).locator(".result-detail")).to_have_text(
        re.compile(r"^Checked in at \d\d:\d\d UTC, North door$")
    )
    expect(result(door)).to_have_class(re.compile(r"\bresult-offline\b"))
    expect(banner(door)).to_have_text("Offline: 1 scan waiting")
    scan(door, people["grace"].ticket_code)
    expect_result(door, "checked-in", "Saved offline", "Grace Hopper")
    # Refused by the roster on the device, and queued all the same: the server decides.
    scan(door, people["alan"].ticket_code)
    expect_result(
        door,
        "refused",
        "Refused",
        "Alan Turing",
        "Already inside. Saved offline: the server decides once the connection is back.",
    )
    scan(door, "NO-SUCH-TICKET-0001")
    expect_result(door, "refused", "Unknown ticket")

    expect(banner(door)).to_have_text("Offline: 4 scans waiting")
    expect_counts(door, inside=3, left=0, not_arrived=2)
    screenshot(door, "offline with four scans waiting")

    door.reload()

    expect(banner(door)).to_have_text("Offline: 4 scans waiting")
    expect(door.get_by_label("Event")).to_have_value(str(people["ada"].event_id))
    expect(door.get_by_label("Station")).to_have_value("North door")
    expect_counts(door, inside=3, left=0, not_arrived=2)
    door.locator("#door-query").press_sequentially("hopp", delay=30)
    expect(door.locator("#door-summary")).to_have_text("1 attendee matches “hopp”.")
    expect(door.locator("#door-results > li").filter(has_text="Grace Hopper").locator(".state")).to_have_text("Inside")
    door.locator("#door-query").fill("liskov")
    door.get_by_role("button", name="Check in Barbara Liskov").click()
    expect_result(door, "checked-in", "Saved offline", "Barbara Liskov")
    expect(banner(door)).to_have_text("Offline: 5 scans waiting")
    screenshot(door, "reloaded offline and checked in by name")
    # The browser's own check for a newer service worker escapes Chromium's emulated offline mode.
    assert [path for path in server_requests if path != "/door/sw.js"] == [], "nothing reached the server offline"
    assert Record.objects.filter(source="offline").count() == 0

    door.context.set_offline(False)

    expect(banner(door)).to_have_text(
        "5 scans saved offline were sent. 2 were refused: see the list below.", timeout=UPLOAD_RETRIED_WITHIN_MS
    )
    refused = door.get_by_role("region", name="Refused while offline")
    expect(refused.locator("li")).to_have_text(
        [
            re.compile(r"^Unknown ticketEntrance scan at \d\d:\d\d UTC$"),
            re.compile(r"^Alan TuringAlready inside: entrance scan at \d\d:\d\d UTC$"),
        ]
    )
    expect_counts(door, inside=4, left=0, not_arrived=1)
    screenshot(door, "back online after sending the scans")
    assert records_of(people["ada"]) == [("check_in", "offline")]
    assert records_of(people["grace"]) == [("check_in", "offline")]
    assert records_of(people["barbara"]) == [("check_in", "offline")]
    assert records_of(people["alan"]) == [("check_in", "api")]
    for record in Record.objects.filter(source="offline"):
        assert record.station == "North door"
        assert record.at < record.recorded_at, "an offline scan keeps the device's time"
    assert sorted(RefusedScan.objects.filter(offline=True).values_list("reason", flat=True)) == [
        "already_checked_in",
        "unknown_ticket",
    ]

    # The device keeps no ticket code once the server has them: the roster has only hashes.
    stores = door.evaluate(DUMP_DEVICE_STORAGE)
    assert stores["queue"] == []
    kept = json.dumps(stores)
    for attendee in people.values():
        assert attendee.ticket_code not in kept
    assert "NO-SUCH-TICKET-0001" not in kept
    assert len(stores["rosters"][0]["attendees"][0]["ticket_code_sha256"]) == 64

    door.get_by_role("button", name="Clear this list").click()
    expect(refused).to_be_hidden()


def test_an_upload_whose_answer_is_lost_on_the_way_back_is_sent_again_and_recorded_once(door, people, screenshot):
    door.context.set_offline(True)
    door.set_viewport_size(PHONE_WITH_KEYBOARD_UP)
    for name in ("ada", "grace"):
        scan(door, people[name].ticket_code)
        expect_result(door, "checked-in", "Saved offline", str(people[name]))
    expect(banner(door)).to_have_text("Offline: 2 scans waiting")
    for part in ("#door-connection", "#door-query", "#door-result"):
        assert_fully_visible(door, part)
    screenshot(door, "offline at 390 x 500 with two scans waiting")
    answers = []

    def lose_the_first_answer(route):
        response = route.fetch()  # The server gets the upload and answers it...
        answers.append(response.json())
        if len(answers) == 1:
            route.abort()  # ...but the answer never reaches the page.
        else:
            route.fulfill(response=response)

    door.route("**/api/scans/batch/", lose_the_first_answer)

    door.context.set_offline(False)

    expect(banner(door)).to_have_text("2 scans saved offline were sent.", timeout=UPLOAD_RETRIED_WITHIN_MS)
    screenshot(door, "sent again after the first answer was lost")
    assert [[result["duplicate"] for result in answer["results"]] for answer in answers] == [
        [False, False],
        [True, True],
    ]
    assert [[result["status"] for result in answer["results"]] for answer in answers] == [
        ["recorded", "recorded"],
        ["recorded", "recorded"],
    ]
    assert records_of(people["ada"]) == [("check_in", "offline")]
    assert records_of(people["grace"]) == [("check_in", "offline")]
    expect_counts(door, inside=3, left=0, not_arrived=2)
    assert door.evaluate(DUMP_DEVICE_STORAGE)["queue"] == []


def test_a_scan_the_server_does_not_answer_within_three_seconds_is_saved_offline_and_recorded_once(door, people):
    held = []
    door.route("**/api/scans/", lambda route: held.append(route))  # The server never answers a scan.
    started = time.monotonic()

    scan(door, people["ada"].ticket_code)

    expect_result(door, "checked-in", "Saved offline", "Ada Lovelace")
    assert 3 <= time.monotonic() - started < 6
    assert len(held) == 1
    door.unroute("**/api/scans/")
    # The rest of the server answers: the saved scan goes up at once.
    expect(banner(door)).to_have_text("1 scan saved offline was sent.", timeout=UPLOAD_RETRIED_WITHIN_MS)
    expect(door.locator("#count-inside")).to_have_text("2")
    assert records_of(people["ada"]) == [("check_in", "offline")]


def test_signing_out_forgets_the_roster_and_the_saved_page_and_keeps_the_scans_not_yet_sent_for_the_next_sign_in(
    door, make_user, people
):
    door.route("**/api/scans/batch/", lambda route: route.abort())
    door.context.set_offline(True)
    scan(door, people["ada"].ticket_code)
    expect_result(door, "checked-in", "Saved offline", "Ada Lovelace")
    door.context.set_offline(False)
    assert "/door/" in door.evaluate(SAVED_URLS)

    door.get_by_role("button", name="Log out").click()

    door.wait_for_url(re.compile(r"/door/login/$"))
    stores = door.evaluate(DUMP_DEVICE_STORAGE)
    assert stores["rosters"] == []
    assert len(stores["queue"]) == 1
    saved = door.evaluate(SAVED_URLS)
    assert "/door/" not in saved
    assert "/static/attendees/door.js" in saved

    door.unroute("**/api/scans/batch/")
    sign_in_at_the_door(door, make_user("door_staff", username="next_shift"))

    expect(banner(door)).to_have_text("1 scan saved offline was sent.", timeout=UPLOAD_RETRIED_WITHIN_MS)
    [record] = Record.objects.filter(attendee=people["ada"])
    assert (record.source, record.recorded_by.username) == ("offline", "next_shift")


@pytest.fixture
def workshop(event) -> Area:
    return Area.objects.create(event=event, name="Workshop", capacity=1)


def test_offline_scans_into_an_area_follow_its_rules_on_the_device_and_go_up_with_the_area(
    workshop, door, people, screenshot
):
    door.get_by_label("Area").select_option(label="Workshop")
    door.get_by_role("button", name="Auto", exact=True).click()
    expect(door.locator("#door-place")).to_have_text("Workshop0 / 1 inside")
    door.context.set_offline(True)

    scan(door, people["alan"].ticket_code)  # Inside the event, not in the workshop: in.
    expect_result(door, "checked-in", "Saved offline", "Alan Turing")
    expect(door.locator("#door-place")).to_have_text("Workshop1 / 1 insideFull")
    scan(door, people["ada"].ticket_code)
    expect_result(
        door,
        "refused",
        "Full",
        "Ada Lovelace",
        "Workshop is full: 1 inside, capacity 1. Saved offline: the server decides once the connection is back.",
    )
    screenshot(door, "offline the workshop is full")
    door.wait_for_timeout(2100)  # Past the time in which a second scan only repeats the first one's result.
    scan(door, people["alan"].ticket_code)  # In the workshop: out of it, still inside the event.
    expect_result(door, "checked-out", "Saved offline", "Alan Turing")
    expect(door.locator("#door-place")).to_have_text("Workshop0 / 1 inside")
    expect_counts(door, inside=1, left=0, not_arrived=4)
    expect(banner(door)).to_have_text("Offline: 3 scans waiting")

    door.context.set_offline(False)

    expect(banner(door)).to_have_text(
        "3 scans saved offline were sent. 1 was refused: see the list below.", timeout=UPLOAD_RETRIED_WITHIN_MS
    )
    alan = Record.objects.filter(attendee=people["alan"]).order_by("at", "id")
    assert [(record.type, record.source, record.area_id) for record in alan] == [
        ("check_in", "api", None),
        ("check_in", "offline", workshop.pk),
        ("check_out", "offline", workshop.pk),
    ]
    assert records_of(people["ada"]) == []
    refusal = RefusedScan.objects.get(attendee=people["ada"])
    assert (refusal.reason, refusal.area_id, refusal.offline) == ("capacity_reached", workshop.pk, True)
