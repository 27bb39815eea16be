"""The organizer features of the API: stations, the history of an attendee, corrections,
and an event's attendance figures and CSV (see "Organizer features" in the contract).

Times are set deterministically: the `clock` fixture stands in for `timezone.now()`,
which every service, selector and serializer reads.
"""

import csv
import datetime
import io
from unittest import mock

import pytest
from django.contrib.auth.models import Permission
from django.http import StreamingHttpResponse

from attendees import services
from attendees.models import Attendee, Event, Record, Visit

RECORD_KEYS = {
    "id",
    "type",
    "at",
    "station",
    "recorded_by",
    "source",
    "voided",
    "recorded_at",
    "reason",
    "area",
    "capacity_override",
}
FIGURE_KEYS = {
    "registered",
    "inside",
    "left",
    "never_arrived",
    "check_ins",
    "check_outs",
    "median_seconds_inside",
    "capacity",
    "peak_inside",
    "areas",
}
# An event without areas or a capacity.
NO_AREAS = {"capacity": None, "areas": []}
CSV_HEADER = ["id", "name", "email", "state", "first_check_in", "last_check_out", "visits", "seconds_inside"]

# Token and user, the user's permissions and group permissions (one query), the event,
# then the figures: the states, the kept minutes of every place, the middle times inside
# and the areas.
ATTENDANCE_QUERIES = 7
# Token and user, the user's permissions and group permissions (one query), the event:
# before the first byte. Then one query for all the rows, read while streaming.
CSV_REQUEST_QUERIES = 3
CSV_STREAM_QUERIES = 1
# Token and user, the user's permissions and group permissions (one query), the
# attendee, its records with their recorders and voiders.
HISTORY_QUERIES = 4

BULK_CHECKOUT = "/api/attendees/bulk-checkout/"


def at(hour: int, minute: int = 0) -> datetime.datetime:
    return datetime.datetime(2026, 6, 1, hour, minute, tzinfo=datetime.UTC)


def iso(moment: datetime.datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


NOW = at(12)


def attendee_url(attendee_id) -> str:
    return f"/api/attendees/{attendee_id}/"


def history_url(attendee_id) -> str:
    return f"/api/attendees/{attendee_id}/history/"


def corrections_url(attendee_id) -> str:
    return f"/api/attendees/{attendee_id}/corrections/"


def attendance_url(event_id) -> str:
    return f"/api/events/{event_id}/attendance/"


def attendance_csv_url(event_id) -> str:
    return f"/api/events/{event_id}/attendance.csv"


def attendance_format_csv_url(event_id) -> str:
    return f"/api/events/{event_id}/attendance/?format=csv"


CSV_URLS = pytest.mark.parametrize("csv_url", [attendance_csv_url, attendance_format_csv_url])


def stay(
    clock,
    attendee: Attendee,
    start: datetime.datetime,
    end: datetime.datetime | None = None,
    *,
    by=None,
    station: str = "",
    out_station: str = "",
) -> None:
    """Check `attendee` in at `start` and, given an `end`, out at `end`; then set the clock back to NOW."""
    clock.return_value = start
    services.check_in(attendee=attendee, by=by, station=station)
    if end is not None:
        clock.return_value = end
        services.check_out(attendee=attendee, by=by, station=out_station)
    clock.return_value = NOW


def records_of(attendee: Attendee) -> list[Record]:
    return list(Record.objects.filter(attendee=attendee).order_by("at", "id"))


def snapshot() -> tuple[list, list]:
    return list(Visit.objects.order_by("pk").values()), list(Record.objects.order_by("pk").values())


def csv_of(response) -> list[list[str]]:
    text = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(text, newline="")))


