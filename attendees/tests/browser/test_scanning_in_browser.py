"""Scanning tickets at the door, in a real browser: a barcode scanner (which types the code
and Enter), the camera (Chromium's fake camera playing a video of QR codes), the modes,
undo, and what door staff's page never receives: a ticket code."""

import json
import re
from pathlib import Path

import pytest
import segno
from django.contrib.auth.models import Permission

from attendees import services
from attendees.models import Area, Record, RefusedScan

from .conftest import CHROMIUM, CHROMIUM_ARGS, PHONE, PLAYWRIGHT_MISSING, TIMEOUT_MS
from .test_door_in_browser import sign_in_at_the_door

expect = pytest.importorskip("playwright.sync_api", reason=PLAYWRIGHT_MISSING).expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE_WITH_KEYBOARD_UP = {"width": 390, "height": 500}

# The fake camera's video: 640 x 480 YUV 4:2:0, a QR code of 8 px per module on white.
WIDTH, HEIGHT, FPS = 640, 480, 15
WHITE, BLACK, NEUTRAL_CHROMA = 235, 16, 128
MODULE_PX = 8
QUIET_ZONE_MODULES = 4


def qr_frame(text: str) -> bytes:
    """The luma plane of one frame showing `text` as a QR code, centred."""
    matrix = segno.make_qr(text, error="m").matrix
    modules = len(matrix)
    side = (modules + 2 * QUIET_ZONE_MODULES) * MODULE_PX
    assert side <= HEIGHT, "the QR code does not fit the frame"
    luma = bytearray([WHITE]) * (WIDTH * HEIGHT)
    left = (WIDTH - modules * MODULE_PX) // 2
    top = (HEIGHT - modules * MODULE_PX) // 2
    for row, cells in enumerate(matrix):
        for column, dark in enumerate(cells):
            if dark:
                x = left + column * MODULE_PX
                for y in range(top + row * MODULE_PX, top + (row + 1) * MODULE_PX):
                    luma[y * WIDTH + x : y * WIDTH + x + MODULE_PX] = bytes([BLACK]) * MODULE_PX
    return bytes(luma)


def blank_frame() -> bytes:
    return bytes([WHITE]) * (WIDTH * HEIGHT)


