"""Areas and capacity in the admin: the areas edited inline on the event page, the
figures and the chart per area, the attendee list's "inside longer than" filter and
current area, and the event list's counts and door link."""

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from django.urls import reverse
from django.utils import timezone

from attendees import charts, selectors, services
from attendees.models import Area, Attendee, Event, Record, Visit

from .test_admin import CHANGELIST_QUERIES

EVENTS = "/admin/attendees/event/"
ATTENDEES = "/admin/attendees/attendee/"
SVG = "{http://www.w3.org/2000/svg}"


def at(hour: int, minute: int) -> datetime:
    return datetime(2025, 3, 14, hour, minute, tzinfo=UTC)


def check_in(attendee: Attendee, moment: datetime, area: Area | None = None) -> None:
    with mock.patch("django.utils.timezone.now", return_value=moment):
        services.check_in(attendee=attendee, by=None, area=area)


def check_out(attendee: Attendee, moment: datetime, area: Area | None = None) -> None:
    with mock.patch("django.utils.timezone.now", return_value=moment):
        services.check_out(attendee=attendee, by=None, area=area)


@pytest.fixture
def hall(event) -> Area:
    return Area.objects.create(event=event, name="Main hall", capacity=10)


@pytest.fixture
def workshop(event) -> Area:
    return Area.objects.create(event=event, name="Workshop", capacity=2)


@pytest.fixture
def garden(event) -> Area:
    return Area.objects.create(event=event, name="Garden")


@pytest.fixture
def morning(event, make_attendee, hall, workshop, garden) -> Event:
    """PyCon from 10:00 to 11:00, capacity 100, with a garden nobody goes to.

    ada    Main hall 10:00, moves to the workshop at 10:30
    grace  Workshop 10:15
    alan   Main hall 10:20, leaves the event at 10:50
    linus  the event only, 10:40
    """
    event.starts_at, event.ends_at, event.capacity = at(10, 0), at(11, 0), 100
    event.save()
    people = {name: make_attendee(first_name=name.title(), email=f"{name}@example.org") for name in NAMES}
    check_in(people["ada"], at(10, 0), hall)
    check_in(people["grace"], at(10, 15), workshop)
    check_in(people["alan"], at(10, 20), hall)
    check_in(people["ada"], at(10, 30), workshop)
    check_in(people["linus"], at(10, 40))
    check_out(people["alan"], at(10, 50))
    return event


NAMES = ("ada", "grace", "alan", "linus")


# The areas inline


def event_form(event: Event | None = None, **fields) -> dict:
    """The event page's own fields as the browser posts them (split date and time):
    `event`'s, or those of a new event (PyCon DE, in Berlin)."""
    return {
        "name": event.name if event else "PyCon DE",
        "timezone": event.timezone if event else "Europe/Berlin",
        "starts_at_0": "",
        "starts_at_1": "",
        "ends_at_0": "",
        "ends_at_1": "",
        "auto_checkout_at_0": "",
        "auto_checkout_at_1": "",
        "capacity": "" if event is None or event.capacity is None else str(event.capacity),
        **fields,
    }


def areas_form(event: Event, *, new: list[dict] = (), changes: dict[Area, dict] | None = None) -> dict:
    """The areas inline as the browser posts it: every existing area, with `changes`, then `new` ones."""
    changes = changes or {}
    existing = list(event.areas.order_by("name", "pk"))
    data = {
        "areas-TOTAL_FORMS": str(len(existing) + len(new)),
        "areas-INITIAL_FORMS": str(len(existing)),
        "areas-MIN_NUM_FORMS": "0",
        "areas-MAX_NUM_FORMS": "1000",
    }
    rows = [
        {"id": str(area.pk), "event": str(event.pk), "name": area.name, "capacity": area.capacity or ""}
        | changes.get(area, {})
        for area in existing
    ]
    rows += [{"id": "", "event": str(event.pk), **row} for row in new]
    for n, row in enumerate(rows):
        data |= {f"areas-{n}-{key}": value for key, value in row.items()}
    return data


