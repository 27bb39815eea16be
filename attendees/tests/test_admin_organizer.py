"""The organizer's admin: the event page's attendance figures and occupancy chart, the
CSV export action, the attendees' time inside, and the read-only record of check-ins."""

import csv
import io
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Permission

from attendees import charts, selectors, services
from attendees.models import Attendee, Event, Record, Visit

from .test_admin import CHANGELIST_QUERIES

EVENTS = "/admin/attendees/event/"
ATTENDEES = "/admin/attendees/attendee/"
RECORDS = "/admin/attendees/record/"
SVG = "{http://www.w3.org/2000/svg}"
CSV_HEADER = ["event", "id", "name", "email", "state", "first_check_in", "last_check_out", "visits", "seconds_inside"]


def at(hour: int, minute: int, second: int = 0) -> datetime:
    """A time on the day of the event, well in the past."""
    return datetime(2025, 3, 14, hour, minute, second, tzinfo=UTC)


START, END = at(10, 0), at(12, 0)


def check_in(attendee: Attendee, moment: datetime) -> None:
    with mock.patch("django.utils.timezone.now", return_value=moment):
        services.check_in(attendee=attendee, by=None)


def check_out(attendee: Attendee, moment: datetime) -> None:
    with mock.patch("django.utils.timezone.now", return_value=moment):
        services.check_out(attendee=attendee, by=None)


def visit(attendee: Attendee, checked_in: datetime, checked_out: datetime | None = None) -> None:
    check_in(attendee, checked_in)
    if checked_out is not None:
        check_out(attendee, checked_out)


def action_post(action: str, objects) -> dict:
    return {"action": action, ACTION_CHECKBOX_NAME: [o.pk for o in objects], "index": 0}


def offered_actions(response) -> set[str]:
    action_form = response.context["action_form"]
    if action_form is None:
        return set()
    return {name for name, _ in action_form.fields["action"].choices if name}


def figures_on(html: str) -> dict[str, str]:
    [table] = re.findall(r'<table class="attendees-figures">(.*?)</table>', html, re.DOTALL)
    return dict(re.findall(r'<th scope="row">(.*?)</th><td>(.*?)</td>', table))


def svg_on(html: str) -> ET.Element:
    [svg] = re.findall(r'<svg\b[^>]*aria-labelledby="occupancy-title.*?</svg>', html, re.DOTALL)
    return ET.fromstring(svg)


def counts_drawn(svg: ET.Element) -> list[int]:
    """The counts a step polyline draws, one per point: its corners come in pairs at the same height."""
    [line] = svg.iter(f"{SVG}polyline")
    heights = [float(corner.split(",")[1]) for corner in line.get("points").split()]
    top_value = max(int(text.text) for text in svg.iter(f"{SVG}text") if text.text.isdigit())
    plot_height = charts.HEIGHT - charts.TOP - charts.BOTTOM
    assert heights[::2] == heights[1::2]
    return [round(top_value * (1 - (y - charts.TOP) / plot_height)) for y in heights[::2]]


def staff_with(make_user, *codenames: str, username: str = "organizer"):
    user = make_user(username=username, is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="attendees", codename__in=codenames))
    return user


@pytest.fixture
def timed_event(event) -> Event:
    event.starts_at, event.ends_at = START, END
    event.save()
    return event


@pytest.fixture
def crowd(make_attendee, timed_event, other_event) -> dict[str, Attendee]:
    """Seven registered for the event from 10:00 to 12:00, and one of another event inside.

    ada     09:50:00-11:10:30 (came before the start)  1:20:30
    alan    10:05-10:35 and 11:02:15-11:40             1:07:45
    grace   10:20- (still inside)
    edsger  10:40-10:58                                0:18:00
    linus   11:20-11:35                                0:15:00
    barbara 10:10-10:50, then her check-in voided: never arrived
    kathy   never arrived
    """
    people = {
        name: make_attendee(event=timed_event, first_name=name.title(), last_name="Person", email=f"{name}@example.org")
        for name in ("ada", "alan", "grace", "edsger", "linus", "barbara", "kathy")
    }
    visit(people["ada"], at(9, 50), at(11, 10, 30))
    visit(people["alan"], at(10, 5), at(10, 35))
    visit(people["alan"], at(11, 2, 15), at(11, 40))
    visit(people["grace"], at(10, 20))
    visit(people["edsger"], at(10, 40), at(10, 58))
    visit(people["linus"], at(11, 20), at(11, 35))
    visit(people["barbara"], at(10, 10), at(10, 50))
    services.void_record(
        record=Record.objects.get(attendee=people["barbara"], type=Record.Type.CHECK_IN),
        by=None,
        reason="scanned the wrong badge",
    )
    people["guido"] = make_attendee(event=other_event, email="guido@example.org")
    visit(people["guido"], at(10, 1))
    return people


