"""The back office in German, tried as a new user would: the door page with its labels,
results and times in the event's zone, and an organizer's walk from the quick start's
demo data through an import, the chart, a correction and the export."""

import csv
import io
import re
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from attendees import services
from attendees.management.commands import demo_data
from attendees.models import Attendee, Event, Record

from .conftest import PASSWORD, PHONE, PLAYWRIGHT_MISSING
from .test_event_chart_in_browser import Element, unreadable_labels

expect = pytest.importorskip("playwright.sync_api", reason=PLAYWRIGHT_MISSING).expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BERLIN = "Europe/Berlin"
# What the browser asks for: `LocaleMiddleware` answers in German.
GERMAN = {"locale": "de-DE", "timezone_id": BERLIN}


def expect_result(page, kind: str, title: str, name: str) -> None:
    result = page.locator("#door-result")
    expect(result).to_have_class(re.compile(rf"\bresult-{kind}\b"))
    expect(result.locator(".result-title")).to_have_text(title)
    expect(result.locator(".result-name")).to_have_text(name)


def scan(page, code: str) -> None:
    """What a barcode scanner does: type the code, then Enter."""
    page.keyboard.type(code)
    page.keyboard.press("Enter")


@pytest.fixture
def pycon_berlin(make_attendee) -> dict:
    event = Event.objects.create(name="PyCon DE", timezone=BERLIN)
    alan = make_attendee(event=event, first_name="Alan", last_name="Turing", email="alan@example.org")
    services.check_in(attendee=alan, by=None, station="Nordeingang")
    return {
        "event": event,
        "ada": make_attendee(event=event, first_name="Ada", last_name="Lovelace", email="ada@example.org"),
        "alan": alan,
    }


def test_door_staff_check_in_and_are_refused_in_german_with_times_in_the_events_zone(
    new_page, make_user, pycon_berlin, screenshot
):
    page = new_page(PHONE, is_mobile=True, has_touch=True, **GERMAN)
    errors = []
    page.on("pageerror", lambda error: errors.append(error))
    make_user("door_staff", username="dora")
    event = pycon_berlin["event"]

    page.goto(f"/door/login/?next=/door/%3Fevent%3D{event.pk}")
    expect(page.locator("html")).to_have_attribute("lang", "de")
    page.get_by_label("Benutzername").fill("dora")
    page.get_by_label("Passwort").fill(PASSWORD)
    screenshot(page, "door login in German")
    page.get_by_role("button", name="Anmelden").click()
    page.wait_for_url(lambda url: urlsplit(url).path == "/door/")

    expect(page.locator("#door-result .result-title")).to_have_text("Bereit")
    expect(page.get_by_text("Angemeldet als dora")).to_be_visible()
    expect(page.locator("#count-inside")).to_have_text("1")
    expect(page.get_by_role("button", name="Eingang", exact=True)).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_text("Enter verarbeitet den gescannten Code")).to_be_visible()
    page.wait_for_function("navigator.serviceWorker.controller !== null")
    expect(page.locator("#door-roster")).not_to_be_empty()
    screenshot(page, "door page in German")

    page.get_by_label("Station").fill("Südeingang")
    page.get_by_label("Ticket scannen oder Namen eingeben").focus()
    scan(page, pycon_berlin["ada"].ticket_code)

    expect_result(page, "checked-in", "Eingecheckt", "Ada Lovelace")
    expect(page.locator("#count-inside")).to_have_text("2")
    expect(page.get_by_role("button", name="Rückgängig")).to_be_visible()
    checked_in = pycon_berlin["ada"].records.get().at.astimezone(ZoneInfo(BERLIN))
    expect(page.locator("#door-result .result-detail")).to_have_text(
        f"{checked_in:%H:%M} {'MESZ' if checked_in.dst() else 'MEZ'}, Südeingang"
    )
    screenshot(page, "checked in in German")

    scan(page, pycon_berlin["alan"].ticket_code)

    expect_result(page, "refused", "Abgewiesen", "Alan Turing")
    since = pycon_berlin["alan"].records.get().at.astimezone(ZoneInfo(BERLIN))
    expect(page.locator("#door-result .result-detail")).to_have_text(
        f"Bereits drinnen seit {since:%H:%M} {since.tzname()}, Nordeingang."
    )
    screenshot(page, "already inside refused in German")
    assert errors == []


def quick_start() -> dict[str, str]:
    """`python manage.py demo_data`, as the quick start runs it: the logins it prints."""
    output = io.StringIO()
    call_command("demo_data", stdout=output)
    return dict(re.findall(r"username (\w+), password (\S+)", output.getvalue()))


def guests_csv(rows: int) -> bytes:
    lines = ["first_name,last_name,email,ticket_code,event"]
    for n in range(1, rows + 1):
        code = f"GAST-{n:04}" if n % 2 else ""
        lines.append(f"Gast{n},Neu{n},gast{n}@example.org,{code},{demo_data.EVENT_NAME}")
    return ("\n".join(lines) + "\n").encode()