def test_event_page_edits_the_areas_inline_with_the_number_inside_read_only(
    admin_superuser_client, event, hall, attendee
):
    services.check_in(attendee=attendee, by=None, area=hall)

    response = admin_superuser_client.get(f"{EVENTS}{event.pk}/change/")

    html = response.content.decode()
    assert response.status_code == 200
    assert re.search(r'name="areas-0-name"[^>]*value="Main hall"', html)
    assert re.search(r'name="areas-0-capacity"[^>]*value="10"', html)
    assert 'name="areas-0-inside"' not in html
    # The area's row, then the blank row the page copies for a new area.
    assert re.findall(r'<td class="field-inside">\s*<p>(.*?)</p>', html) == ["1", "0"]


def test_adding_an_area_inline_creates_it_for_the_event(admin_superuser_client, event, hall):
    data = event_form(event) | areas_form(event, new=[{"name": "Workshop", "capacity": "25"}])

    response = admin_superuser_client.post(f"{EVENTS}{event.pk}/change/", data)

    assert response.status_code == 302
    assert sorted(event.areas.values_list("name", "capacity")) == [("Main hall", 10), ("Workshop", 25)]


def test_an_area_named_as_another_of_the_event_is_refused_inline(admin_superuser_client, event, hall):
    data = event_form(event) | areas_form(event, new=[{"name": "Main hall", "capacity": ""}])

    response = admin_superuser_client.post(f"{EVENTS}{event.pk}/change/", data)

    assert response.status_code == 200
    assert event.areas.count() == 1


def test_changing_an_areas_capacity_inline_keeps_the_number_inside(admin_superuser_client, event, hall, make_attendee):
    for _ in range(3):
        services.check_in(attendee=make_attendee(), by=None, area=hall)

    data = event_form(event) | areas_form(event, changes={hall: {"name": "Great hall", "capacity": "2"}})
    response = admin_superuser_client.post(f"{EVENTS}{event.pk}/change/", data)

    assert response.status_code == 302
    hall.refresh_from_db()
    assert (hall.name, hall.capacity, hall.inside) == ("Great hall", 2, 3)


def test_deleting_an_area_nobody_was_in_inline_deletes_it(admin_superuser_client, event, hall, workshop):
    data = event_form(event) | areas_form(event, changes={workshop: {"DELETE": "on"}})

    response = admin_superuser_client.post(f"{EVENTS}{event.pk}/change/", data)

    assert response.status_code == 302
    assert list(event.areas.values_list("name", flat=True)) == ["Main hall"]


def test_deleting_an_area_with_history_inline_is_refused_with_the_reason_and_keeps_it(
    admin_superuser_client, event, hall, workshop, attendee
):
    services.check_in(attendee=attendee, by=None, area=hall)
    services.check_out(attendee=attendee, by=None, area=hall)
    records = list(Record.objects.values())

    data = event_form(event, name="PyCon US") | areas_form(
        event, changes={hall: {"DELETE": "on"}, workshop: {"DELETE": "on"}}
    )
    response = admin_superuser_client.post(f"{EVENTS}{event.pk}/change/", data)

    assert response.status_code == 200
    [errors] = [formset.non_form_errors() for formset in response.context["inline_admin_formsets"]]
    assert errors == [
        "The area “Main hall” cannot be deleted: people have been in it, and attendance history is kept forever."
    ]
    assert "attendance history is kept forever" in response.content.decode()
    # Nothing of the page was saved: neither area deleted, nor the event renamed.
    assert sorted(event.areas.values_list("name", flat=True)) == ["Main hall", "Workshop"]
    event.refresh_from_db()
    assert event.name == "PyCon"
    assert list(Record.objects.values()) == records


def test_event_posted_without_its_areas_keeps_them(admin_superuser_client, event, hall, workshop):
    response = admin_superuser_client.post(f"{EVENTS}{event.pk}/change/", event_form(event, name="PyCon US"))

    assert response.status_code == 302
    event.refresh_from_db()
    assert event.name == "PyCon US"
    assert sorted(event.areas.values_list("name", flat=True)) == ["Main hall", "Workshop"]


def test_event_capacity_is_set_on_the_event_page(admin_superuser_client, event):
    data = event_form(event, capacity="250") | areas_form(event)

    response = admin_superuser_client.post(f"{EVENTS}{event.pk}/change/", data)

    assert response.status_code == 302
    event.refresh_from_db()
    assert event.capacity == 250


