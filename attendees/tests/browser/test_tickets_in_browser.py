"""Tickets in a real browser: the attendee's ticket on a phone, the QR code image on its own,
and the badge sheet an organizer prints from the admin. Every QR code is read back from
Chromium's own pixels, as a door scanner would read the screen or the paper."""

import io
import re
from datetime import UTC, datetime

import pytest
import zxingcpp
from PIL import Image

from attendees.models import Attendee

from .conftest import PHONE, PLAYWRIGHT_MISSING

expect = pytest.importorskip("playwright.sync_api", reason=PLAYWRIGHT_MISSING).expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHANGELIST = "/admin/attendees/attendee/"
NAMES = [
    ("Ada", "Lovelace"),
    ("Alan", "Turing"),
    ("Grace", "Hopper"),
    ("Edsger", "Dijkstra"),
    ("Barbara", "Liskov"),
    ("Maximiliane", "Wolfeschlegelsteinhausen-Bergerdorff"),
    ("Donald", "Knuth"),
    ("Frances", "Allen"),
    ("Tony", "Hoare"),
    ("Margaret", "Hamilton"),
]


def scanned_codes(png: bytes) -> list[str]:
    image = Image.open(io.BytesIO(png))
    return [barcode.text for barcode in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)]


def pdf_page_count(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page\b", pdf))


@pytest.fixture
def ada(make_attendee, event) -> Attendee:
    event.name = "PyCon Berlin 2026"
    event.starts_at = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
    event.save()
    return make_attendee(first_name="Ada", last_name="Lovelace", email="ada@example.org")


@pytest.fixture
def berlin(ada):
    ada.event.timezone = "Europe/Berlin"
    ada.event.save()


def test_attendee_opens_their_ticket_on_a_phone_and_its_code_scans_from_the_screen(new_page, ada, berlin, screenshot):
    page = new_page(PHONE, is_mobile=True, has_touch=True)

    response = page.goto(f"/tickets/{ada.ticket_code}/")

    assert response.headers["cache-control"] == "no-store"
    expect(page.get_by_role("heading", name="PyCon Berlin 2026")).to_be_visible()
    expect(page.get_by_text("Ada Lovelace")).to_be_visible()
    expect(page.locator(".when")).to_have_text(re.compile(r"Tuesday, Nov\. 24, 2026, 9 a\.m\.\s+\(Europe/Berlin\)"))
    expect(page.get_by_text("Show this code at the door.")).to_be_visible()
    qr = page.locator("svg.ticket-qr")
    box = qr.bounding_box()
    # Big enough to scan at arm's length, and all of it on the first screen, no scrolling.
    assert box["width"] >= PHONE["width"] * 0.8
    assert box["y"] + box["height"] <= PHONE["height"]
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(page, "ticket on a phone")
    assert scanned_codes(page.screenshot()) == [ada.ticket_code]


def test_unknown_ticket_on_a_phone_says_so(new_page, ada, screenshot):
    page = new_page(PHONE, is_mobile=True, has_touch=True)

    response = page.goto("/tickets/not-a-ticket-code/")

    assert response.status == 404
    expect(page.get_by_role("heading", name="No ticket here")).to_be_visible()
    expect(page.locator("svg")).to_have_count(0)
    screenshot(page, "unknown ticket on a phone")


def test_qr_code_image_shown_by_an_img_tag_scans_to_the_ticket_code(page, live_server, ada, screenshot):
    qr_url = f"{live_server.url}/tickets/{ada.ticket_code}/qr.svg"
    with page.expect_response(qr_url) as served:
        page.set_content(f'<img src="{qr_url}" alt="QR code" width="264" height="264">')
    image = page.get_by_role("img", name="QR code")

    assert served.value.headers["content-type"] == "image/svg+xml"
    expect(image).to_have_js_property("complete", True)
    assert image.evaluate("img => img.naturalWidth") == 264
    screenshot(page, "qr code image")
    assert scanned_codes(image.screenshot()) == [ada.ticket_code]


def test_organizer_prints_badges_for_the_selected_attendees(page, log_in, make_user, make_attendee, event, screenshot):
    event.name = "PyCon Berlin 2026"
    event.save()
    attendees = [make_attendee(first_name=first, last_name=last) for first, last in NAMES]
    not_chosen = make_attendee(first_name="Guido", last_name="Rossum")
    log_in(page, make_user("editor", is_staff=True), CHANGELIST)

    for attendee in attendees:
        page.locator("#result_list tbody tr", has_text=attendee.last_name).locator("input.action-select").check()
    page.get_by_label("Action:").select_option(label="Print badges for selected attendees")
    page.get_by_role("button", name="Go").click()

    expect(page.get_by_role("heading", name="10 badges")).to_be_visible()
    expect(page.locator("article.badge")).to_have_count(len(attendees))
    expect(page.locator("article.badge", has_text="Rossum")).to_have_count(0)
    for attendee in attendees:
        badge = page.locator("article.badge", has_text=attendee.last_name)
        expect(badge.locator(".first")).to_have_text(attendee.first_name)
        expect(badge.locator(".badge-event")).to_have_text("PyCon Berlin 2026")
    expect(page.get_by_role("button", name="Print")).to_be_visible()
    screenshot(page, "badge sheet on screen")
    assert sorted(scanned_codes(page.screenshot(full_page=True))) == sorted(a.ticket_code for a in attendees)
    assert not_chosen.ticket_code not in page.content()

    page.emulate_media(media="print")
    expect(page.get_by_role("button", name="Print")).to_be_hidden()
    screenshot(page, "badge sheet as printed")
    # Eight badges to an A4 sheet, each sheet one page: ten badges print on two pages.
    assert pdf_page_count(page.pdf(prefer_css_page_size=True, print_background=True)) == 2