def test_an_organizer_imports_attendees_reads_the_demo_day_voids_a_check_in_and_exports_in_german(new_page, screenshot):
    logins = quick_start()
    event = Event.objects.get(name=demo_data.EVENT_NAME)
    registered = event.attendees.count()
    page = new_page(**GERMAN)

    page.goto("/")
    expect(page.get_by_role("heading", name="Einlasskontrolle")).to_be_visible()
    screenshot(page, "home page in German")
    page.get_by_role("link", name=re.compile("^Verwaltung")).click()
    page.wait_for_url(lambda url: urlsplit(url).path == "/admin/login/")
    page.get_by_label("Benutzername").fill("admin")
    page.get_by_label("Passwort").fill(logins["admin"])
    page.get_by_role("button", name="Anmelden").click()
    page.wait_for_url(lambda url: urlsplit(url).path == "/admin/")
    screenshot(page, "admin home in German")

    # Import ten attendees: the file, its preview, the confirmation.
    page.goto("/admin/attendees/attendee/")
    page.get_by_role("link", name="Importieren").click()
    page.get_by_label("Zu importierende Datei").set_input_files(
        {"name": "gaeste.csv", "mimeType": "text/csv", "buffer": guests_csv(10)}
    )
    screenshot(page, "import form")
    page.get_by_role("button", name="Absenden").click()
    preview = page.locator("table.import-preview")
    expect(preview.locator("tr.new")).to_have_count(10)
    expect(preview).to_contain_text("GAST-0001")
    expect(preview).to_contain_text("(beim Import erzeugt)")
    screenshot(page, "import preview")
    assert event.attendees.count() == registered

    page.get_by_role("button", name="Import bestätigen").click()
    expect(page.locator(".messagelist li.success")).to_have_text("10 Teilnehmer importiert.")
    page.locator("#searchbar").fill("gast")
    page.get_by_role("button", name="Suchen").click()
    expect(page.locator("#result_list tbody tr")).to_have_count(10)
    expect(page.locator("#result_list tbody tr").first).to_contain_text("Nie eingecheckt")
    screenshot(page, "the ten imported attendees in the list")
    assert event.attendees.count() == registered + 10
    assert Attendee.objects.get(email="gast1@example.org").ticket_code == "GAST-0001"

    # The demo day on the chart, in Berlin time.
    page.goto(f"/admin/attendees/event/{event.pk}/change/")
    figure = page.locator("figure.attendees-occupancy")
    chart = figure.locator("svg")
    expect(chart.locator("polyline.occupancy-line")).to_be_visible()
    expect(chart.locator("text", has_text="Uhrzeit (Europe/Berlin)")).to_be_visible()
    expect(figure.locator("figcaption")).to_contain_text("Europe/Berlin")
    # The day opens at 08:00 in Berlin, 07:00 UTC in winter and 06:00 in summer.
    opens = event.starts_at.astimezone(ZoneInfo(BERLIN))
    assert (opens.hour, opens.minute) == (8, 0)
    expect(chart.locator("desc")).to_contain_text(f"{opens:%Y-%m-%d} 08:00")
    expect(chart.locator("text", has_text="08:00").first).to_be_visible()
    screenshot(page, "demo event with its day on the chart")
    screenshot(Element(figure), "the demo day's chart")
    assert unreadable_labels(chart) == []

    # At the door, Gast2's ticket is scanned by mistake; the organizer voids the check-in.
    wrong = Attendee.objects.get(email="gast2@example.org")
    door_staff = get_user_model().objects.get(username="door")
    services.check_in(attendee=wrong, by=door_staff, station="Haupteingang", source=Record.Source.SCAN)
    page.goto("/admin/attendees/attendee/?q=gast2")
    page.get_by_role("link", name="Neu2").click()
    expect(page.locator(".field-state .readonly")).to_have_text("Drinnen")
    void = page.locator("#void-record-form")
    record = wrong.records.get()
    void.get_by_label("Eintrag").select_option(str(record.pk))
    void.get_by_label("Grund").fill("Falsches Ticket gescannt")
    screenshot(page, "voiding a wrong check-in")
    void.get_by_role("button", name="Eintrag stornieren").click()
    scanned_at = record.at.astimezone(ZoneInfo(BERLIN))
    expect(page.locator(".messagelist li.success")).to_have_text(
        f"Check-in um {scanned_at:%Y-%m-%d %H:%M:%S} {scanned_at.tzname()} storniert, "
        "ebenso der Aufenthalt, den er begonnen hat."
    )
    expect(page.locator(".field-state .readonly")).to_have_text("Nie eingecheckt")
    voided = page.locator(f"#record-{record.pk}")
    expect(voided).to_have_class(re.compile(r"\bvoided\b"))
    expect(voided).to_contain_text("Haupteingang")
    expect(voided).to_contain_text("von admin: Falsches Ticket gescannt")
    screenshot(page, "check-in voided in the history")
    record.refresh_from_db()
    assert record.voided_at is not None
    assert record.void_reason == "Falsches Ticket gescannt"

    # The attendance of the demo event as CSV.
    page.goto("/admin/attendees/event/")
    page.locator("#result_list tbody tr", has_text=demo_data.EVENT_NAME).get_by_role("checkbox").check()
    page.locator("select[name=action]").select_option(
        label="Anwesenheit der ausgewählten Veranstaltungen als CSV exportieren"
    )
    screenshot(page, "export action chosen")
    with (
        page.expect_response(lambda response: response.request.method == "POST") as answer,
        page.expect_download() as download,
    ):
        page.get_by_role("button", name="Ausführen").click()
    assert answer.value.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(download.value.path().read_text(encoding="utf-8"))))
    assert download.value.suggested_filename == "attendance.csv"
    assert len(rows) == registered + 10
    imported = {row["email"]: row for row in rows if row["email"].startswith("gast")}
    assert sorted(imported) == sorted(f"gast{n}@example.org" for n in range(1, 11))
    assert imported["gast1@example.org"]["name"] == "Gast1 Neu1"
    # The voided check-in counts for nothing: Gast2 never came.
    gast2 = imported["gast2@example.org"]
    assert (gast2["state"], gast2["visits"]) == ("never_arrived", "0")