def test_event_with_areas_is_created_on_the_add_page(admin_superuser_client):
    data = event_form(Event(name="EuroPython"), capacity="1200") | {
        "areas-TOTAL_FORMS": "2",
        "areas-INITIAL_FORMS": "0",
        "areas-0-name": "Room A",
        "areas-0-capacity": "300",
        "areas-1-name": "Room B",
        "areas-1-capacity": "",
    }

    response = admin_superuser_client.post(f"{EVENTS}add/", data)

    assert response.status_code == 302
    event = Event.objects.get(name="EuroPython")
    assert event.capacity == 1200
    assert sorted(event.areas.values_list("name", "capacity")) == [("Room A", 300), ("Room B", None)]


# The figures per area


def places_on(html: str) -> dict[str, list[str]]:
    [table] = re.findall(r'<table class="attendees-places">(.*?)</table>', html, re.DOTALL)
    [body] = re.findall(r"<tbody>(.*?)</tbody>", table, re.DOTALL)
    return {
        name: cells
        for name, *cells in re.findall(
            r'<tr><th scope="row">(.*?)</th><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td></tr>', body
        )
    }


def test_event_page_shows_inside_capacity_peak_and_check_ins_for_the_event_and_each_area(
    admin_superuser_client, morning
):
    response = admin_superuser_client.get(f"{EVENTS}{morning.pk}/change/")

    assert places_on(response.content.decode()) == {
        "Whole event": ["3 / 100", "4", "4"],
        "Garden": ["0 / no limit", "0", "0"],
        "Main hall": ["0 / 10", "2", "2"],
        "Workshop": ["2 / 2 (full)", "2", "2"],
    }


def test_event_page_says_when_an_area_is_over_its_lowered_capacity(admin_superuser_client, morning, workshop):
    workshop.capacity = 1
    workshop.save()

    response = admin_superuser_client.get(f"{EVENTS}{morning.pk}/change/")

    assert places_on(response.content.decode())["Workshop"][0] == "2 / 1 (over capacity)"


# The chart, one line per area


def svg_on(html: str) -> ET.Element:
    [svg] = re.findall(r'<svg\b[^>]*aria-labelledby="occupancy-title.*?</svg>', html, re.DOTALL)
    return ET.fromstring(svg)


def counts_drawn(svg: ET.Element, line: ET.Element) -> list[int]:
    """The counts a step polyline draws, one per point, read back through the y axis."""
    heights = [float(corner.split(",")[1]) for corner in line.get("points").split()]
    y_labels = svg.findall(f"{SVG}g[@text-anchor='end']/{SVG}text")
    top_value = max(int(text.text) for text in y_labels)
    plot_height = charts.HEIGHT - charts.TOP - charts.BOTTOM
    assert heights[::2] == heights[1::2]
    return [round(top_value * (1 - (y - charts.TOP) / plot_height)) for y in heights[::2]]


def test_occupancy_by_area_counts_who_is_in_each_area_at_the_events_times(morning, garden, hall, workshop):
    points, by_area = selectors.occupancy_by_area(morning, now=at(12, 0))

    quarters = [at(10, 0), at(10, 15), at(10, 30), at(10, 45), at(11, 0)]
    assert points == selectors.occupancy(morning, now=at(12, 0))
    assert [moment for moment, _ in points] == quarters
    assert [count for _, count in points] == [0, 1, 3, 4, 3]
    assert [(area, [count for _, count in line]) for area, line in by_area] == [
        (garden, [0, 0, 0, 0, 0]),
        (hall, [0, 1, 2, 1, 0]),  # ada 10:00-10:30, alan 10:20-10:50
        (workshop, [0, 0, 1, 2, 2]),  # grace since 10:15, ada since 10:30
    ]
    assert all([moment for moment, _ in line] == quarters for _, line in by_area)


@pytest.mark.parametrize("extra_areas", [0, 10])
def test_occupancy_by_area_reads_two_queries_whatever_the_number_of_areas(
    morning, django_assert_num_queries, extra_areas
):
    Area.objects.bulk_create(Area(event=morning, name=f"Room {n}") for n in range(extra_areas))

    # The areas, and the kept minutes of every place summed per step.
    with django_assert_num_queries(2):
        _, by_area = selectors.occupancy_by_area(morning, now=at(12, 0))

    assert len(by_area) == 3 + extra_areas