def make_crowd(event: Event, size: int) -> None:
    """`size` attendees of `event`: a third who left, a third inside, the rest who never came;
    in a handful of queries."""
    groups = {"Left": size // 3, "Inside": size // 3, "Away": size - 2 * (size // 3)}
    Attendee.objects.bulk_create(
        Attendee(event=event, first_name=f"{group}{n}", last_name=group, email=f"{group}{n}@example.org")
        for group, count in groups.items()
        for n in range(count)
    )
    # Created in bulk, around the counting of each save.
    services.recount(events=Event.objects.filter(pk=event.pk))
    came = Attendee.objects.filter(event=event, last_name__in=["Left", "Inside"])
    services.bulk_check_in(attendees=came, by=None)
    services.bulk_check_out(attendees=Attendee.objects.filter(event=event, last_name="Left"), by=None)


@pytest.fixture
def clock():
    """The time every service, selector and serializer reads: set `clock.return_value`."""
    with mock.patch("django.utils.timezone.now", return_value=NOW) as now:
        yield now


@pytest.fixture
def user_with(make_user):
    """user_with("view_attendee", ..., username=...) -> a user with exactly those permissions."""

    def make(*codenames: str, username: str = "someone"):
        user = make_user("no_permission", username=username)
        user.user_permissions.add(
            *Permission.objects.filter(content_type__app_label="attendees", codename__in=codenames)
        )
        return user

    return make


@pytest.fixture
def corrector(user_with):
    return user_with("view_attendee", "correct_attendance", username="corrector")


@pytest.fixture
def corrector_client(api_client_for, corrector):
    return api_client_for(corrector)


@pytest.fixture
def viewer_client(api_client_for, make_user):
    return api_client_for(make_user("viewer"))


@pytest.fixture
def visitor(clock, attendee, door_staff):
    """Ada: in at 9:00 and out at 10:00 by door staff at the north door, in again at 11:00 and inside."""
    stay(clock, attendee, at(9), at(10), by=door_staff, station="North door", out_station="South door")
    stay(clock, attendee, at(11), by=door_staff, station="North door")
    return attendee


# Stations


STATION_REQUESTS = {
    "checkin": ("never", "post", "checkin/", {}, "check_in"),
    "checkout": ("inside", "post", "checkout/", {}, "check_out"),
    "patch check-in": ("never", "patch", "", {"is_checked_in": True}, "check_in"),
    "patch check-out": ("inside", "patch", "", {"is_checked_out": True}, "check_out"),
}


@pytest.mark.parametrize(("state", "method", "suffix", "body", "type"), STATION_REQUESTS.values(), ids=STATION_REQUESTS)
def test_the_station_sent_with_a_check_in_or_check_out_is_stored_on_its_record(
    admin_client_api, make_attendee, state, method, suffix, body, type
):
    attendee = make_attendee(state)

    response = getattr(admin_client_api, method)(
        f"{attendee_url(attendee.pk)}{suffix}", {**body, "station": "North door"}, format="json"
    )

    assert response.status_code in {200, 201}
    latest = records_of(attendee)[-1]
    assert (latest.type, latest.station, latest.source, latest.recorded_by.username) == (
        type,
        "North door",
        "api",
        "root",
    )


@pytest.mark.parametrize(("state", "flag"), [("never", "is_checked_in"), ("inside", "is_checked_out")])
def test_door_staff_can_patch_a_flag_with_a_station(door_client, make_attendee, state, flag):
    attendee = make_attendee(state)

    response = door_client.patch(attendee_url(attendee.pk), {flag: True, "station": "North door"}, format="json")

    assert response.status_code == 200
    assert records_of(attendee)[-1].station == "North door"


def test_a_patch_with_a_station_but_no_flag_records_nothing(admin_client_api, make_attendee):
    attendee = make_attendee("inside")
    before = snapshot()

    admin_client_api.patch(attendee_url(attendee.pk), {"station": "North door"}, format="json")

    assert snapshot() == before


def test_bulk_check_out_stores_the_station_on_every_record_it_writes(door_client, event, make_attendee):
    inside = [make_attendee("inside"), make_attendee("inside")]
    make_attendee("left")

    response = door_client.post(BULK_CHECKOUT, {"event": event.pk, "station": "Exit B"}, format="json")

    assert response.json() == {"checked_out": 2, "skipped": 1}
    written = Record.objects.filter(type="check_out", station="Exit B")
    assert sorted(record.attendee_id for record in written) == sorted(attendee.pk for attendee in inside)
    assert {record.source for record in written} == {"api"}


def test_a_check_in_without_a_station_records_an_empty_station(door_client, attendee):
    door_client.post(f"{attendee_url(attendee.pk)}checkin/")

    assert [record.station for record in records_of(attendee)] == [""]


def test_a_station_of_100_characters_is_accepted(door_client, attendee):
    response = door_client.post(f"{attendee_url(attendee.pk)}checkin/", {"station": "x" * 100}, format="json")

    assert response.status_code == 201
    assert records_of(attendee)[0].station == "x" * 100


STATION_ENDPOINTS = {
    "checkin": ("never", "post", lambda a: f"{attendee_url(a.pk)}checkin/", {}),
    "checkout": ("inside", "post", lambda a: f"{attendee_url(a.pk)}checkout/", {}),
    "bulk checkout": ("inside", "post", lambda a: BULK_CHECKOUT, None),
    "patch": ("never", "patch", lambda a: attendee_url(a.pk), {"is_checked_in": True}),
}
BAD_STATIONS = {"101 characters": "x" * 101, "number": 5, "list": ["North door"], "object": {"a": 1}, "null": None}


@pytest.mark.parametrize("station", BAD_STATIONS.values(), ids=BAD_STATIONS)
@pytest.mark.parametrize(("state", "method", "url", "body"), STATION_ENDPOINTS.values(), ids=STATION_ENDPOINTS)
def test_a_station_too_long_or_not_a_string_is_400_and_records_nothing(
    admin_client_api, make_attendee, state, method, url, body, station
):
    attendee = make_attendee(state)
    body = {"ids": [attendee.pk]} if body is None else body
    before = snapshot()

    response = getattr(admin_client_api, method)(url(attendee), {**body, "station": station}, format="json")

    assert response.status_code == 400
    assert "station" in response.json()
    assert snapshot() == before


# History


def test_history_lists_every_record_oldest_first_with_its_details(viewer_client, visitor):
    first_in, first_out, second_in = records_of(visitor)

    response = viewer_client.get(history_url(visitor.pk))

    assert response.status_code == 200
    assert response.json() == [
        {
            "id": first_in.pk,
            "type": "check_in",
            "at": "2026-06-01T09:00:00Z",
            "station": "North door",
            "recorded_by": "door_staff",
            "source": "api",
            "voided": None,
            "recorded_at": "2026-06-01T09:00:00Z",
            "reason": "",
            "area": None,
            "capacity_override": False,
        },
        {
            "id": first_out.pk,
            "type": "check_out",
            "at": "2026-06-01T10:00:00Z",
            "station": "South door",
            "recorded_by": "door_staff",
            "source": "api",
            "voided": None,
            "recorded_at": "2026-06-01T10:00:00Z",
            "reason": "",
            "area": None,
            "capacity_override": False,
        },
        {
            "id": second_in.pk,
            "type": "check_in",
            "at": "2026-06-01T11:00:00Z",
            "station": "North door",
            "recorded_by": "door_staff",
            "source": "api",
            "voided": None,
            "recorded_at": "2026-06-01T11:00:00Z",
            "reason": "",
            "area": None,
            "capacity_override": False,
        },
    ]


def test_history_names_no_recorder_for_a_record_made_without_a_user(viewer_client, clock, attendee):
    stay(clock, attendee, at(9))

    (entry,) = viewer_client.get(history_url(attendee.pk)).json()

    assert entry["recorded_by"] is None


def test_history_is_ordered_by_when_things_happened_not_by_when_they_were_recorded(corrector_client, clock, attendee):
    stay(clock, attendee, at(9), at(10))
    check_in, check_out = records_of(attendee)
    corrector_client.post(corrections_url(attendee.pk), {"void": check_out.pk, "reason": "Wrong badge"}, format="json")
    corrector_client.post(
        corrections_url(attendee.pk), {"check_out_at": iso(at(9, 30)), "reason": "Left at 9:30"}, format="json"
    )
    added = Record.objects.latest("pk")

    history = corrector_client.get(history_url(attendee.pk)).json()

    assert [entry["id"] for entry in history] == [check_in.pk, added.pk, check_out.pk]
    assert [entry["at"] for entry in history] == [
        "2026-06-01T09:00:00Z",
        "2026-06-01T09:30:00Z",
        "2026-06-01T10:00:00Z",
    ]


def test_history_keeps_a_voided_record_with_who_voided_it_when_and_why(corrector_client, clock, visitor):
    second_in = records_of(visitor)[-1]
    clock.return_value = at(11, 45)
    corrector_client.post(corrections_url(visitor.pk), {"void": second_in.pk, "reason": "Scanned twice"}, format="json")
    clock.return_value = NOW

    history = corrector_client.get(history_url(visitor.pk)).json()

    assert len(history) == 3
    assert history[-1]["id"] == second_in.pk
    assert history[-1]["voided"] == {"at": "2026-06-01T11:45:00Z", "by": "corrector", "reason": "Scanned twice"}
    assert [entry["voided"] for entry in history[:2]] == [None, None]


def test_history_of_an_attendee_who_never_came_is_an_empty_list(viewer_client, attendee):
    response = viewer_client.get(history_url(attendee.pk))

    assert response.status_code == 200
    assert response.json() == []


def test_history_shows_only_that_attendees_records(viewer_client, make_attendee):
    attendee = make_attendee("left")
    make_attendee("left")

    history = viewer_client.get(history_url(attendee.pk)).json()

    assert [entry["id"] for entry in history] == [record.pk for record in records_of(attendee)]


def test_history_entries_have_exactly_the_contract_keys(viewer_client, make_attendee):
    attendee = make_attendee("left")

    history = viewer_client.get(history_url(attendee.pk)).json()

    assert [set(entry) for entry in history] == [RECORD_KEYS, RECORD_KEYS]


def test_history_costs_the_same_number_of_queries_for_3_and_30_records(
    viewer_client, clock, make_attendee, make_user, django_assert_num_queries
):
    for visits in (1, 10):
        attendee = make_attendee()
        for n in range(visits):
            recorder = make_user("door_staff", username=f"door{visits}-{n}")
            clock.return_value = at(1 + n)
            services.check_in(attendee=attendee, by=recorder)
            services.check_out(attendee=attendee, by=recorder)
            services.void_record(record=records_of(attendee)[-1], by=recorder, reason="test")
            services.check_out(attendee=attendee, by=recorder)

        with django_assert_num_queries(HISTORY_QUERIES):
            response = viewer_client.get(history_url(attendee.pk))

        assert len(response.json()) == 3 * visits


@pytest.mark.parametrize("attendee_id", ["999999", "abc", "1.5", "99999999999999999999999"])
def test_history_of_an_unknown_or_non_numeric_attendee_id_is_404(viewer_client, attendee, attendee_id):
    assert viewer_client.get(history_url(attendee_id)).status_code == 404


# Corrections: what each kind does


def test_voiding_the_check_in_of_an_attendee_inside_answers_the_voided_record(corrector_client, clock, attendee):
    stay(clock, attendee, at(9), station="North door")
    (check_in,) = records_of(attendee)

    response = corrector_client.post(
        corrections_url(attendee.pk), {"void": check_in.pk, "reason": "Wrong person"}, format="json"
    )

    assert response.status_code == 201
    assert response.json() == {
        "id": check_in.pk,
        "type": "check_in",
        "at": "2026-06-01T09:00:00Z",
        "station": "North door",
        "recorded_by": None,
        "source": "api",
        "voided": {"at": "2026-06-01T12:00:00Z", "by": "corrector", "reason": "Wrong person"},
        "recorded_at": "2026-06-01T09:00:00Z",
        "reason": "",
        "area": None,
        "capacity_override": False,
    }


def test_voiding_the_check_in_of_an_attendee_inside_leaves_them_as_if_they_never_came(
    corrector_client, clock, attendee
):
    stay(clock, attendee, at(9))
    (check_in,) = records_of(attendee)

    corrector_client.post(corrections_url(attendee.pk), {"void": check_in.pk, "reason": "Wrong person"}, format="json")

    body = corrector_client.get(attendee_url(attendee.pk)).json()
    assert (body["is_checked_in"], body["is_checked_out"]) == (False, False)
    assert (body["checkin_times"], body["checkout_times"]) == ([], [])
    assert Record.objects.filter(attendee=attendee).count() == 1
    assert Visit.objects.filter(attendee=attendee).count() == 1


def test_voiding_a_check_in_voids_its_visit_and_the_visits_check_out(corrector_client, clock, attendee):
    stay(clock, attendee, at(9), at(10))
    check_in, check_out = records_of(attendee)

    corrector_client.post(corrections_url(attendee.pk), {"void": check_in.pk, "reason": "Wrong person"}, format="json")

    history = corrector_client.get(history_url(attendee.pk)).json()
    assert [entry["id"] for entry in history] == [check_in.pk, check_out.pk]
    assert [entry["voided"] for entry in history] == [
        {"at": "2026-06-01T12:00:00Z", "by": "corrector", "reason": "Wrong person"}
    ] * 2
    body = corrector_client.get(attendee_url(attendee.pk)).json()
    assert (body["is_checked_in"], body["is_checked_out"], body["checkin_times"], body["checkout_times"]) == (
        False,
        False,
        [],
        [],
    )


def test_voiding_a_check_out_reopens_the_visit_and_puts_the_attendee_inside_again(corrector_client, clock, attendee):
    stay(clock, attendee, at(9), at(10))
    check_in, check_out = records_of(attendee)

    response = corrector_client.post(
        corrections_url(attendee.pk), {"void": check_out.pk, "reason": "Scanned by mistake"}, format="json"
    )

    assert response.status_code == 201
    assert response.json()["voided"] == {
        "at": "2026-06-01T12:00:00Z",
        "by": "corrector",
        "reason": "Scanned by mistake",
    }
    body = corrector_client.get(attendee_url(attendee.pk)).json()
    assert (body["is_checked_in"], body["is_checked_out"]) == (True, False)
    assert (body["checkin_times"], body["checkout_times"]) == (["2026-06-01T09:00:00Z"], [])
    history = corrector_client.get(history_url(attendee.pk)).json()
    assert [(entry["id"], entry["voided"] is None) for entry in history] == [(check_in.pk, True), (check_out.pk, False)]


def test_voiding_an_earlier_visits_check_in_keeps_the_later_visit(corrector_client, visitor):
    first_in = records_of(visitor)[0]

    response = corrector_client.post(
        corrections_url(visitor.pk), {"void": first_in.pk, "reason": "Someone else's badge"}, format="json"
    )

    assert response.status_code == 201
    body = corrector_client.get(attendee_url(visitor.pk)).json()
    assert (body["is_checked_in"], body["checkin_times"], body["checkout_times"]) == (
        True,
        ["2026-06-01T11:00:00Z"],
        [],
    )


def test_an_attendee_whose_check_in_was_voided_can_check_in_again(corrector_client, door_client, clock, attendee):
    stay(clock, attendee, at(9))
    (check_in,) = records_of(attendee)
    corrector_client.post(corrections_url(attendee.pk), {"void": check_in.pk, "reason": "Too early"}, format="json")

    response = door_client.post(f"{attendee_url(attendee.pk)}checkin/")

    assert response.status_code == 201
    assert response.json()["checkin_times"] == ["2026-06-01T12:00:00Z"]


def test_a_check_out_can_be_voided_once_the_later_check_in_was_voided(corrector_client, visitor):
    _, first_out, second_in = records_of(visitor)
    corrector_client.post(
        corrections_url(visitor.pk), {"void": second_in.pk, "reason": "Never came back"}, format="json"
    )

    response = corrector_client.post(
        corrections_url(visitor.pk), {"void": first_out.pk, "reason": "Never left"}, format="json"
    )

    assert response.status_code == 201
    body = corrector_client.get(attendee_url(visitor.pk)).json()
    assert (body["is_checked_in"], body["checkin_times"], body["checkout_times"]) == (
        True,
        ["2026-06-01T09:00:00Z"],
        [],
    )


def test_a_missed_check_out_is_recorded_at_the_past_time_given(corrector_client, clock, attendee):
    stay(clock, attendee, at(9))

    response = corrector_client.post(
        corrections_url(attendee.pk),
        {"check_out_at": "2026-06-01T12:30:00+02:00", "reason": "Left without scanning"},
        format="json",
    )

    assert response.status_code == 201
    added = Record.objects.get(attendee=attendee, type="check_out")
    assert response.json() == {
        "id": added.pk,
        "type": "check_out",
        "at": "2026-06-01T10:30:00Z",
        "station": "",
        "recorded_by": "corrector",
        "source": "correction",
        "voided": None,
        "recorded_at": "2026-06-01T12:00:00Z",
        "reason": "Left without scanning",
        "area": None,
        "capacity_override": False,
    }


def test_a_missed_check_out_leaves_the_attendee_outside_with_that_check_out_time(corrector_client, clock, attendee):
    stay(clock, attendee, at(9))

    corrector_client.post(
        corrections_url(attendee.pk), {"check_out_at": iso(at(10, 30)), "reason": "Left"}, format="json"
    )

    body = corrector_client.get(attendee_url(attendee.pk)).json()
    assert (body["is_checked_in"], body["is_checked_out"]) == (False, True)
    assert (body["checkin_times"], body["checkout_times"]) == (["2026-06-01T09:00:00Z"], ["2026-06-01T10:30:00Z"])
    history = corrector_client.get(history_url(attendee.pk)).json()
    assert [(entry["type"], entry["at"], entry["source"]) for entry in history] == [
        ("check_in", "2026-06-01T09:00:00Z", "api"),
        ("check_out", "2026-06-01T10:30:00Z", "correction"),
    ]


@pytest.mark.parametrize("moment", [at(9), NOW], ids=["at the check-in", "now"])
def test_a_missed_check_out_at_the_bounds_of_the_open_visit_is_accepted(corrector_client, clock, attendee, moment):
    stay(clock, attendee, at(9))

    response = corrector_client.post(
        corrections_url(attendee.pk), {"check_out_at": iso(moment), "reason": "Left"}, format="json"
    )

    assert response.status_code == 201
    assert response.json()["at"] == iso(moment)


def test_a_reason_of_500_characters_is_accepted(corrector_client, clock, attendee):
    stay(clock, attendee, at(9))

    response = corrector_client.post(
        corrections_url(attendee.pk), {"check_out_at": iso(at(10)), "reason": "r" * 500}, format="json"
    )

    assert response.status_code == 201
    assert response.json()["reason"] == "r" * 500


def test_corrections_delete_nothing(corrector_client, visitor):
    first_in, first_out, second_in = records_of(visitor)
    before = list(Record.objects.order_by("pk").values_list("pk", "type", "at", "station", "recorded_by"))
    visits = list(Visit.objects.order_by("pk").values_list("pk", "checked_in_at"))

    for body in (
        {"void": second_in.pk, "reason": "1"},
        {"void": first_out.pk, "reason": "2"},
        {"check_out_at": iso(at(9, 45)), "reason": "3"},
        {"void": first_in.pk, "reason": "4"},
    ):
        assert corrector_client.post(corrections_url(visitor.pk), body, format="json").status_code == 201

    after = list(Record.objects.order_by("pk").values_list("pk", "type", "at", "station", "recorded_by"))
    assert after[:3] == before
    assert len(after) == 4
    assert list(Visit.objects.order_by("pk").values_list("pk", "checked_in_at")) == visits
    assert len(corrector_client.get(history_url(visitor.pk)).json()) == 4


FIGURES_AFTER = {
    "void the check-in of one inside": (
        "Grace",
        lambda records: {"void": records["Grace"][0], "reason": "r"},
        {
            "inside": 0,
            "left": 1,
            "never_arrived": 1,
            "check_ins": 1,
            "check_outs": 1,
            "median_seconds_inside": 3600.0,
            "peak_inside": 1,
        },
    ),
    "void the check-in of one who left": (
        "Ada",
        lambda records: {"void": records["Ada"][0], "reason": "r"},
        {
            "inside": 1,
            "left": 0,
            "never_arrived": 1,
            "check_ins": 1,
            "check_outs": 0,
            "median_seconds_inside": 1800.0,
            "peak_inside": 1,
        },
    ),
    "void a check-out": (
        "Ada",
        lambda records: {"void": records["Ada"][1], "reason": "r"},
        # Ada is inside again since 9:00, 3 hours at noon: (1800 + 10800) / 2.
        {
            "inside": 2,
            "left": 0,
            "never_arrived": 0,
            "check_ins": 2,
            "check_outs": 0,
            "median_seconds_inside": 6300.0,
            "peak_inside": 2,
        },
    ),
    "add a missed check-out": (
        "Grace",
        lambda records: {"check_out_at": iso(at(11, 40)), "reason": "r"},
        # Grace stayed 600 s: (600 + 3600) / 2.
        {
            "inside": 0,
            "left": 2,
            "never_arrived": 0,
            "check_ins": 2,
            "check_outs": 2,
            "median_seconds_inside": 2100.0,
            "peak_inside": 1,
        },
    ),
}


@pytest.mark.parametrize(("name", "make_body", "figures"), FIGURES_AFTER.values(), ids=FIGURES_AFTER)
def test_the_figures_follow_each_kind_of_correction(
    corrector_client, clock, make_attendee, event, name, make_body, figures
):
    # Ada was in from 9:00 to 10:00 (3600 s); Grace has been inside since 11:30 (1800 s at noon).
    attendees = {"Ada": make_attendee(first_name="Ada"), "Grace": make_attendee(first_name="Grace")}
    stay(clock, attendees["Ada"], at(9), at(10))
    stay(clock, attendees["Grace"], at(11, 30))
    records = {key: [record.pk for record in records_of(attendee)] for key, attendee in attendees.items()}
    assert corrector_client.get(attendance_url(event.pk)).json() == {
        "registered": 2,
        "inside": 1,
        "left": 1,
        "never_arrived": 0,
        "check_ins": 2,
        "check_outs": 1,
        "median_seconds_inside": 2700.0,
        "peak_inside": 1,
        **NO_AREAS,
    }

    response = corrector_client.post(corrections_url(attendees[name].pk), make_body(records), format="json")

    assert response.status_code == 201
    assert corrector_client.get(attendance_url(event.pk)).json() == {"registered": 2, **figures, **NO_AREAS}


# Corrections: refusals by the rules (409)


def test_voiding_a_record_twice_is_409_already_voided_and_changes_nothing(corrector_client, clock, attendee):
    stay(clock, attendee, at(9))
    (check_in,) = records_of(attendee)
    corrector_client.post(corrections_url(attendee.pk), {"void": check_in.pk, "reason": "first"}, format="json")
    before = snapshot()

    response = corrector_client.post(
        corrections_url(attendee.pk), {"void": check_in.pk, "reason": "second"}, format="json"
    )

    assert response.status_code == 409
    assert response.json()["code"] == "already_voided"
    assert snapshot() == before


def test_voiding_the_check_out_of_a_visit_whose_check_in_was_voided_is_409_already_voided(
    corrector_client, clock, attendee
):
    stay(clock, attendee, at(9), at(10))
    check_in, check_out = records_of(attendee)
    corrector_client.post(corrections_url(attendee.pk), {"void": check_in.pk, "reason": "first"}, format="json")

    response = corrector_client.post(
        corrections_url(attendee.pk), {"void": check_out.pk, "reason": "second"}, format="json"
    )

    assert response.status_code == 409
    assert response.json()["code"] == "already_voided"


def test_voiding_a_check_out_after_the_attendee_checked_in_again_is_409_not_latest_record_and_changes_nothing(
    corrector_client, visitor
):
    first_out = records_of(visitor)[1]
    before = snapshot()

    response = corrector_client.post(
        corrections_url(visitor.pk), {"void": first_out.pk, "reason": "Never left"}, format="json"
    )

    assert response.status_code == 409
    assert response.json()["code"] == "not_latest_record"
    assert snapshot() == before


def test_voiding_the_latest_check_out_is_allowed_even_when_the_visits_began_at_the_same_instant(
    corrector_client, clock, attendee
):
    # A zero-length visit and a re-entry stamped at the same instant, as clock drift between
    # app servers makes happen (check-outs and re-entries are clamped to the times before them).
    stay(clock, attendee, at(9), at(9))
    stay(clock, attendee, at(9), at(10))
    latest_out = records_of(attendee)[-1]

    response = corrector_client.post(
        corrections_url(attendee.pk), {"void": latest_out.pk, "reason": "Never left"}, format="json"
    )

    assert response.status_code == 201


def test_a_missed_check_out_before_the_open_check_in_is_409_check_out_before_check_in(
    corrector_client, clock, attendee
):
    stay(clock, attendee, at(9))
    before = snapshot()

    response = corrector_client.post(
        corrections_url(attendee.pk), {"check_out_at": iso(at(8, 59)), "reason": "Left"}, format="json"
    )

    assert response.status_code == 409
    assert response.json()["code"] == "check_out_before_check_in"
    assert snapshot() == before


@pytest.mark.parametrize(("state", "code"), [("never", "not_checked_in"), ("left", "already_checked_out")])
def test_a_missed_check_out_of_an_attendee_not_inside_is_409_and_changes_nothing(
    corrector_client, clock, attendee, state, code
):
    if state == "left":
        stay(clock, attendee, at(9), at(10))
    before = snapshot()

    response = corrector_client.post(
        corrections_url(attendee.pk), {"check_out_at": iso(at(11)), "reason": "Left"}, format="json"
    )

    assert response.status_code == 409
    assert response.json() == {"detail": response.json()["detail"], "code": code}
    assert snapshot() == before


# Corrections: bad input (400)


BAD_CORRECTIONS = {
    "no reason": (lambda ids: {"void": ids["own"]}, "reason"),
    "empty reason": (lambda ids: {"void": ids["own"], "reason": ""}, "reason"),
    "blank reason": (lambda ids: {"void": ids["own"], "reason": "   "}, "reason"),
    "reason of 501 characters": (lambda ids: {"void": ids["own"], "reason": "r" * 501}, "reason"),
    "reason a number": (lambda ids: {"void": ids["own"], "reason": 5}, "reason"),
    "reason null": (lambda ids: {"void": ids["own"], "reason": None}, "reason"),
    "neither": (lambda ids: {"reason": "r"}, "non_field_errors"),
    "both": (lambda ids: {"void": ids["own"], "check_out_at": iso(at(10)), "reason": "r"}, "non_field_errors"),
    "record of another attendee": (lambda ids: {"void": ids["other"], "reason": "r"}, "void"),
    "unknown record": (lambda ids: {"void": ids["other"] + 1000, "reason": "r"}, "void"),
    "unknown record at the largest id": (lambda ids: {"void": 2**63 - 1, "reason": "r"}, "void"),
    "void a word": (lambda ids: {"void": "abc", "reason": "r"}, "void"),
    "void a fraction": (lambda ids: {"void": 1.5, "reason": "r"}, "void"),
    "void true": (lambda ids: {"void": True, "reason": "r"}, "void"),
    "void a list": (lambda ids: {"void": [ids["own"]], "reason": "r"}, "void"),
    "void null": (lambda ids: {"void": None, "reason": "r"}, "void"),
    "void zero": (lambda ids: {"void": 0, "reason": "r"}, "void"),
    "void too big": (lambda ids: {"void": 2**63, "reason": "r"}, "void"),
    "future time": (lambda ids: {"check_out_at": iso(at(12, 1)), "reason": "r"}, "check_out_at"),
    "time a word": (lambda ids: {"check_out_at": "yesterday", "reason": "r"}, "check_out_at"),
    "time a number": (lambda ids: {"check_out_at": 1780300000, "reason": "r"}, "check_out_at"),
    "time a list": (lambda ids: {"check_out_at": [iso(at(10))], "reason": "r"}, "check_out_at"),
    "time null": (lambda ids: {"check_out_at": None, "reason": "r"}, "check_out_at"),
}


@pytest.mark.parametrize(("make_body", "field"), BAD_CORRECTIONS.values(), ids=BAD_CORRECTIONS)
def test_an_invalid_correction_is_400_on_its_field_and_records_nothing(
    corrector_client, clock, attendee, make_attendee, make_body, field
):
    stay(clock, attendee, at(9))
    other = make_attendee()
    stay(clock, other, at(9))
    ids = {"own": records_of(attendee)[0].pk, "other": records_of(other)[0].pk}
    before = snapshot()

    response = corrector_client.post(corrections_url(attendee.pk), make_body(ids), format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert snapshot() == before


@pytest.mark.parametrize(
    "body", ['{"void": 1, "reason":', "[1, 2]", '"void"', ""], ids=["cut", "list", "string", "empty"]
)
def test_a_correction_that_is_not_a_json_object_is_400_and_records_nothing(corrector_client, clock, attendee, body):
    stay(clock, attendee, at(9))
    before = snapshot()

    response = corrector_client.post(corrections_url(attendee.pk), body, content_type="application/json")

    assert response.status_code == 400
    assert snapshot() == before


@pytest.mark.parametrize("attendee_id", ["999999", "abc", "1.5", "99999999999999999999999"])
def test_a_correction_of_an_unknown_or_non_numeric_attendee_id_is_404(corrector_client, attendee, attendee_id):
    response = corrector_client.post(
        corrections_url(attendee_id), {"check_out_at": iso(at(10)), "reason": "r"}, format="json"
    )

    assert response.status_code == 404


# Who may do what


@pytest.mark.parametrize(
    ("codenames", "status"),
    [
        (None, 401),
        ((), 403),
        (("view_event",), 403),
        (("correct_attendance",), 403),
        (("view_attendee",), 200),
        (("view_event", "view_attendee", "record_attendance"), 200),
    ],
    ids=["anonymous", "no permission", "view_event", "correct_attendance", "view_attendee", "door staff"],
)
def test_the_history_needs_view_attendee(api_client_for, user_with, make_attendee, codenames, status):
    attendee = make_attendee("left", first_name="Ada")
    user = None if codenames is None else user_with(*codenames)

    response = api_client_for(user).get(history_url(attendee.pk))

    assert response.status_code == status
    assert (b"check_in" in response.content) == (status == 200)


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_the_history_cannot_be_written_through_the_api_even_by_a_superuser(admin_client_api, make_attendee, method):
    attendee = make_attendee("left")
    before = list(Record.objects.values_list("pk", "type", "at", "voided_at"))

    response = getattr(admin_client_api, method)(history_url(attendee.pk), {"type": "check_in"}, format="json")

    assert response.status_code == 405
    assert list(Record.objects.values_list("pk", "type", "at", "voided_at")) == before


CORRECTION_ROLES = {
    "anonymous": (None, 401),
    "no permission": ((), 403),
    "viewer": (("view_event", "view_attendee"), 403),
    "door staff": (("view_event", "view_attendee", "record_attendance"), 403),
    "editor": (("view_attendee", "add_attendee", "change_attendee", "delete_attendee"), 403),
    "correct_attendance without view_attendee": (("correct_attendance",), 403),
    "corrector": (("view_attendee", "correct_attendance"), 201),
}
CORRECTION_KINDS = pytest.mark.parametrize(
    "make_body",
    [lambda record: {"void": record.pk, "reason": "r"}, lambda record: {"check_out_at": iso(at(10)), "reason": "r"}],
    ids=["void", "check_out_at"],
)


@CORRECTION_KINDS
@pytest.mark.parametrize(("codenames", "status"), CORRECTION_ROLES.values(), ids=CORRECTION_ROLES)
def test_corrections_need_view_attendee_and_correct_attendance(
    api_client_for, user_with, clock, attendee, codenames, status, make_body
):
    stay(clock, attendee, at(9))
    user = None if codenames is None else user_with(*codenames)
    before = snapshot()

    response = api_client_for(user).post(
        corrections_url(attendee.pk), make_body(records_of(attendee)[0]), format="json"
    )

    assert response.status_code == status
    assert (snapshot() == before) == (status != 201)


@CORRECTION_KINDS
def test_a_superuser_may_correct(admin_client_api, clock, attendee, make_body):
    stay(clock, attendee, at(9))

    response = admin_client_api.post(corrections_url(attendee.pk), make_body(records_of(attendee)[0]), format="json")

    assert response.status_code == 201


ATTENDANCE_URLS = {
    "figures": attendance_url,
    "attendance.csv": attendance_csv_url,
    "format=csv": attendance_format_csv_url,
}


@pytest.mark.parametrize("url", ATTENDANCE_URLS.values(), ids=ATTENDANCE_URLS)
@pytest.mark.parametrize(
    ("codenames", "status"),
    [(None, 401), ((), 403), (("view_event",), 403), (("record_attendance",), 403), (("view_attendee",), 200)],
    ids=["anonymous", "no permission", "view_event", "record_attendance", "view_attendee"],
)
def test_attendance_needs_view_attendee(api_client_for, user_with, event, make_attendee, codenames, status, url):
    make_attendee("left", first_name="Ada", email="ada@example.org")
    user = None if codenames is None else user_with(*codenames)

    response = api_client_for(user).get(url(event.pk))

    assert response.status_code == status
    if status != 200:
        assert b"ada@example.org" not in response.content
        assert b"Ada" not in response.content


# Attendance figures


@pytest.fixture
def crowd(clock, event, make_attendee):
    """Six attendees with known times, the clock at noon:
    - Ada, Alan: never came; Joan: checked in at 9:00, voided (so never came either);
    - Grace: 9:00-9:10 (600 s); Hedy: 9:00-9:20 (1200 s); Katherine: inside since 11:30 (1800 s at noon)."""
    attendees = {name: make_attendee(first_name=name) for name in ("Ada", "Alan", "Joan", "Grace", "Hedy", "Katherine")}
    stay(clock, attendees["Joan"], at(9))
    services.void_record(record=records_of(attendees["Joan"])[0], by=None, reason="Wrong person")
    stay(clock, attendees["Grace"], at(9), at(9, 10))
    stay(clock, attendees["Hedy"], at(9), at(9, 20))
    stay(clock, attendees["Katherine"], at(11, 30))
    return attendees


def test_attendance_figures_of_a_known_crowd(viewer_client, event, crowd):
    response = viewer_client.get(attendance_url(event.pk))

    assert response.status_code == 200
    assert response.json() == {
        "registered": 6,
        "inside": 1,
        "left": 2,
        "never_arrived": 3,
        "check_ins": 3,
        "check_outs": 2,
        "median_seconds_inside": 1200.0,
        # Grace and Hedy, both in from 9:00.
        "peak_inside": 2,
        **NO_AREAS,
    }


def test_median_time_inside_of_an_even_number_who_came_is_the_mean_of_the_middle_two(
    viewer_client, clock, event, crowd
):
    # Ada's two visits add up to 3600 s: 600, 1200, 1800, 3600 -> (1200 + 1800) / 2.
    stay(clock, crowd["Ada"], at(9), at(9, 30))
    stay(clock, crowd["Ada"], at(10), at(10, 30))

    figures = viewer_client.get(attendance_url(event.pk)).json()

    assert figures["median_seconds_inside"] == 1500.0
    assert (figures["left"], figures["check_ins"], figures["check_outs"]) == (3, 5, 4)


def test_the_time_of_an_attendee_inside_counts_until_now(viewer_client, clock, event, crowd):
    # Katherine, inside since 11:30, has been in for 2 hours at 13:30: 60, 600, 1200, 7200.
    stay(clock, crowd["Ada"], at(9), at(9, 1))
    clock.return_value = at(13, 30)

    figures = viewer_client.get(attendance_url(event.pk)).json()

    assert figures["median_seconds_inside"] == 900.0


def test_median_time_inside_of_one_attendee_is_their_time(viewer_client, clock, event, make_attendee):
    stay(clock, make_attendee(), at(9), at(9, 10))
    make_attendee()

    assert viewer_client.get(attendance_url(event.pk)).json()["median_seconds_inside"] == 600.0


def test_median_time_inside_is_null_when_nobody_came(viewer_client, clock, event, make_attendee):
    make_attendee()
    voided = make_attendee()
    stay(clock, voided, at(9))
    services.void_record(record=records_of(voided)[0], by=None, reason="Wrong person")

    assert viewer_client.get(attendance_url(event.pk)).json() == {
        "registered": 2,
        "inside": 0,
        "left": 0,
        "never_arrived": 2,
        "check_ins": 0,
        "check_outs": 0,
        "median_seconds_inside": None,
        # The voided stay does not count.
        "peak_inside": 0,
        **NO_AREAS,
    }


def test_the_figures_of_an_event_without_attendees_are_zero(viewer_client, event):
    figures = viewer_client.get(attendance_url(event.pk)).json()

    assert set(figures) == FIGURE_KEYS
    assert figures == dict.fromkeys(FIGURE_KEYS, 0) | {"median_seconds_inside": None} | NO_AREAS


def test_the_figures_count_only_the_events_own_attendees(viewer_client, clock, event, other_event, make_attendee):
    stay(clock, make_attendee(), at(9), at(9, 10))
    stay(clock, make_attendee(event=other_event), at(9), at(11))
    make_attendee(event=other_event)

    figures = viewer_client.get(attendance_url(event.pk)).json()

    assert (figures["registered"], figures["left"], figures["check_ins"], figures["median_seconds_inside"]) == (
        1,
        1,
        1,
        600.0,
    )


@pytest.mark.parametrize("event_id", ["999999", "abc", "1.5", "99999999999999999999999"])
@pytest.mark.parametrize("url", ATTENDANCE_URLS.values(), ids=ATTENDANCE_URLS)
def test_attendance_of_an_unknown_or_non_numeric_event_id_is_404(viewer_client, event, url, event_id):
    assert viewer_client.get(url(event_id)).status_code == 404


def test_attendance_figures_cost_the_same_number_of_queries_for_10_and_1000_attendees(
    viewer_client, django_assert_num_queries
):
    for size in (10, 1000):
        event = Event.objects.create(name=f"Crowd of {size}")
        make_crowd(event, size)

        with django_assert_num_queries(ATTENDANCE_QUERIES):
            response = viewer_client.get(attendance_url(event.pk))

        figures = response.json()
        assert (figures["registered"], figures["inside"], figures["left"], figures["never_arrived"]) == (
            size,
            size // 3,
            size // 3,
            size - 2 * (size // 3),
        )
        assert (figures["check_ins"], figures["check_outs"]) == (2 * (size // 3), size // 3)


# Attendance CSV


@CSV_URLS
def test_attendance_csv_is_a_streamed_text_csv_attachment(viewer_client, event, make_attendee, csv_url):
    make_attendee()

    response = viewer_client.get(csv_url(event.pk))

    assert response.status_code == 200
    assert isinstance(response, StreamingHttpResponse)
    assert response.streaming
    assert response["Content-Type"] == "text/csv"
    assert response["Content-Disposition"].startswith("attachment;")
    assert csv_of(response)[0] == CSV_HEADER


@CSV_URLS
def test_attendance_csv_has_one_row_per_attendee_of_the_event_with_times_in_utc(
    viewer_client, clock, event, other_event, make_attendee, settings, csv_url
):
    settings.TIME_ZONE = "America/New_York"
    ada = make_attendee(first_name="Ada", last_name="Lovelace", email="ada@example.org")
    grace = make_attendee(first_name="Grace", last_name="Hopper", email="grace@example.org")
    alan = make_attendee(first_name="Alan", last_name="Turing", email="alan@example.org")
    joan = make_attendee(first_name="Joan", last_name="Clarke", email="joan@example.org")
    stay(clock, ada, at(9), at(9, 10))
    stay(clock, ada, at(10), at(10, 30))
    stay(clock, grace, at(11))
    stay(clock, joan, at(8), at(8, 30))
    services.void_record(record=records_of(joan)[0], by=None, reason="Wrong person")
    stay(clock, make_attendee(event=other_event), at(9))

    rows = csv_of(viewer_client.get(csv_url(event.pk)))

    assert rows == [
        CSV_HEADER,
        [str(joan.pk), "Joan Clarke", "joan@example.org", "never_arrived", "", "", "0", ""],
        [str(grace.pk), "Grace Hopper", "grace@example.org", "inside", "2026-06-01T11:00:00Z", "", "1", "3600"],
        [
            str(ada.pk),
            "Ada Lovelace",
            "ada@example.org",
            "left",
            "2026-06-01T09:00:00Z",
            "2026-06-01T10:30:00Z",
            "2",
            "2400",
        ],
        [str(alan.pk), "Alan Turing", "alan@example.org", "never_arrived", "", "", "0", ""],
    ]


def test_attendance_csv_of_an_event_without_attendees_is_just_the_header(viewer_client, event):
    assert csv_of(viewer_client.get(attendance_csv_url(event.pk))) == [CSV_HEADER]


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"], ids=["=", "+", "-", "@", "tab", "CR"])
@pytest.mark.parametrize("column", ["name", "email"])
def test_attendance_csv_escapes_a_leading_formula_character_with_a_quote(
    viewer_client, event, make_attendee, column, start
):
    if column == "name":
        make_attendee(first_name=f"{start}HYPERLINK(1)", last_name="Smith")
        expected = f"'{start}HYPERLINK(1) Smith"
    else:
        make_attendee(email=f"{start}cmd@example.org")
        expected = f"'{start}cmd@example.org"

    header, row = csv_of(viewer_client.get(attendance_csv_url(event.pk)))

    assert row[header.index(column)] == expected


def test_attendance_csv_leaves_formula_characters_inside_text_alone(viewer_client, event, make_attendee):
    make_attendee(first_name="Mary-Jane", last_name="=Watson+", email="mary-jane+tag@example.org")

    _, row = csv_of(viewer_client.get(attendance_csv_url(event.pk)))

    assert row[1:3] == ["Mary-Jane =Watson+", "mary-jane+tag@example.org"]


def test_attendance_csv_quotes_commas_quotes_and_line_breaks(viewer_client, event, make_attendee):
    make_attendee(first_name='Ada "The Countess",', last_name="Love\nlace")

    _, row = csv_of(viewer_client.get(attendance_csv_url(event.pk)))

    assert row[1] == 'Ada "The Countess", Love\nlace'
    assert len(row) == len(CSV_HEADER)


def test_attendance_csv_reads_its_rows_while_streaming(viewer_client, event, make_attendee, django_assert_num_queries):
    make_attendee("left")

    with django_assert_num_queries(CSV_REQUEST_QUERIES):
        response = viewer_client.get(attendance_csv_url(event.pk))
    with django_assert_num_queries(CSV_STREAM_QUERIES):
        rows = csv_of(response)

    assert len(rows) == 2


@CSV_URLS
def test_attendance_csv_costs_the_same_number_of_queries_for_10_and_1000_attendees(
    viewer_client, django_assert_num_queries, csv_url
):
    for size in (10, 1000):
        event = Event.objects.create(name=f"Crowd of {size}")
        make_crowd(event, size)

        with django_assert_num_queries(CSV_REQUEST_QUERIES + CSV_STREAM_QUERIES):
            rows = csv_of(viewer_client.get(csv_url(event.pk)))

        assert len(rows) == size + 1
        states = [row[3] for row in rows[1:]]
        assert (states.count("inside"), states.count("left")) == (size // 3, size // 3)
