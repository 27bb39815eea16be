"""Tickets: the public ticket page and its QR code, the ticket email and badge admin actions,
the ticket code in the attendee admin, and the read-only admin of refused scans."""

import io
import itertools
import logging
import re
from datetime import UTC, datetime
from xml.etree import ElementTree

import pytest
import zxingcpp
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.mail.backends import locmem
from django.utils import timezone
from PIL import Image, ImageColor, ImageDraw

from attendees.models import Attendee, Event, RefusedScan, new_ticket_code

CHANGELIST = "/admin/attendees/attendee/"
REFUSED_SCANS = "/admin/attendees/refusedscan/"
PRIVATE_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex"}
ORGANIZERS_CODE = "EXT-2026:0042.a_b"


# Reading QR codes back: the SVG the server sends is drawn here from its own path data, so
# the decoder reads what a browser would show, not what the server meant to draw.

NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)"


def rasterize_svg(svg: str | bytes, *, width: int = 400) -> Image.Image:
    """A greyscale image of an SVG made of paths with straight, axis-parallel edges (what
    QR code writers draw): filled areas, and lines stroked with `stroke-width`."""
    root = ElementTree.fromstring(svg)
    if root.get("viewBox"):
        _, _, svg_width, svg_height = (float(n) for n in root.get("viewBox").split())
    else:
        svg_width, svg_height = float(root.get("width")), float(root.get("height"))
    zoom = width / svg_width
    image = Image.new("L", (width, round(svg_height * zoom)), 255)
    draw = ImageDraw.Draw(image)

    def walk(element, scale: float) -> None:
        scale *= transform_scale(element.get("transform"))
        if element.tag.rpartition("}")[2] == "path":
            draw_path(draw, element, scale)
        for child in element:
            walk(child, scale)

    walk(root, zoom)
    return image


def transform_scale(transform: str | None) -> float:
    if not transform:
        return 1.0
    match = re.fullmatch(rf"\s*scale\(({NUMBER})\)\s*", transform)
    assert match, f"cannot draw transform {transform!r}"
    return float(match[1])


def subpaths(d: str) -> list[list[tuple[float, float]]]:
    """The points of each subpath of path data using M m H h V v Z z."""
    paths, x, y = [], 0.0, 0.0
    for command, arguments in re.findall(r"([A-Za-z])([^A-Za-z]*)", d):
        numbers = [float(n) for n in re.findall(NUMBER, arguments)]
        assert command in "MmHhVvZz", f"cannot draw path command {command!r}"
        if command in "Mm":
            for i in range(0, len(numbers), 2):
                dx, dy = numbers[i], numbers[i + 1]
                x, y = (x + dx, y + dy) if command == "m" else (dx, dy)
                if i == 0:
                    paths.append([(x, y)])
                else:
                    paths[-1].append((x, y))
        elif command in "Hh":
            for n in numbers:
                x = x + n if command == "h" else n
                paths[-1].append((x, y))
        elif command in "Vv":
            for n in numbers:
                y = y + n if command == "v" else n
                paths[-1].append((x, y))
        else:
            x, y = paths[-1][0]
    return paths


def draw_path(draw, path, scale: float) -> None:
    stroke, fill = path.get("stroke"), path.get("fill", "#000")
    half_width = float(path.get("stroke-width", "1")) / 2
    for points in subpaths(path.get("d")):
        if fill != "none" and polygon_area(points):
            draw.polygon([(x * scale, y * scale) for x, y in points], fill=ImageColor.getcolor(fill, "L"))
        if stroke and stroke != "none":
            for (x0, y0), (x1, y1) in itertools.pairwise(points):
                assert x0 == x1 or y0 == y1, "cannot draw a slanted line"
                # A stroke widens a line across its direction.
                pad_x, pad_y = (half_width, 0) if x0 == x1 else (0, half_width)
                left, top = (min(x0, x1) - pad_x) * scale, (min(y0, y1) - pad_y) * scale
                right, bottom = (max(x0, x1) + pad_x) * scale, (max(y0, y1) + pad_y) * scale
                # PIL fills a rectangle's far edges too; an SVG area ends before them.
                box = [round(left), round(top), round(right) - 1, round(bottom) - 1]
                draw.rectangle(box, fill=ImageColor.getcolor(stroke, "L"))