def test_occupancy_by_area_leaves_out_another_events_areas(morning, other_event, make_attendee):
    elsewhere = Area.objects.create(event=other_event, name="Main hall")
    check_in(make_attendee(event=other_event), at(10, 5), elsewhere)

    _, by_area = selectors.occupancy_by_area(morning, now=at(11, 0))

    assert elsewhere not in [area for area, _ in by_area]
    # This event's Main hall only: the other's, entered at 10:05, adds no one.
    assert dict((area.name, [count for _, count in line]) for area, line in by_area)["Main hall"] == [0, 1, 2, 1, 0]


def test_event_page_chart_draws_one_line_per_area_beside_the_events(admin_superuser_client, morning):
    response = admin_superuser_client.get(f"{EVENTS}{morning.pk}/change/")

    svg = svg_on(response.content.decode())
    [event_line] = svg.findall(f".//{SVG}polyline[@class='occupancy-line']")
    area_lines = list(svg.findall(f".//{SVG}polyline[@class='occupancy-area-line']"))
    assert counts_drawn(svg, event_line) == [0, 1, 3, 4, 3]
    assert {line.get("data-name"): counts_drawn(svg, line) for line in area_lines} == {
        "Garden": [0, 0, 0, 0, 0],
        "Main hall": [0, 1, 2, 1, 0],
        "Workshop": [0, 0, 1, 2, 2],
    }


def test_event_page_chart_labels_each_line_in_a_legend_with_its_own_dash_pattern(admin_superuser_client, morning):
    response = admin_superuser_client.get(f"{EVENTS}{morning.pk}/change/")

    svg = svg_on(response.content.decode())
    entries = svg.findall(f".//{SVG}g[@class='occupancy-legend-entry']")
    legend = {entry.find(f"{SVG}text").text: entry.find(f"{SVG}line") for entry in entries}
    assert list(legend) == ["Whole event", "Garden", "Main hall", "Workshop"]
    # Told apart without colour: the event's line is solid, each area's dashed its own way,
    # and each legend sample is drawn as its line.
    assert legend["Whole event"].get("stroke-dasharray") is None
    lines = {line.get("data-name"): line for line in svg.findall(f".//{SVG}polyline[@class='occupancy-area-line']")}
    dashes = [lines[name].get("stroke-dasharray") for name in ("Garden", "Main hall", "Workshop")]
    assert all(dashes)
    assert len(set(dashes)) == 3
    for name, line in lines.items():
        assert (legend[name].get("stroke"), legend[name].get("stroke-dasharray")) == (
            line.get("stroke"),
            line.get("stroke-dasharray"),
        )
    assert "Main hall: at most 2" in svg.find(f"{SVG}desc").text


def test_chart_legend_shortens_a_long_area_name_and_keeps_it_whole_in_a_tooltip():
    name = "The large lecture theatre on the second floor"
    points = [(at(10, 0), 0), (at(11, 0), 1)]

    svg = ET.fromstring(
        re.search(r"<svg\b.*</svg>", charts.occupancy_svg(points, areas=[(name, points)]), re.DOTALL)[0]
    )

    [_, entry] = svg.findall(f".//{SVG}g[@class='occupancy-legend-entry']")
    assert len(entry.find(f"{SVG}text").text) <= charts.LEGEND_NAME_CHARACTERS
    assert entry.find(f"{SVG}title").text == name


def test_chart_caption_names_the_step_only_when_there_is_one():
    quarters = [(at(10, 0), 0), (at(10, 15), 1), (at(10, 30), 2), (at(10, 40), 1)]
    start_and_end = [(at(10, 0), 0), (at(10, 13), 1)]

    assert "every 15 minutes" in charts.occupancy_svg(quarters)
    caption = charts.occupancy_svg(start_and_end)
    assert "every" not in caption
    assert "at the start and at the end" in caption


def test_chart_of_an_event_without_areas_has_one_line_and_no_legend(admin_superuser_client, morning):
    Record.objects.filter(area__isnull=False).delete()
    Visit.objects.filter(area__isnull=False).delete()
    Area.objects.filter(event=morning).delete()

    html = admin_superuser_client.get(f"{EVENTS}{morning.pk}/change/").content.decode()

    svg = svg_on(html)
    assert len(list(svg.iter(f"{SVG}polyline"))) == 1
    assert svg.find(f".//{SVG}g[@class='occupancy-legend']") is None