def write_y4m(path: Path, frames: list[bytes]) -> Path:
    chroma = bytes([NEUTRAL_CHROMA]) * ((WIDTH // 2) * (HEIGHT // 2))
    with path.open("wb") as video:
        video.write(f"YUV4MPEG2 W{WIDTH} H{HEIGHT} F{FPS}:1 Ip A1:1 C420jpeg\n".encode())
        for luma in frames:
            video.write(b"FRAME\n" + luma + chroma + chroma)
    return path


@pytest.fixture
def camera_page(chromium, live_server, tmp_path):
    """camera_page(frames, viewport=PHONE) -> a page in a Chromium of its own whose camera
    plays those frames over and over (the camera is allowed without asking)."""
    browsers = []

    def open_page(frames: list[bytes], viewport: dict = PHONE):
        video = write_y4m(tmp_path / f"camera-{len(browsers)}.y4m", frames)
        browser = chromium.browser_type.launch(
            executable_path=str(CHROMIUM),
            args=[
                *CHROMIUM_ARGS,
                "--use-fake-ui-for-media-stream",
                "--use-fake-device-for-media-stream",
                f"--use-file-for-fake-video-capture={video}",
            ],
        )
        browsers.append(browser)
        context = browser.new_context(base_url=live_server.url, viewport=viewport, permissions=["camera"])
        context.set_default_timeout(TIMEOUT_MS)
        return context.new_page()

    yield open_page
    for browser in browsers:
        browser.close()


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
def door(phone_page, make_user, event, people):
    """The door page on a phone, signed in as door staff without admin access; the test
    fails if the page's script throws."""
    errors = []
    phone_page.on("pageerror", lambda error: errors.append(error))
    sign_in_at_the_door(phone_page, make_user("door_staff", is_staff=False))
    expect(phone_page.locator("#count-inside")).to_have_text("1")
    # The page's first requests are done: its service worker is in control (it has saved
    # the page) and the roster is on the device. The test's own writes then meet no reads
    # of the page's in the shared test database.
    phone_page.wait_for_function("navigator.serviceWorker.controller !== null")
    expect(phone_page.locator("#door-roster")).not_to_be_empty()
    yield phone_page
    assert errors == []


def result(page):
    return page.locator("#door-result")


def expect_result(page, kind: str, title: str, name: str = "") -> None:
    expect(result(page)).to_have_class(re.compile(rf"\bresult-{kind}\b"))
    expect(result(page).locator(".result-title")).to_have_text(title)
    if name:
        expect(result(page).locator(".result-name")).to_have_text(name)


def scan_with_the_barcode_scanner(page, code: str) -> None:
    """What a keyboard-wedge barcode scanner does: type the code fast, then Enter."""
    page.keyboard.type(code)
    page.keyboard.press("Enter")


def records_of(attendee):
    return list(Record.objects.filter(attendee=attendee).order_by("at", "id"))


def focused_id(page) -> str:
    return page.evaluate("document.activeElement && document.activeElement.id")


def choose_mode(page, name: str) -> None:
    page.get_by_role("button", name=name, exact=True).click()
    expect(page.get_by_role("button", name=name, exact=True)).to_have_attribute("aria-pressed", "true")


def test_a_barcode_scanner_typing_the_code_and_enter_checks_the_attendee_in(door, people, screenshot):
    ada = people["ada"]
    assert focused_id(door) == "door-query"

    scan_with_the_barcode_scanner(door, ada.ticket_code)

    expect_result(door, "checked-in", "Checked in", "Ada Lovelace")
    expect(door.get_by_role("status").filter(has_text="Checked in")).to_contain_text("Ada Lovelace")
    expect(door.locator("#door-query")).to_have_value("")
    assert focused_id(door) == "door-query"
    expect(door.locator("#count-inside")).to_have_text("2")
    assert result(door).evaluate("element => getComputedStyle(element).backgroundColor") == "rgb(11, 102, 48)"
    screenshot(door, "checked in by scanning the ticket")
    [record] = records_of(ada)
    assert (record.type, record.source, record.voided_at) == ("check_in", "scan", None)


def test_in_exit_mode_scanning_someone_inside_checks_them_out(door, people, screenshot):
    choose_mode(door, "Exit")
    assert focused_id(door) == "door-query"

    scan_with_the_barcode_scanner(door, people["alan"].ticket_code)

    expect_result(door, "checked-out", "Checked out", "Alan Turing")
    assert result(door).evaluate("element => getComputedStyle(element).backgroundColor") == "rgb(30, 64, 175)"
    expect(door.locator("#count-inside")).to_have_text("0")
    screenshot(door, "checked out in exit mode")
    assert [(record.type, record.source) for record in records_of(people["alan"])] == [
        ("check_in", "api"),
        ("check_out", "scan"),
    ]


def test_scanning_someone_inside_at_the_entrance_is_refused_in_red_with_since_when_and_where(door, people, screenshot):
    door.get_by_label("Station").fill("North door")
    door.get_by_label("Station").press("Enter")
    assert focused_id(door) == "door-query"
    scan_with_the_barcode_scanner(door, people["ada"].ticket_code)
    expect_result(door, "checked-in", "Checked in", "Ada Lovelace")
    door.wait_for_timeout(2100)  # Past the time in which a second scan only repeats the first one's result.

    scan_with_the_barcode_scanner(door, people["ada"].ticket_code)

    expect_result(door, "refused", "Refused", "Ada Lovelace")
    expect(result(door).locator(".result-detail")).to_have_text(
        re.compile(r"^Already inside since \d\d:\d\d UTC, North door\.$")
    )
    assert result(door).evaluate("element => getComputedStyle(element).backgroundColor") == "rgb(161, 26, 26)"
    expect(door.locator("#door-undo")).to_be_hidden()
    screenshot(door, "refused already inside")
    assert len(records_of(people["ada"])) == 1


def test_an_unknown_ticket_is_refused_in_plain_words(door, people, screenshot):
    scan_with_the_barcode_scanner(door, "NO-SUCH-TICKET-0001")

    expect_result(door, "refused", "Unknown ticket")
    screenshot(door, "unknown ticket")
    assert RefusedScan.objects.get().reason == "unknown_ticket"


def test_a_double_scan_within_a_second_records_once_and_undo_takes_it_back(door, people, screenshot):
    ada = people["ada"]
    scans = []
    door.on("request", lambda request: scans.append(request) if request.url.endswith("/api/scans/") else None)

    scan_with_the_barcode_scanner(door, ada.ticket_code)
    scan_with_the_barcode_scanner(door, ada.ticket_code)

    expect_result(door, "checked-in", "Checked in", "Ada Lovelace")
    undo = door.get_by_role("button", name="Undo")
    expect(undo).to_be_visible()
    screenshot(door, "checked in once with undo offered")
    assert len(scans) == 1
    assert [(record.type, record.voided_at) for record in records_of(ada)] == [("check_in", None)]

    undo.click()

    expect_result(door, "undone", "Undone", "Ada Lovelace")
    expect(result(door).locator(".result-detail")).to_have_text("The check-in was taken back.")
    expect(undo).to_be_hidden()
    expect(door.locator("#count-inside")).to_have_text("1")
    assert focused_id(door) == "door-query"
    screenshot(door, "undone")
    [record] = records_of(ada)
    assert record.voided_at is not None
    assert record.void_reason == "undone at the door"

    # Undone, the same ticket may be scanned again at once.
    scan_with_the_barcode_scanner(door, ada.ticket_code)
    expect_result(door, "checked-in", "Checked in", "Ada Lovelace")
    assert [record.voided_at is None for record in records_of(ada)] == [False, True]


def test_a_second_auto_scan_within_two_seconds_shows_the_same_success_and_never_checks_out(door, people):
    choose_mode(door, "Auto")
    ada = people["ada"]
    scan_with_the_barcode_scanner(door, ada.ticket_code)
    expect_result(door, "checked-in", "Checked in", "Ada Lovelace")

    scan_with_the_barcode_scanner(door, ada.ticket_code)

    expect_result(door, "checked-in", "Checked in", "Ada Lovelace")
    expect(door.get_by_role("button", name="Undo")).to_be_visible()
    assert [record.type for record in records_of(ada)] == ["check_in"]


def test_a_tap_on_the_attendee_just_scanned_within_two_seconds_sends_nothing_and_shows_the_success_again(door, people):
    choose_mode(door, "Auto")
    writes = []
    door.on("request", lambda request: writes.append(request.url) if request.method == "POST" else None)
    scan_with_the_barcode_scanner(door, people["ada"].ticket_code)
    expect_result(door, "checked-in", "Checked in", "Ada Lovelace")

    door.locator("#door-query").fill("lovelace")
    check_out = door.get_by_role("button", name="Check out Ada Lovelace")
    check_out.click()

    expect_result(door, "checked-in", "Checked in", "Ada Lovelace")
    expect(result(door)).to_have_class(re.compile(r"\bresult-repeat\b"))
    assert [url.rpartition("/api/")[2] for url in writes] == ["scans/"]
    assert [record.type for record in records_of(people["ada"])] == ["check_in"]


def test_every_scan_goes_out_with_the_csrf_token_and_an_idempotency_key_of_its_own(door, people):
    sent = []
    door.on("request", lambda request: sent.append(request.headers) if request.url.endswith("/api/scans/") else None)

    scan_with_the_barcode_scanner(door, people["ada"].ticket_code)
    expect_result(door, "checked-in", "Checked in", "Ada Lovelace")
    scan_with_the_barcode_scanner(door, people["grace"].ticket_code)
    expect_result(door, "checked-in", "Checked in", "Grace Hopper")

    assert len(sent) == 2
    assert all(headers["x-csrftoken"] for headers in sent)
    assert len({headers["idempotency-key"] for headers in sent}) == 2


def test_each_result_stays_at_least_one_and_a_half_seconds_though_the_next_answer_comes_sooner(door, people):
    door.evaluate(
        """() => {
            window.shown = [];
            const name = document.querySelector("#door-result .result-name");
            new MutationObserver(() => {
                const last = window.shown[window.shown.length - 1];
                if (!last || last[1] !== name.textContent) {
                    window.shown.push([performance.now(), name.textContent]);
                }
            }).observe(name, { childList: true, characterData: true, subtree: true });
        }"""
    )

    scan_with_the_barcode_scanner(door, people["ada"].ticket_code)
    scan_with_the_barcode_scanner(door, people["grace"].ticket_code)

    expect_result(door, "checked-in", "Checked in", "Grace Hopper")
    shown = door.evaluate("window.shown")
    assert [name for _, name in shown] == ["Ada Lovelace", "Grace Hopper"]
    # Observed from the page's mutation observer, whose callback may run a few ms after the change.
    assert shown[1][0] - shown[0][0] >= 1500 - 20
    assert Record.objects.filter(source="scan").count() == 2


TELLING = """
    window.told = [];
    Object.defineProperty(Navigator.prototype, "vibrate", {
        configurable: true,
        value(pattern) { window.told.push(["vibrate", JSON.stringify(pattern)]); return true; },
    });
    const createOscillator = AudioContext.prototype.createOscillator;
    AudioContext.prototype.createOscillator = function () {
        const oscillator = createOscillator.call(this);
        const start = oscillator.start.bind(oscillator);
        oscillator.start = (when) => {
            window.told.push(["tone", oscillator.frequency.value, oscillator.type]);
            start(when);
        };
        return oscillator;
    };
"""


def test_each_result_is_told_by_a_beep_and_a_vibration_a_refusal_by_other_ones(door, people):
    door.add_init_script(TELLING)
    door.reload()
    expect(door.locator("#count-inside")).to_have_text("1")

    scan_with_the_barcode_scanner(door, people["ada"].ticket_code)
    expect_result(door, "checked-in", "Checked in", "Ada Lovelace")
    assert door.evaluate("window.told") == [["tone", 880, "sine"], ["vibrate", "60"]]

    scan_with_the_barcode_scanner(door, people["alan"].ticket_code)
    expect_result(door, "refused", "Refused", "Alan Turing")
    assert door.evaluate("window.told.slice(2)") == [
        ["tone", 220, "square"],
        ["tone", 180, "square"],
        ["vibrate", "[120,60,120]"],
    ]


def test_undo_is_offered_for_two_minutes(door, people):
    door.clock.install()
    door.reload()
    expect(door.locator("#count-inside")).to_have_text("1")
    scan_with_the_barcode_scanner(door, people["ada"].ticket_code)
    undo = door.get_by_role("button", name="Undo")
    expect(undo).to_be_visible()

    door.clock.run_for("01:55")
    expect(undo).to_be_visible()
    door.clock.run_for("00:06")

    expect(undo).to_be_hidden()
    expect_result(door, "checked-in", "Checked in", "Ada Lovelace")


def test_a_ticket_for_another_event_is_refused_as_such(door, make_attendee, other_event):
    guido = make_attendee("never", event=other_event, first_name="Guido", last_name="Rossum")

    scan_with_the_barcode_scanner(door, guido.ticket_code)

    expect_result(door, "refused", "Refused", "Guido Rossum")
    expect(result(door).locator(".result-detail")).to_have_text("This ticket is for DjangoCon, not PyCon.")
    assert records_of(guido) == []


def test_text_with_a_space_or_shorter_than_six_characters_is_never_sent_as_a_ticket_code(door, people):
    scans = []
    door.on("request", lambda request: scans.append(request) if request.url.endswith("/api/scans/") else None)

    for text in ("abc", "Zed Nobody", "xyz12"):
        door.locator("#door-query").fill("")
        scan_with_the_barcode_scanner(door, text)
        expect(door.locator("#door-summary")).to_have_text(f"No attendee matches “{text}”.")

    door.wait_for_timeout(300)
    assert scans == []
    assert Record.objects.filter(source="scan").count() == 0


def test_enter_on_a_name_with_exactly_one_match_checks_that_attendee_in(door, people, screenshot):
    door.locator("#door-query").press_sequentially("hopp", delay=40)
    expect(door.locator("#door-summary")).to_have_text("1 attendee matches “hopp”.")
    screenshot(door, "one match for a typed name")

    door.keyboard.press("Enter")

    expect_result(door, "checked-in", "Checked in", "Grace Hopper")
    expect(door.locator("#door-query")).to_have_value("")
    expect(door.locator("#door-results > li")).to_have_count(0)
    assert focused_id(door) == "door-query"
    assert [(record.type, record.source) for record in records_of(people["grace"])] == [("check_in", "api")]
    # The result of a check-in by name offers undo too, once its record is known.
    expect(door.get_by_role("button", name="Undo")).to_be_enabled()
    expect(door.get_by_role("button", name="Undo")).to_have_attribute("aria-disabled", "false")


def test_enter_on_a_name_typed_faster_than_the_search_still_acts_on_its_one_match(door, people):
    scans = []
    door.on("request", lambda request: scans.append(request) if request.url.endswith("/api/scans/") else None)

    scan_with_the_barcode_scanner(door, "Barbara Lis")

    expect_result(door, "checked-in", "Checked in", "Barbara Liskov")
    assert [record.source for record in records_of(people["barbara"])] == ["api"]
    assert scans == []


def test_enter_on_a_name_with_several_matches_acts_on_nobody(door, people):
    door.locator("#door-query").press_sequentially("example", delay=20)
    expect(door.locator("#door-results > li")).to_have_count(5)

    door.keyboard.press("Enter")

    door.wait_for_timeout(500)
    expect(result(door)).to_have_class(re.compile(r"\bresult-idle\b"))
    expect(door.locator("#door-results > li")).to_have_count(5)
    assert Record.objects.count() == 1  # Alan's, from before
    assert RefusedScan.objects.count() == 0


def test_input_and_latest_result_fit_a_phone_with_its_keyboard_up(new_page, make_user, event, people, screenshot):
    page = new_page(PHONE_WITH_KEYBOARD_UP, is_mobile=True, has_touch=True)
    sign_in_at_the_door(page, make_user("door_staff"))

    scan_with_the_barcode_scanner(page, people["ada"].ticket_code)
    expect_result(page, "checked-in", "Checked in", "Ada Lovelace")

    assert_fully_visible(page, "#door-query")
    assert_fully_visible(page, "#door-result")
    assert_fully_visible(page, ".modes")
    assert_fully_visible(page, "#door-event")
    assert_fully_visible(page, "#door-undo")
    assert page.evaluate("window.scrollY") == 0
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE_WITH_KEYBOARD_UP["width"]
    screenshot(page, "390 x 500 after a scan")

    # Typing a name: the result shrinks to a strip once it has been seen, the names show below.
    page.locator("#door-query").press_sequentially("turing", delay=30)
    expect(page.locator("#door-results > li")).to_have_count(1)
    expect(result(page)).to_have_class(re.compile(r"\bresult-compact\b"))
    assert_fully_visible(page, "#door-query")
    assert_fully_visible(page, "#door-result")
    assert_fully_visible(page, "#door-results > li")
    screenshot(page, "390 x 500 typing a name")


def assert_fully_visible(page, selector: str) -> None:
    box = page.locator(selector).first.bounding_box()
    assert box is not None, f"{selector} is not shown"
    viewport = page.viewport_size
    assert box["x"] >= 0, (selector, box)
    assert box["y"] >= 0, (selector, box)
    assert box["x"] + box["width"] <= viewport["width"], (selector, box)
    assert box["y"] + box["height"] <= viewport["height"], (selector, box)


def test_door_staff_page_never_receives_a_ticket_code(door, people, screenshot):
    codes = {attendee.ticket_code for attendee in people.values()}
    answers = []
    door.on("response", lambda answer: answers.append(answer))

    door.reload()
    expect(door.locator("#count-inside")).to_have_text("1")
    door.locator("#door-query").press_sequentially("example", delay=20)
    expect(door.locator("#door-results > li")).to_have_count(5)
    door.get_by_role("button", name="Check in Grace Hopper").click()
    expect_result(door, "checked-in", "Checked in", "Grace Hopper")
    expect(door.get_by_role("button", name="Undo")).to_have_attribute("aria-disabled", "false")
    door.locator("#door-query").fill("")
    scan_with_the_barcode_scanner(door, people["ada"].ticket_code)
    expect_result(door, "checked-in", "Checked in", "Ada Lovelace")
    scan_with_the_barcode_scanner(door, people["alan"].ticket_code)
    expect_result(door, "refused", "Refused", "Alan Turing")
    door.wait_for_load_state("networkidle")

    bodies = {}
    for answer in answers:
        if answer.request.resource_type in {"document", "fetch", "xhr"}:
            bodies[f"{answer.request.method} {answer.url}"] = answer.text()
    assert any(key.startswith("POST") and key.endswith("/api/scans/") for key in bodies)
    assert any("/history/" in key for key in bodies)
    assert any("/api/attendees/?" in key for key in bodies)
    for key, body in bodies.items():
        for code in codes:
            assert code not in body, f"a ticket code in the answer to {key}"
    scan_answers = [json.loads(body) for key, body in bodies.items() if key.endswith("/api/scans/")]
    assert all("ticket_code" not in answer.get("attendee", {}) for answer in scan_answers)


def test_the_camera_scans_a_ticket_held_up_to_it_once(camera_page, make_user, event, people, screenshot):
    ada = people["ada"]
    page = camera_page([qr_frame(ada.ticket_code)] * 15)
    decoder_requests = []
    page.on("request", lambda request: decoder_requests.append(request) if "jsQR" in request.url else None)
    sign_in_at_the_door(page, make_user("door_staff"))
    expect(page.locator("#count-inside")).to_have_text("1")
    assert decoder_requests == [], "the QR decoder is loaded only when the camera starts"

    page.get_by_role("button", name="Scan with camera").click()

    expect_result(page, "checked-in", "Checked in", "Ada Lovelace")
    expect(page.get_by_role("button", name="Stop camera")).to_be_visible()
    expect(page.locator("#door-video")).to_be_visible()
    assert focused_id(page) == "door-query"
    has_native_detector = page.evaluate("'BarcodeDetector' in window")
    assert len(decoder_requests) == (0 if has_native_detector else 1)
    screenshot(page, "camera running checked in")

    # The ticket stays in front of the camera: nothing more is recorded, nothing refused.
    page.wait_for_timeout(4000)
    assert [(record.type, record.source) for record in records_of(ada)] == [("check_in", "scan")]
    assert RefusedScan.objects.count() == 0
    expect_result(page, "checked-in", "Checked in", "Ada Lovelace")

    page.get_by_role("button", name="Stop camera").click()
    expect(page.get_by_role("button", name="Scan with camera")).to_be_visible()
    expect(page.locator("#door-video")).to_be_hidden()
    assert page.evaluate("document.getElementById('door-video').srcObject") is None


def test_without_a_camera_the_page_says_so_and_scanning_by_keyboard_goes_on(door, people, screenshot):
    door.get_by_role("button", name="Scan with camera").click()

    expect(door.locator("#door-camera-status")).to_have_text(
        re.compile(r"^(The camera was not allowed\.|No camera was found on this device\.)")
    )
    expect(door.locator("#door-video")).to_be_hidden()
    expect(door.get_by_role("button", name="Scan with camera")).to_be_visible()
    assert focused_id(door) == "door-query"
    screenshot(door, "no camera")
    scan_with_the_barcode_scanner(door, people["ada"].ticket_code)
    expect_result(door, "checked-in", "Checked in", "Ada Lovelace")


def test_three_tickets_by_camera_one_after_another_and_one_by_typing_the_code(
    camera_page, make_user, event, people, screenshot
):
    by_camera = [people["ada"], people["grace"], people["edsger"]]
    frames = []
    for attendee in by_camera:
        frames += [qr_frame(attendee.ticket_code)] * 25 + [blank_frame()] * 10
    page = camera_page(frames, viewport=PHONE_WITH_KEYBOARD_UP)
    sign_in_at_the_door(page, make_user("door_staff"))
    expect(page.locator("#count-inside")).to_have_text("1")

    page.get_by_role("button", name="Scan with camera").click()

    expect(page.locator("#count-inside")).to_have_text("4", timeout=20_000)
    assert_fully_visible(page, "#door-query")
    assert_fully_visible(page, "#door-result")
    assert_fully_visible(page, "#door-video")
    screenshot(page, "camera running at 390 x 500")
    page.get_by_role("button", name="Stop camera").click()
    for attendee in by_camera:
        assert [(record.type, record.source) for record in records_of(attendee)] == [("check_in", "scan")]

    page.locator("#door-query").focus()
    scan_with_the_barcode_scanner(page, people["barbara"].ticket_code)

    expect_result(page, "checked-in", "Checked in", "Barbara Liskov")
    expect(page.locator("#count-inside")).to_have_text("5")
    assert Record.objects.filter(source="scan", type="check_in", voided_at=None).count() == 4


# Areas and capacity at the door


@pytest.fixture
def workshop(event, make_attendee) -> Area:
    """A workshop for five, with three of PyCon's attendees in it."""
    area = Area.objects.create(event=event, name="Workshop", capacity=5)
    for number in range(3):
        services.check_in(attendee=make_attendee(first_name="Early", last_name=f"Bird {number}"), by=None, area=area)
    return area


def choose_area(page, name: str) -> None:
    page.get_by_label("Area").select_option(label=name)
    page.locator("#door-query").focus()


def place(page):
    return page.locator("#door-place")


def can_override_capacity(user):
    user.user_permissions.add(Permission.objects.get(content_type__app_label="attendees", codename="override_capacity"))
    return user


def test_the_area_picked_shows_inside_over_capacity_amber_from_80_percent_and_red_with_a_refusal_when_full(
    door, people, workshop, screenshot
):
    door.reload()  # The workshop opened after the page did.
    expect(door.get_by_label("Area")).to_have_value("")
    expect(door.get_by_label("Area").locator("option")).to_have_text(["Whole event", "Workshop"])
    expect(place(door)).to_be_hidden()  # The whole event has no capacity: its number inside is among the counts.
    choose_area(door, "Workshop")
    expect(place(door)).to_have_text("Workshop3 / 5 inside")
    expect(place(door)).to_have_attribute("data-level", "open")

    scan_with_the_barcode_scanner(door, people["ada"].ticket_code)

    expect_result(door, "checked-in", "Checked in", "Ada Lovelace")
    expect(place(door)).to_have_text("Workshop4 / 5 insideNearly full")
    expect(place(door)).to_have_attribute("data-level", "nearly-full")
    assert place(door).evaluate("element => getComputedStyle(element).backgroundColor") == "rgb(254, 243, 199)"
    screenshot(door, "workshop nearly full")

    scan_with_the_barcode_scanner(door, people["grace"].ticket_code)
    expect_result(door, "checked-in", "Checked in", "Grace Hopper")
    expect(place(door)).to_have_text("Workshop5 / 5 insideFull")
    expect(place(door)).to_have_attribute("data-level", "full")
    assert place(door).evaluate("element => getComputedStyle(element).backgroundColor") == "rgb(161, 26, 26)"

    scan_with_the_barcode_scanner(door, people["edsger"].ticket_code)

    expect_result(door, "refused", "Full", "Edsger Dijkstra")
    expect(result(door).locator(".result-detail")).to_have_text("Workshop is full: 5 inside, capacity 5.")
    expect(door.get_by_role("button", name="Admit anyway")).to_have_count(0)
    screenshot(door, "workshop full refused for door staff")
    assert [(record.area_id, record.source) for record in records_of(people["ada"])] == [
        (None, "scan"),
        (workshop.pk, "scan"),
    ]
    assert records_of(people["edsger"]) == []
    assert RefusedScan.objects.get(attendee=people["edsger"]).reason == "capacity_reached"


def test_someone_allowed_to_override_capacity_admits_anyway_into_a_full_area(
    phone_page, make_user, event, people, workshop, screenshot
):
    workshop.capacity = 3
    workshop.save()
    page = phone_page
    sign_in_at_the_door(page, can_override_capacity(make_user("door_staff", username="supervisor")))
    choose_area(page, "Workshop")
    expect(place(page)).to_have_text("Workshop3 / 3 insideFull")

    scan_with_the_barcode_scanner(page, people["ada"].ticket_code)

    expect_result(page, "refused", "Full", "Ada Lovelace")
    expect(result(page).locator(".result-detail")).to_have_text("Workshop is full: 3 inside, capacity 3.")
    admit = page.get_by_role("button", name="Admit anyway")
    expect(admit).to_be_visible()
    assert focused_id(page) == "door-query"
    screenshot(page, "workshop full with admit anyway")
    assert records_of(people["ada"]) == []

    admit.click()

    expect_result(page, "checked-in", "Checked in", "Ada Lovelace")
    expect(admit).to_be_hidden()
    expect(place(page)).to_have_text("Workshop4 / 3 insideOver capacity")
    screenshot(page, "admitted anyway")
    event_record, area_record = records_of(people["ada"])
    assert (area_record.area_id, area_record.capacity_override, area_record.source) == (workshop.pk, True, "scan")
    assert event_record.area_id is None


def test_a_tap_on_a_name_in_a_full_area_is_refused_and_admitted_anyway_by_someone_allowed_to(
    phone_page, make_user, event, people, workshop
):
    workshop.capacity = 3
    workshop.save()
    page = phone_page
    sign_in_at_the_door(page, can_override_capacity(make_user("door_staff", username="supervisor")))
    choose_area(page, "Workshop")
    page.locator("#door-query").fill("hopper")
    page.get_by_role("button", name="Check in Grace Hopper").click()
    expect_result(page, "refused", "Full", "Grace Hopper")

    page.get_by_role("button", name="Admit anyway").click()

    expect_result(page, "checked-in", "Checked in", "Grace Hopper")
    assert [(record.area_id, record.capacity_override) for record in records_of(people["grace"])] == [
        (None, False),
        (workshop.pk, True),
    ]


def test_a_full_area_its_refusal_and_admit_anyway_fit_a_phone_with_its_keyboard_up(
    new_page, make_user, event, people, workshop, screenshot
):
    workshop.capacity = 3
    workshop.save()
    page = new_page(PHONE_WITH_KEYBOARD_UP, is_mobile=True, has_touch=True)
    sign_in_at_the_door(page, can_override_capacity(make_user("door_staff", username="supervisor")))
    choose_area(page, "Workshop")
    page.get_by_label("Station").fill("Workshop door")
    page.locator("#door-query").focus()

    scan_with_the_barcode_scanner(page, people["ada"].ticket_code)

    expect_result(page, "refused", "Full", "Ada Lovelace")
    for part in ("#door-event", "#door-area", "#door-station", ".modes", "#door-place", "#door-query", "#door-result"):
        assert_fully_visible(page, part)
    assert_fully_visible(page, "#door-override")
    assert page.evaluate("window.scrollY") == 0
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE_WITH_KEYBOARD_UP["width"]
    screenshot(page, "390 x 500 full area with admit anyway")