# The event page


def test_event_page_shows_the_attendance_figures_of_a_known_crowd(admin_superuser_client, crowd, timed_event):
    response = admin_superuser_client.get(f"{EVENTS}{timed_event.pk}/change/")

    assert response.status_code == 200
    assert figures_on(response.content.decode()) == {
        "Registered": "7",
        "Inside now": "1",
        "Left": "4",
        "Never arrived": "2",
        "Check-ins": "6",
        "Check-outs": "5",
        # Of 15:00, 18:00, 1:07:45, 1:20:30 and grace's stay until now, the middle one.
        "Median time inside": "1:07:45",
    }


def test_event_page_of_an_event_nobody_came_to_shows_no_median(admin_superuser_client, make_attendee, event):
    make_attendee()

    response = admin_superuser_client.get(f"{EVENTS}{event.pk}/change/")

    figures = figures_on(response.content.decode())
    assert figures["Registered"] == "1"
    assert figures["Never arrived"] == "1"
    assert figures["Median time inside"] == "-"


def test_event_page_median_of_an_even_number_of_stays_is_the_mean_of_the_middle_two(
    admin_superuser_client, make_attendee, timed_event
):
    for minutes in (10, 20, 41, 80):
        visit(make_attendee(event=timed_event), at(10, 0), at(10, 0) + timedelta(minutes=minutes))

    response = admin_superuser_client.get(f"{EVENTS}{timed_event.pk}/change/")

    assert figures_on(response.content.decode())["Median time inside"] == "0:30:30"


def test_event_page_shows_the_occupancy_chart_as_svg_with_title_axes_and_a_line(
    admin_superuser_client, crowd, timed_event
):
    response = admin_superuser_client.get(f"{EVENTS}{timed_event.pk}/change/")

    svg = svg_on(response.content.decode())
    assert svg.find(f"{SVG}title").text == "People inside over time"
    texts = [text.text for text in svg.iter(f"{SVG}text")]
    assert "Time (UTC)" in texts
    assert "People inside" in texts
    assert {"0", "2", "4"} <= set(texts)
    assert {"10:00", "11:00", "12:00"} <= set(texts)
    [line] = svg.iter(f"{SVG}polyline")
    assert line.get("class") == "occupancy-line"


def test_event_page_chart_draws_the_occupancy_of_the_event(admin_superuser_client, crowd, timed_event):
    response = admin_superuser_client.get(f"{EVENTS}{timed_event.pk}/change/")

    drawn = counts_drawn(svg_on(response.content.decode()))
    assert drawn == [count for _, count in selectors.occupancy(timed_event)]
    assert drawn == [1, 2, 3, 3, 2, 2, 3, 1, 1]


def test_occupancy_counts_people_inside_at_each_quarter_hour(crowd, timed_event):
    points = selectors.occupancy(timed_event, now=at(13, 0))

    assert points == [
        (at(10, 0), 1),  # ada, in before the start
        (at(10, 15), 2),  # + alan
        (at(10, 30), 3),  # + grace; barbara's voided visit does not count
        (at(10, 45), 3),  # alan out, edsger in
        (at(11, 0), 2),  # edsger out
        (at(11, 15), 2),  # ada out, alan back
        (at(11, 30), 3),  # + linus
        (at(11, 45), 1),  # alan and linus out
        (at(12, 0), 1),  # grace, still inside at the end
    ]


@pytest.fixture
def event_under_way(make_attendee, timed_event) -> Event:
    """At 10:40: ada came at 9:50, alan from 10:05 to 10:35, grace at 10:20."""
    visit(make_attendee(event=timed_event), at(9, 50))
    visit(make_attendee(event=timed_event), at(10, 5), at(10, 35))
    visit(make_attendee(event=timed_event), at(10, 20))
    return timed_event