def test_chart_takes_its_colours_from_the_admins_theme(admin_superuser_client, morning):
    html = admin_superuser_client.get(f"{EVENTS}{morning.pk}/change/").content.decode()

    svg = svg_on(html)
    assert "var(--body-fg" in svg.get("style")
    assert "var(--body-bg" in svg.get("style")
    assert {text.get("fill") for text in svg.iter(f"{SVG}text") if text.get("fill")} == {"currentColor"}
    assert "#333" not in html.split('aria-labelledby="occupancy-title')[1].split("</svg>")[0].replace("#333)", "")


# The attendee list: inside longer than, and where they are


def listed(response) -> set[str]:
    return {attendee.first_name for attendee in response.context["cl"].result_list}


@pytest.fixture
def long_stays(make_attendee, hall, workshop) -> dict[str, Attendee]:
    """Who has been inside for how long, now.

    ada     inside for 3 hours
    alan    inside for 5 hours, moved from the hall to the workshop half an hour ago
    grace   came 6 hours ago, left 4 hours ago, back for half an hour
    edsger  came 9 hours ago and left
    linus   inside for 10 minutes
    """
    now = timezone.now()
    people = {name: make_attendee(first_name=name.title()) for name in ("ada", "alan", "grace", "edsger", "linus")}
    check_in(people["ada"], now - timedelta(hours=3))
    check_in(people["alan"], now - timedelta(hours=5), hall)
    check_in(people["alan"], now - timedelta(minutes=30), workshop)
    check_in(people["grace"], now - timedelta(hours=6))
    check_out(people["grace"], now - timedelta(hours=4))
    check_in(people["grace"], now - timedelta(minutes=30))
    check_in(people["edsger"], now - timedelta(hours=9))
    check_out(people["edsger"], now - timedelta(hours=8))
    check_in(people["linus"], now - timedelta(minutes=10))
    return people


@pytest.mark.parametrize(
    ("hours", "expected"),
    [(1, {"Ada", "Alan"}), (2, {"Ada", "Alan"}), (4, {"Alan"}), (8, set())],
)
def test_attendee_list_filters_who_has_been_inside_longer_than_a_time(admin_door_client, long_stays, hours, expected):
    response = admin_door_client.get(ATTENDEES, {"inside_longer_than": hours * 3600})

    assert response.status_code == 200
    assert listed(response) == expected


def test_attendee_list_offers_the_inside_longer_than_choices_in_hours(admin_door_client, long_stays):
    html = admin_door_client.get(ATTENDEES).content.decode()

    [choices] = re.findall(r"By inside longer than.*?</details>", html, re.DOTALL)
    assert re.findall(r'href="\?inside_longer_than=(\d+)"[^>]*>(.*?)</a>', choices) == [
        ("3600", "1 hour"),
        ("7200", "2 hours"),
        ("14400", "4 hours"),
        ("28800", "8 hours"),
    ]


def test_attendee_list_takes_any_whole_number_of_seconds_for_inside_longer_than(admin_door_client, long_stays):
    response = admin_door_client.get(ATTENDEES, {"inside_longer_than": 300})

    assert listed(response) == {"Ada", "Alan", "Grace", "Linus"}


@pytest.mark.parametrize("value", ["an hour", "1.5", "-60"])
def test_attendee_list_with_inside_longer_than_not_a_whole_number_says_so(admin_door_client, long_stays, value):
    response = admin_door_client.get(ATTENDEES, {"inside_longer_than": value})

    assert response.status_code == 302
    assert response["Location"].endswith("?e=1")


def area_cell(html: str, first_name: str) -> str:
    [row] = [row for row in re.split(r"<tr\b", html) if f">{first_name}<" in row]
    [cell] = re.findall(r'<td class="field-current_area[^"]*">(.*?)</td>', row)
    return cell


def test_attendee_list_shows_the_area_each_attendee_is_in_now(admin_door_client, long_stays):
    html = admin_door_client.get(ATTENDEES).content.decode()

    assert area_cell(html, "Alan") == "Workshop"
    assert area_cell(html, "Ada") == "-"
    assert area_cell(html, "Edsger") == "-"