def polygon_area(points) -> float:
    return abs(sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(points, points[1:] + points[:1], strict=True))) / 2


def decoded_qr_codes(image) -> list[str]:
    return [barcode.text for barcode in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)]


def inline_svgs(html: str) -> list[str]:
    return re.findall(r"<svg\b.*?</svg>", html, flags=re.DOTALL)


# Admin helpers


def action_post(action: str, attendees) -> dict:
    return {"action": action, ACTION_CHECKBOX_NAME: [a.pk for a in attendees], "index": 0}


def offered_actions(response) -> set[str]:
    action_form = response.context["action_form"]
    if action_form is None:
        return set()
    return {name for name, _ in action_form.fields["action"].choices if name}


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def create_attendees(event, count: int) -> list[Attendee]:
    return Attendee.objects.bulk_create(
        Attendee(event=event, first_name=f"Bulk{n}", last_name=f"Person{n}", email=f"bulk{n}@example.org")
        for n in range(count)
    )


@pytest.fixture
def editor_client(admin_client_as):
    return admin_client_as("editor")


@pytest.fixture
def viewer_client(admin_client_as):
    return admin_client_as("viewer")


@pytest.fixture
def locmem_email(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


class RefusingBackend(locmem.EmailBackend):
    """The locmem backend, refusing mail to anyone at refused.example with an error that
    quotes the message, and noting every connection made and opened."""

    made: list["RefusingBackend"] = []
    opened: list["RefusingBackend"] = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        RefusingBackend.made.append(self)

    def open(self):
        RefusingBackend.opened.append(self)
        return super().open()

    def send_messages(self, messages):
        for message in messages:
            if any(address.endswith("@refused.example") for address in message.to):
                raise RuntimeError(f"refused: {message.body}")
        return super().send_messages(messages)


@pytest.fixture
def refusing_email(settings, mailoutbox):
    settings.EMAIL_BACKEND = f"{__name__}.RefusingBackend"
    RefusingBackend.made.clear()
    RefusingBackend.opened.clear()
    return mailoutbox


@pytest.fixture
def ada(make_attendee, event) -> Attendee:
    event.starts_at = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
    event.save()
    return make_attendee(first_name="Ada", last_name="Lovelace", email="ada@example.org")


# The ticket page


def test_ticket_page_shows_the_event_the_attendee_and_the_qr_code_inline(client, ada):
    response = client.get(f"/tickets/{ada.ticket_code}/")

    html = response.content.decode()
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert "PyCon" in html
    assert "Ada Lovelace" in html
    assert len(inline_svgs(html)) == 1
    assert "Show this code at the door" in html


def test_ticket_page_shows_the_event_start_in_local_time_with_the_zone_name(client, ada):
    Event.objects.filter(pk=ada.event_id).update(timezone="Europe/Berlin")

    html = client.get(f"/tickets/{ada.ticket_code}/").content.decode()

    assert "Tuesday, Nov. 24, 2026, 9 a.m." in html
    assert "(Europe/Berlin)" in html
    assert 'datetime="2026-11-24T09:00:00+01:00"' in html


def test_ticket_page_of_an_event_without_a_start_shows_no_time(client, make_attendee):
    attendee = make_attendee(first_name="Ada", last_name="Lovelace")

    response = client.get(f"/tickets/{attendee.ticket_code}/")

    assert response.status_code == 200
    assert "<time" not in response.content.decode()


@pytest.mark.parametrize("ticket_code", [None, ORGANIZERS_CODE], ids=["made-up", "organizers"])
def test_ticket_page_qr_code_decodes_to_exactly_the_ticket_code(client, make_attendee, ticket_code):
    attendee = make_attendee(**({"ticket_code": ticket_code} if ticket_code else {}))

    [svg] = inline_svgs(client.get(f"/tickets/{attendee.ticket_code}/").content.decode())

    assert decoded_qr_codes(rasterize_svg(svg)) == [attendee.ticket_code]


def test_ticket_page_of_an_unknown_code_is_not_found(client, ada):
    response = client.get(f"/tickets/{new_ticket_code()}/")

    assert response.status_code == 404
    assert "No ticket has this code" in response.content.decode()
    assert "Ada" not in response.content.decode()


def test_ticket_page_is_found_by_the_exact_code_only(client, ada):
    assert client.get(f"/tickets/{ada.ticket_code.swapcase()}/").status_code == 404
    assert client.get(f"/tickets/{ada.ticket_code[:-1]}/").status_code == 404


@pytest.mark.parametrize("path", ["/tickets/{code}/", "/tickets/{code}/qr.svg"], ids=["page", "qr"])
@pytest.mark.parametrize("known", [True, False], ids=["known", "unknown"])
def test_ticket_page_and_qr_code_are_neither_cached_nor_referred_nor_indexed(client, ada, path, known):
    code = ada.ticket_code if known else new_ticket_code()

    response = client.get(path.format(code=code))

    assert response.status_code == (200 if known else 404)
    assert {name: response[name] for name in PRIVATE_HEADERS} == PRIVATE_HEADERS


def test_ticket_page_needs_no_login(client, ada):
    response = client.get(f"/tickets/{ada.ticket_code}/")

    assert response.status_code == 200
    assert not response.wsgi_request.user.is_authenticated


def test_ticket_page_refuses_a_post(client, ada):
    assert client.post(f"/tickets/{ada.ticket_code}/").status_code == 405


def test_qr_code_is_an_svg_image(client, ada):
    response = client.get(f"/tickets/{ada.ticket_code}/qr.svg")

    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    assert ElementTree.fromstring(response.content).tag == "{http://www.w3.org/2000/svg}svg"


@pytest.mark.parametrize("ticket_code", [None, ORGANIZERS_CODE], ids=["made-up", "organizers"])
def test_qr_code_decodes_to_exactly_the_ticket_code(client, make_attendee, ticket_code):
    attendee = make_attendee(**({"ticket_code": ticket_code} if ticket_code else {}))

    response = client.get(f"/tickets/{attendee.ticket_code}/qr.svg")

    assert decoded_qr_codes(rasterize_svg(response.content)) == [attendee.ticket_code]


def test_qr_code_of_an_unknown_code_is_not_found(client, ada):
    response = client.get(f"/tickets/{new_ticket_code()}/qr.svg")

    assert response.status_code == 404
    assert not response["Content-Type"].startswith("image/")


# Emailing tickets


def test_email_tickets_action_sends_each_selected_attendee_a_link_to_their_ticket(
    editor_client, locmem_email, mailoutbox, make_attendee
):
    chosen = [make_attendee(), make_attendee()]
    make_attendee(email="not-chosen@example.org")

    editor_client.post(CHANGELIST, action_post("email_tickets", chosen))

    assert sorted(message.to for message in mailoutbox) == sorted([attendee.email] for attendee in chosen)
    for attendee in chosen:
        [message] = [message for message in mailoutbox if message.to == [attendee.email]]
        assert f"http://testserver/tickets/{attendee.ticket_code}/" in message.body
        assert "PyCon" in message.subject


def test_ticket_email_has_a_text_part_and_an_html_part_with_the_link_and_the_qr_code_inline(
    editor_client, locmem_email, mailoutbox, ada
):
    editor_client.post(CHANGELIST, action_post("email_tickets", [ada]))

    [message] = mailoutbox
    [(html, mimetype)] = message.alternatives
    assert mimetype == "text/html"
    assert "Hello Ada" in message.body
    assert f'href="http://testserver/tickets/{ada.ticket_code}/"' in html
    [svg] = inline_svgs(html)
    assert decoded_qr_codes(rasterize_svg(svg)) == [ada.ticket_code]


def test_ticket_email_shows_the_event_start_in_local_time_with_the_zone_name(
    editor_client, locmem_email, mailoutbox, ada
):
    Event.objects.filter(pk=ada.event_id).update(timezone="Europe/Berlin")

    editor_client.post(CHANGELIST, action_post("email_tickets", [ada]))

    [message] = mailoutbox
    assert "It starts on Tuesday, Nov. 24, 2026, at 9 a.m. (Europe/Berlin)." in message.body


def test_ticket_email_attaches_the_qr_code_as_a_png_that_decodes_to_the_ticket_code(
    editor_client, locmem_email, mailoutbox, ada
):
    editor_client.post(CHANGELIST, action_post("email_tickets", [ada]))

    [message] = mailoutbox
    [(filename, content, mimetype)] = message.attachments
    assert (filename, mimetype) == ("ticket-qr.png", "image/png")
    assert decoded_qr_codes(Image.open(io.BytesIO(content))) == [ada.ticket_code]


def test_email_tickets_action_reports_how_many_were_sent(editor_client, locmem_email, make_attendee):
    attendees = [make_attendee() for _ in range(3)]

    response = editor_client.post(CHANGELIST, action_post("email_tickets", attendees), follow=True)

    assert messages_of(response) == ["Emailed tickets to 3 attendees."]


def test_email_tickets_action_of_one_attendee_uses_the_singular(editor_client, locmem_email, ada):
    response = editor_client.post(CHANGELIST, action_post("email_tickets", [ada]), follow=True)

    assert messages_of(response) == ["Emailed a ticket to 1 attendee."]


def test_email_tickets_action_counts_a_refused_email_as_failed_and_sends_the_others(
    editor_client, refusing_email, make_attendee
):
    attendees = [make_attendee(), make_attendee(email="nobody@refused.example"), make_attendee()]

    response = editor_client.post(CHANGELIST, action_post("email_tickets", attendees), follow=True)

    assert messages_of(response) == ["Emailed tickets to 2 attendees; 1 could not be sent."]
    assert sorted(message.to[0] for message in refusing_email) == sorted([attendees[0].email, attendees[2].email])


def test_email_tickets_action_of_only_refused_emails_reports_an_error(editor_client, refusing_email, make_attendee):
    attendees = [make_attendee(email="one@refused.example"), make_attendee(email="two@refused.example")]

    response = editor_client.post(CHANGELIST, action_post("email_tickets", attendees), follow=True)

    [message] = response.context["messages"]
    assert str(message) == "Emailed tickets to 0 attendees; 2 could not be sent."
    assert message.level_tag == "error"


def test_email_tickets_action_opens_one_connection_for_the_whole_batch(editor_client, refusing_email, make_attendee):
    attendees = [make_attendee() for _ in range(5)]

    editor_client.post(CHANGELIST, action_post("email_tickets", attendees))

    assert len(refusing_email) == 5
    assert len(RefusingBackend.made) == 1
    assert len(RefusingBackend.opened) == 1


def test_refused_ticket_email_is_logged_without_the_ticket_code(editor_client, refusing_email, make_attendee, caplog):
    refused = make_attendee(email="nobody@refused.example")

    editor_client.post(CHANGELIST, action_post("email_tickets", [refused]))

    assert f"attendee {refused.pk}" in caplog.text
    assert refused.ticket_code not in caplog.text


def test_email_tickets_action_reports_every_ticket_failed_when_the_mail_server_is_down(
    editor_client, settings, make_attendee
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2
    attendees = [make_attendee(), make_attendee()]

    response = editor_client.post(CHANGELIST, action_post("email_tickets", attendees), follow=True)

    assert messages_of(response) == ["Emailed tickets to 0 attendees; 2 could not be sent."]


# Measured: the action request costs the same whatever the number selected.
EMAIL_ACTION_QUERIES = 8


@pytest.mark.parametrize("size", [3, 30])
def test_email_tickets_action_runs_in_a_constant_number_of_queries(
    editor_client, locmem_email, mailoutbox, event, django_assert_num_queries, size
):
    attendees = create_attendees(event, size)

    with django_assert_num_queries(EMAIL_ACTION_QUERIES):
        editor_client.post(CHANGELIST, action_post("email_tickets", attendees))

    assert len(mailoutbox) == size


# Printing badges


def test_print_badges_action_shows_each_selected_attendee_with_event_and_qr_code(editor_client, make_attendee):
    chosen = [
        make_attendee(first_name="Ada", last_name="Lovelace"),
        make_attendee(first_name="Alan", last_name="Turing"),
    ]
    make_attendee(first_name="Grace", last_name="Hopper")

    response = editor_client.post(CHANGELIST, action_post("print_badges", chosen))

    html = response.content.decode()
    assert response.status_code == 200
    for name in ("Ada", "Lovelace", "Alan", "Turing"):
        assert name in html
    assert "Grace" not in html
    assert html.count('class="badge-event">PyCon<') == 2
    assert [decoded_qr_codes(rasterize_svg(svg)) for svg in inline_svgs(html)] == [[a.ticket_code] for a in chosen]


def test_badge_sheet_has_print_rules_that_keep_each_badge_on_one_a4_page(editor_client, ada):
    html = editor_client.post(CHANGELIST, action_post("print_badges", [ada])).content.decode()

    assert "@media print" in html
    assert re.search(r"@page\s*{\s*size:\s*A4", html)
    assert "break-inside: avoid" in html
    assert re.search(r"@media print\s*{[^@]*\.no-print\s*{\s*display:\s*none", html)
    assert re.search(r'<header class="toolbar no-print">.*<button[^>]*>Print</button>', html, flags=re.DOTALL)


def test_badge_sheet_puts_eight_badges_on_a_sheet(editor_client, event):
    attendees = create_attendees(event, 17)

    html = editor_client.post(CHANGELIST, action_post("print_badges", attendees)).content.decode()

    sheets = html.split('<section class="sheet">')[1:]
    assert [sheet.count('<article class="badge">') for sheet in sheets] == [8, 8, 1]


def test_badge_sheet_is_neither_cached_nor_referred_nor_indexed(editor_client, ada):
    response = editor_client.post(CHANGELIST, action_post("print_badges", [ada]))

    # The admin adds its own never-cache directives to no-store.
    assert "no-store" in response["Cache-Control"].split(", ")
    assert (response["Referrer-Policy"], response["X-Robots-Tag"]) == ("no-referrer", "noindex")


# Measured, as for the emails.
BADGES_ACTION_QUERIES = 8


@pytest.mark.parametrize("size", [3, 30])
def test_print_badges_action_runs_in_a_constant_number_of_queries(
    editor_client, event, django_assert_num_queries, size
):
    attendees = create_attendees(event, size)

    with django_assert_num_queries(BADGES_ACTION_QUERIES):
        response = editor_client.post(CHANGELIST, action_post("print_badges", attendees))

    assert response.content.decode().count('<article class="badge">') == size


# Who may use the ticket actions


def test_ticket_actions_are_offered_to_staff_who_may_change_attendees(editor_client, ada):
    response = editor_client.get(CHANGELIST)

    assert {"email_tickets", "print_badges"} <= offered_actions(response)
    html = response.content.decode()
    assert "Email tickets to selected attendees" in html
    assert "Print badges for selected attendees" in html


@pytest.mark.parametrize("role", ["viewer", "door_staff"])
def test_ticket_actions_are_not_offered_without_change_attendee(client, make_user, ada, role):
    client.force_login(make_user(role, is_staff=True))

    response = client.get(CHANGELIST)

    assert response.status_code == 200
    assert not offered_actions(response) & {"email_tickets", "print_badges"}


def test_email_tickets_action_posted_without_change_attendee_sends_nothing(
    admin_door_client, locmem_email, mailoutbox, ada
):
    admin_door_client.post(CHANGELIST, action_post("email_tickets", [ada]), follow=True)

    assert mailoutbox == []


def test_print_badges_action_posted_without_change_attendee_shows_no_badge(admin_door_client, ada):
    response = admin_door_client.post(CHANGELIST, action_post("print_badges", [ada]), follow=True)

    assert ada.ticket_code not in response.content.decode()
    assert '<article class="badge">' not in response.content.decode()


# The ticket code in the attendee admin


def add_attendee_data(event, **fields) -> dict:
    return {"event": event.pk, "first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.org", **fields}


def test_attendee_added_with_an_empty_ticket_code_gets_one_made_up(editor_client, event):
    response = editor_client.post(f"{CHANGELIST}add/", add_attendee_data(event, ticket_code=""))

    assert response.status_code == 302
    code = Attendee.objects.get().ticket_code
    assert re.fullmatch(r"[A-Za-z0-9_-]{16,32}", code)


def test_attendee_add_page_offers_an_empty_ticket_code_field(editor_client, event):
    html = editor_client.get(f"{CHANGELIST}add/").content.decode()

    assert re.search(r'<input type="text" name="ticket_code"(?![^>]*value=)[^>]*>', html)


def test_attendee_added_with_an_organizers_ticket_code_keeps_it(editor_client, event):
    editor_client.post(f"{CHANGELIST}add/", add_attendee_data(event, ticket_code=ORGANIZERS_CODE))

    assert Attendee.objects.get().ticket_code == ORGANIZERS_CODE


def test_attendee_change_page_shows_the_ticket_code_to_edit(editor_client, ada):
    html = editor_client.get(f"{CHANGELIST}{ada.pk}/change/").content.decode()

    assert f'name="ticket_code" value="{ada.ticket_code}"' in html


def test_attendee_changed_to_an_organizers_ticket_code_has_it(editor_client, event, ada):
    editor_client.post(f"{CHANGELIST}{ada.pk}/change/", add_attendee_data(event, ticket_code=ORGANIZERS_CODE))

    ada.refresh_from_db()
    assert ada.ticket_code == ORGANIZERS_CODE


def test_attendee_changed_with_an_empty_ticket_code_keeps_theirs(editor_client, event, ada):
    before = ada.ticket_code

    response = editor_client.post(f"{CHANGELIST}{ada.pk}/change/", add_attendee_data(event, ticket_code=""))

    assert response.status_code == 302
    ada.refresh_from_db()
    assert ada.ticket_code == before


def test_attendee_changed_to_another_attendees_ticket_code_is_refused_under_the_field(
    editor_client, event, ada, make_attendee
):
    other = make_attendee()

    response = editor_client.post(
        f"{CHANGELIST}{ada.pk}/change/", add_attendee_data(event, ticket_code=other.ticket_code)
    )

    assert response.status_code == 200
    assert "ticket_code" in response.context["adminform"].form.errors


@pytest.mark.parametrize("bad_code", ["short", "has space", "x" * 65, "slash/ed"])
def test_attendee_added_with_a_malformed_ticket_code_is_refused_under_the_field(editor_client, event, bad_code):
    response = editor_client.post(f"{CHANGELIST}add/", add_attendee_data(event, ticket_code=bad_code))

    assert response.status_code == 200
    assert "ticket_code" in response.context["adminform"].form.errors
    assert not Attendee.objects.exists()


def test_attendee_change_page_hides_the_ticket_code_from_staff_who_may_only_view(viewer_client, ada):
    response = viewer_client.get(f"{CHANGELIST}{ada.pk}/change/")

    assert response.status_code == 200
    assert "Lovelace" in response.content.decode()
    assert ada.ticket_code not in response.content.decode()


def test_admin_search_finds_an_attendee_by_the_whole_ticket_code_only(editor_client, ada, make_attendee):
    make_attendee()

    whole = editor_client.get(CHANGELIST, {"q": ada.ticket_code})
    part = editor_client.get(CHANGELIST, {"q": ada.ticket_code[:-1]})

    assert [attendee.pk for attendee in whole.context["cl"].result_list] == [ada.pk]
    assert list(part.context["cl"].result_list) == []


@pytest.mark.parametrize("lookup", ["ticket_code__startswith", "ticket_code"])
def test_ticket_code_filter_in_the_url_is_refused_without_change_attendee(viewer_client, ada, lookup):
    response = viewer_client.get(CHANGELIST, {lookup: ada.ticket_code[:1]})

    assert response.status_code == 400


def test_ticket_code_filter_in_the_url_works_for_staff_who_may_see_codes(editor_client, ada, make_attendee):
    make_attendee()

    response = editor_client.get(CHANGELIST, {"ticket_code": ada.ticket_code})

    assert [attendee.pk for attendee in response.context["cl"].result_list] == [ada.pk]


# Refused scans, read-only


@pytest.fixture
def refused_scan(ada, make_user) -> RefusedScan:
    now = timezone.now()
    return RefusedScan.objects.create(
        at=now,
        recorded_at=now,
        ticket_code="Scanned-Secret-0001",
        event=ada.event,
        attendee=ada,
        direction=RefusedScan.Direction.IN,
        station="North door",
        reason="already_checked_in",
        recorded_by=make_user("door_staff", username="scanner"),
    )


def test_refused_scan_list_shows_the_scans_with_what_was_scanned_to_staff_who_may_see_codes(
    editor_client, refused_scan
):
    response = editor_client.get(REFUSED_SCANS)

    html = response.content.decode()
    assert response.status_code == 200
    for text in ("already_checked_in", "PyCon", "Ada Lovelace", "North door", "scanner", "Scanned-Secret-0001"):
        assert text in html


@pytest.mark.parametrize("role", ["viewer", "door_staff"])
def test_refused_scan_list_hides_what_was_scanned_from_staff_without_change_attendee(
    client, make_user, refused_scan, role
):
    client.force_login(make_user(role, is_staff=True))

    response = client.get(REFUSED_SCANS)

    html = response.content.decode()
    assert response.status_code == 200
    assert "already_checked_in" in html
    assert "Scanned-Secret-0001" not in html


def test_refused_scan_page_hides_what_was_scanned_from_staff_without_change_attendee(viewer_client, refused_scan):
    response = viewer_client.get(f"{REFUSED_SCANS}{refused_scan.pk}/change/")

    assert response.status_code == 200
    assert "North door" in response.content.decode()
    assert "Scanned-Secret-0001" not in response.content.decode()


def test_refused_scan_filter_by_scanned_code_in_the_url_is_refused_without_change_attendee(viewer_client, refused_scan):
    response = viewer_client.get(REFUSED_SCANS, {"ticket_code__startswith": "S"})

    assert response.status_code == 400


@pytest.mark.parametrize(
    "query", [{"event__id__exact": "{event}"}, {"reason": "already_checked_in"}, {"offline__exact": "0"}]
)
def test_refused_scan_list_filters_by_event_reason_and_offline(editor_client, refused_scan, query):
    query = {name: value.format(event=refused_scan.event_id) for name, value in query.items()}

    response = editor_client.get(REFUSED_SCANS, query)

    assert list(response.context["cl"].result_list) == [refused_scan]


def test_refused_scan_list_is_hidden_from_staff_who_may_not_view_attendees(client, make_user, refused_scan):
    client.force_login(make_user("no_permission", is_staff=True))

    assert client.get(REFUSED_SCANS).status_code == 403


def test_refused_scans_cannot_be_added_changed_or_deleted_even_by_a_superuser(client, make_user, refused_scan):
    client.force_login(make_user("superuser", is_staff=True))
    before = RefusedScan.objects.filter(pk=refused_scan.pk).values().get()

    add = client.post(f"{REFUSED_SCANS}add/", {"reason": "unknown_ticket"})
    change = client.post(f"{REFUSED_SCANS}{refused_scan.pk}/change/", {"reason": "tampered", "station": "Back door"})
    delete = client.post(f"{REFUSED_SCANS}{refused_scan.pk}/delete/", {"post": "yes"})
    client.post(REFUSED_SCANS, {**action_post("delete_selected", [refused_scan]), "post": "yes"})

    assert (add.status_code, change.status_code, delete.status_code) == (403, 403, 403)
    assert RefusedScan.objects.filter(pk=refused_scan.pk).values().get() == before
    assert "delete_selected" not in offered_actions(client.get(REFUSED_SCANS))


@pytest.mark.parametrize("suffix", ["", "qr.svg"])
def test_an_unknown_code_asked_for_is_never_written_to_a_log(client, db, caplog, suffix):
    # The project's logging keeps django.* from reaching the root logger: listen on it directly.
    request_log = logging.getLogger("django.request")
    request_log.addHandler(caplog.handler)
    try:
        response = client.get(f"/tickets/Almost-A-Real-Code-123/{suffix}")
        client.get("/api/no-such-page/")
    finally:
        request_log.removeHandler(caplog.handler)

    assert response.status_code == 404
    # Other 404s are still logged: the handler hears them.
    assert "Not Found: /api/no-such-page/" in caplog.text
    assert "Almost-A-Real-Code-123" not in caplog.text