def test_occupancy_of_an_event_under_way_counts_up_to_now(event_under_way):
    points = selectors.occupancy(event_under_way, now=at(10, 40))

    assert points == [(at(10, 0), 1), (at(10, 15), 2), (at(10, 30), 3), (at(10, 40), 2)]


def test_occupancy_of_an_event_under_way_has_no_point_after_now(event_under_way):
    points = selectors.occupancy(event_under_way, now=at(10, 40))

    assert points[-1][0] <= at(10, 40)


def test_occupancy_of_an_event_without_times_starts_at_the_first_check_in(make_attendee, event):
    ada = make_attendee()
    visit(ada, at(10, 7), at(10, 40))

    points = selectors.occupancy(event, now=at(11, 0))

    assert points == [(at(10, 0), 0), (at(10, 15), 1), (at(10, 30), 1), (at(10, 45), 0), (at(11, 0), 0)]


def test_event_page_of_an_event_without_times_or_check_ins_says_there_is_nothing_to_draw(admin_superuser_client, event):
    response = admin_superuser_client.get(f"{EVENTS}{event.pk}/change/")

    html = response.content.decode()
    assert response.status_code == 200
    assert "occupancy-title" not in html
    assert "nothing to draw" in html


def test_event_page_without_view_attendee_shows_neither_figures_nor_chart(client, make_user, crowd, timed_event):
    client.force_login(staff_with(make_user, "view_event", "change_event"))

    response = client.get(f"{EVENTS}{timed_event.pk}/change/")

    html = response.content.decode()
    assert response.status_code == 200
    assert 'name="name"' in html
    assert "attendees-figures" not in html
    assert "occupancy-title" not in html
    assert "People inside over time" not in html


def test_event_page_with_view_attendee_shows_figures_and_chart_to_staff(client, make_user, crowd, timed_event):
    client.force_login(staff_with(make_user, "view_event", "view_attendee"))

    response = client.get(f"{EVENTS}{timed_event.pk}/change/")

    html = response.content.decode()
    assert figures_on(html)["Registered"] == "7"
    assert svg_on(html).find(f"{SVG}title").text == "People inside over time"


def test_event_add_page_shows_no_figures_and_creates_the_event(admin_superuser_client):
    page = admin_superuser_client.get(f"{EVENTS}add/")
    response = admin_superuser_client.post(
        f"{EVENTS}add/",
        {
            "name": "EuroPython",
            "starts_at_0": "2025-07-14",
            "starts_at_1": "09:00:00",
            "ends_at_0": "2025-07-16",
            "ends_at_1": "18:00:00",
            "auto_checkout_at_0": "2025-07-14",
            "auto_checkout_at_1": "19:00:00",
        },
    )

    assert page.status_code == 200
    assert "attendees-figures" not in page.content.decode()
    assert "occupancy-title" not in page.content.decode()
    assert response.status_code == 302
    event = Event.objects.get(name="EuroPython")
    assert (event.starts_at, event.ends_at) == (
        datetime(2025, 7, 14, 9, tzinfo=UTC),
        datetime(2025, 7, 16, 18, tzinfo=UTC),
    )
    assert event.auto_checkout_at == datetime(2025, 7, 14, 19, tzinfo=UTC)


def test_event_change_page_saves_with_the_figures_shown(admin_superuser_client, crowd, timed_event):
    response = admin_superuser_client.post(
        f"{EVENTS}{timed_event.pk}/change/",
        {
            "name": "PyCon US",
            "starts_at_0": "2025-03-14",
            "starts_at_1": "10:00:00",
            "ends_at_0": "2025-03-14",
            "ends_at_1": "12:00:00",
            "auto_checkout_at_0": "",
            "auto_checkout_at_1": "",
        },
    )

    assert response.status_code == 302
    timed_event.refresh_from_db()
    assert timed_event.name == "PyCon US"
    assert (timed_event.starts_at, timed_event.ends_at) == (START, END)


# The export action