def create_crowd_in_areas(event: Event, area: Area, size: int) -> None:
    """`size` attendees inside, half of them in `area`, who came three hours ago, and as many who left."""
    attendees = Attendee.objects.bulk_create(
        Attendee(event=event, first_name=f"Bulk{n}", last_name=f"Person{n}", email=f"bulk{n}@example.org")
        for n in range(2 * size)
    )
    came = timezone.now() - timedelta(hours=3)
    Visit.objects.bulk_create(
        Visit(attendee=attendee, checked_in_at=came, checked_out_at=came + timedelta(hours=1) if n >= size else None)
        for n, attendee in enumerate(attendees)
    )
    Visit.objects.bulk_create(
        Visit(attendee=attendee, checked_in_at=came, area=area) for attendee in attendees[::2][: size // 2]
    )
    services.recount()


@pytest.mark.parametrize("params", [{}, {"inside_longer_than": 3600}])
@pytest.mark.parametrize("size", [5, 50])
def test_attendee_list_with_areas_runs_in_a_constant_number_of_queries(
    admin_door_client, event, hall, django_assert_num_queries, size, params
):
    create_crowd_in_areas(event, hall, size)

    with django_assert_num_queries(CHANGELIST_QUERIES):
        response = admin_door_client.get(ATTENDEES, params)

    assert len(response.context["cl"].result_list) == (size if params else 2 * size)
    assert area_cell(response.content.decode(), "Bulk0") == "Main hall"


# The event list


def event_row(html: str, event: Event) -> dict[str, str]:
    [row] = [row for row in re.split(r"<tr\b", html) if f"/admin/attendees/event/{event.pk}/change/" in row]
    return dict(re.findall(r'<td class="field-(\w+)[^"]*">(.*?)</td>', row))


def test_event_list_shows_registered_inside_and_capacity(admin_door_client, morning, other_event, make_attendee):
    make_attendee(event=morning)
    other_event.capacity = None
    other_event.save()

    html = admin_door_client.get(EVENTS).content.decode()

    row = event_row(html, morning)
    assert (row["registered"], row["inside"], row["capacity"]) == ("5", "3", "100")
    other = event_row(html, other_event)
    assert (other["registered"], other["inside"], other["capacity"]) == ("0", "0", "-")


def test_event_list_links_each_event_to_its_door_page(admin_door_client, morning, other_event):
    html = admin_door_client.get(EVENTS).content.decode()

    for event in (morning, other_event):
        [href] = re.findall(r'href="([^"]*)"', event_row(html, event)["door"])
        assert href == f"{reverse('attendees:door')}?event={event.pk}"


def test_event_list_offers_no_door_link_to_those_who_may_not_use_the_door(client, make_user, morning):
    client.force_login(make_user("viewer", is_staff=True))

    html = client.get(EVENTS).content.decode()

    assert "door" not in event_row(html, morning)
    assert reverse("attendees:door") not in html


@pytest.mark.parametrize("size", [5, 50])
def test_event_list_runs_in_a_constant_number_of_queries(admin_door_client, django_assert_num_queries, size):
    events = Event.objects.bulk_create(Event(name=f"Event {n}", capacity=n) for n in range(size))
    Attendee.objects.bulk_create(
        Attendee(event=event, first_name="A", last_name=str(n), email=f"{event.pk}.{n}@example.org")
        for event in events
        for n in range(3)
    )
    # Created in bulk, around the counting of each save.
    services.recount()

    with django_assert_num_queries(EVENT_LIST_QUERIES):
        response = admin_door_client.get(EVENTS)

    assert len(response.context["cl"].result_list) == size
    assert event_row(response.content.decode(), events[-1])["registered"] == "3"


# Measured: the session, the user, one for the permissions (own and groups'), the count and
# the unfiltered count, the events (their counts are columns of their own), and two for the
# date hierarchy.
EVENT_LIST_QUERIES = 8


def test_the_chart_axis_is_in_the_events_local_time_with_its_zone(make_attendee, event):
    event.timezone = "Europe/Berlin"
    event.starts_at = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
    event.ends_at = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    event.save()

    svg = charts.occupancy_svg(selectors.occupancy(event), zone=event.zone)

    # 08:00 UTC is 09:00 in Berlin in November.
    assert ">09:00<" in svg
    assert "Europe/Berlin" in svg