def exported_rows(response) -> list[list[str]]:
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith("attachment;")
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_export_action_streams_one_row_per_attendee_of_the_selected_events_only(
    admin_superuser_client, crowd, timed_event, other_event, make_attendee
):
    third = Event.objects.create(name="EuroPython")
    make_attendee(event=third, email="left-out@example.org")

    response = admin_superuser_client.post(EVENTS, action_post("export_attendance", [timed_event, other_event]))

    header, *rows = exported_rows(response)
    assert header == CSV_HEADER
    expected = Attendee.objects.filter(event__in=[timed_event, other_event])
    assert sorted((int(row[0]), int(row[1])) for row in rows) == sorted(expected.values_list("event", "pk"))
    ada = next(row for row in rows if row[3] == "ada@example.org")
    assert ada == [
        str(timed_event.pk),
        str(crowd["ada"].pk),
        "Ada Person",
        "ada@example.org",
        "left",
        "2025-03-14T09:50:00Z",
        "2025-03-14T11:10:30Z",
        "1",
        "4830",
    ]
    barbara = next(row for row in rows if row[3] == "barbara@example.org")
    assert barbara[4:] == ["never_arrived", "", "", "0", ""]


def test_export_action_is_offered_to_staff_who_may_view_attendees(client, make_user, timed_event):
    client.force_login(staff_with(make_user, "view_event", "view_attendee"))

    response = client.get(EVENTS)

    assert "export_attendance" in offered_actions(response)
    assert "Export attendance of selected events as CSV" in response.content.decode()


def test_export_action_works_for_staff_who_may_only_view(client, make_user, crowd, timed_event):
    client.force_login(staff_with(make_user, "view_event", "view_attendee"))

    response = client.post(EVENTS, action_post("export_attendance", [timed_event]))

    header, *rows = exported_rows(response)
    assert header == CSV_HEADER
    assert len(rows) == 7


def test_export_action_is_not_offered_without_view_attendee(client, make_user, timed_event):
    client.force_login(staff_with(make_user, "view_event", "change_event", "delete_event"))

    response = client.get(EVENTS)

    assert response.status_code == 200
    assert "export_attendance" not in offered_actions(response)
    assert "Export attendance" not in response.content.decode()


def test_export_action_posted_without_view_attendee_is_refused(client, make_user, crowd, timed_event):
    client.force_login(staff_with(make_user, "view_event", "change_event"))

    response = client.post(EVENTS, action_post("export_attendance", [timed_event]))

    assert not response.streaming
    assert "text/csv" not in response.get("Content-Type", "")
    assert "ada@example.org" not in response.content.decode()


# The attendees' time inside


def time_inside_cell(html: str, email: str) -> str:
    [row] = [row for row in re.split(r"<tr\b", html) if email in row]
    [cell] = re.findall(r'<td class="field-time_inside">(.*?)</td>', row)
    return cell


def sort_link(html: str, column: str, descending: bool = False) -> str:
    """The changelist's own link that sorts by `column` (ascending first, then toggled)."""
    [index] = re.findall(rf'class="[^"]*column-{column}[^"]*">.*?href="\?o=(\d+)', html, re.DOTALL)
    return f"-{index}" if descending else index


def test_attendee_list_shows_time_inside_as_hours_minutes_and_seconds(admin_superuser_client, crowd):
    html = admin_superuser_client.get(ATTENDEES).content.decode()

    assert "time inside" in html.lower()
    assert time_inside_cell(html, "ada@example.org") == "1:20:30"
    assert time_inside_cell(html, "alan@example.org") == "1:07:45"
    assert time_inside_cell(html, "linus@example.org") == "0:15:00"
    assert re.fullmatch(r"\d+:\d\d:\d\d", time_inside_cell(html, "grace@example.org"))
    assert time_inside_cell(html, "barbara@example.org") == "-"
    assert time_inside_cell(html, "kathy@example.org") == "-"


@pytest.mark.parametrize(
    ("descending", "expected"),
    [
        (False, ["linus", "edsger", "alan", "ada"]),
        (True, ["ada", "alan", "edsger", "linus"]),
    ],
)
def test_attendee_list_sorts_by_time_inside(admin_superuser_client, crowd, descending, expected):
    order = sort_link(admin_superuser_client.get(ATTENDEES).content.decode(), "time_inside", descending)

    response = admin_superuser_client.get(ATTENDEES, {"o": order, "state": "left"})

    assert [attendee.first_name.lower() for attendee in response.context["cl"].result_list] == expected


def create_stays(event: Event, count: int) -> None:
    """`count` attendees who stayed 1, 2, 3 ... minutes, and as many inside."""
    attendees = Attendee.objects.bulk_create(
        Attendee(event=event, first_name=f"Bulk{n}", last_name=f"Person{n}", email=f"bulk{n}@example.org")
        for n in range(2 * count)
    )
    Visit.objects.bulk_create(
        Visit(
            attendee=attendee,
            checked_in_at=START,
            checked_out_at=START + timedelta(minutes=n + 1) if n < count else None,
        )
        for n, attendee in enumerate(attendees)
    )
    services.recount()


@pytest.mark.parametrize("order", ["", "time_inside"])
@pytest.mark.parametrize("size", [5, 50])
def test_attendee_list_with_time_inside_runs_in_a_constant_number_of_queries(
    admin_door_client, event, django_assert_num_queries, size, order
):
    create_stays(event, size)
    params = {"o": sort_link(admin_door_client.get(ATTENDEES).content.decode(), order)} if order else {}

    with django_assert_num_queries(CHANGELIST_QUERIES):
        response = admin_door_client.get(ATTENDEES, params)

    assert response.status_code == 200
    assert time_inside_cell(response.content.decode(), "bulk0@example.org") == "0:01:00"


# Admin actions are recorded as such


def test_check_in_action_records_its_check_ins_with_source_admin(admin_door_client, make_attendee):
    attendees = [make_attendee("never"), make_attendee("left")]

    admin_door_client.post(ATTENDEES, action_post("check_in_selected", attendees))

    records = Record.objects.filter(type=Record.Type.CHECK_IN, recorded_by__username="door_staff")
    assert sorted(records.values_list("attendee", "source")) == sorted((a.pk, "admin") for a in attendees)


def test_check_out_action_records_its_check_outs_with_source_admin(admin_door_client, make_attendee):
    attendees = [make_attendee("inside"), make_attendee("inside")]

    admin_door_client.post(ATTENDEES, action_post("check_out_selected", attendees))

    records = Record.objects.filter(type=Record.Type.CHECK_OUT)
    assert sorted(records.values_list("attendee", "source", "recorded_by__username")) == sorted(
        (a.pk, "admin", "door_staff") for a in attendees
    )
    assert set(Record.objects.filter(type=Record.Type.CHECK_IN).values_list("source", flat=True)) == {"api"}


# The record of check-ins and check-outs is read-only


@pytest.fixture
def record(make_attendee) -> Record:
    return Record.objects.get(attendee=make_attendee("inside", email="ada@example.org"))


def record_fields(record: Record) -> dict:
    return Record.objects.filter(pk=record.pk).values().get()


def test_record_list_loads_without_add_link_or_delete_action(admin_superuser_client, record):
    response = admin_superuser_client.get(RECORDS)

    html = response.content.decode()
    assert response.status_code == 200
    assert str(record.attendee) in html
    assert f"{RECORDS}add/" not in html
    assert "delete_selected" not in offered_actions(response)


def test_record_add_page_is_refused_to_a_superuser(admin_superuser_client, record):
    response = admin_superuser_client.post(f"{RECORDS}add/", {"type": "check_in", "source": "admin"})

    assert response.status_code == 403
    assert Record.objects.count() == 1


def test_record_change_page_is_view_only_and_its_post_changes_nothing(admin_superuser_client, record):
    before = record_fields(record)

    page = admin_superuser_client.get(f"{RECORDS}{record.pk}/change/")
    response = admin_superuser_client.post(
        f"{RECORDS}{record.pk}/change/",
        {"station": "Back door", "source": "correction", "type": "check_out", "reason": "tampered"},
    )

    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert response.status_code == 403
    assert record_fields(record) == before


def test_record_delete_is_refused_even_for_a_superuser(admin_superuser_client, record):
    page = admin_superuser_client.get(f"{RECORDS}{record.pk}/delete/")
    response = admin_superuser_client.post(f"{RECORDS}{record.pk}/delete/", {"post": "yes"})
    admin_superuser_client.post(RECORDS, {**action_post("delete_selected", [record]), "post": "yes"})

    assert page.status_code == 403
    assert response.status_code == 403
    assert Record.objects.filter(pk=record.pk).exists()
