"""Areas and capacity: moves, stays in areas closed with the event's, live counts held
equal to the open stays, capacity refusals and overrides, figures, and the API."""

import datetime

import pytest
from django.contrib.auth.models import Permission
from django.db.models import Count, F, Q
from django.utils import timezone

from attendees import selectors, services
from attendees.exceptions import AlreadyCheckedIn, CapacityReached, NotCheckedIn, NotLatestRecord
from attendees.models import Area, Attendee, Event, PlaceMinute, Record, RefusedScan, TimeInside, Visit

from .conftest import statement_kinds

pytestmark = pytest.mark.django_db

AREAS = "/api/areas/"
MICROSECOND = datetime.timedelta(microseconds=1)


def assert_counts_match_open_stays() -> None:
    """The live counts of every event and area equal their open standing stays (and an
    event's attendees, and those of them with a standing stay), nobody is in two areas
    or in an area while outside the event, and the kept figures are what the stays give
    (`assert_kept_figures_match_the_stays`)."""
    assert_kept_figures_match_the_stays()
    for event in Event.objects.all():
        open_in_event = Visit.objects.filter(attendee__event=event).standing().open().in_event().count()
        assert event.inside == open_in_event, (event, event.inside, open_in_event)
        stayed = Visit.objects.filter(attendee__event=event).standing().in_event()
        counts = (event.registered, event.arrived)
        assert counts == (event.attendees.count(), stayed.values("attendee").distinct().count()), (event, counts)
    for area in Area.objects.all():
        assert area.inside == Visit.objects.filter(area=area).standing().open().count(), area
    open_areas = Visit.objects.standing().open().in_areas().values("attendee").annotate(n=Count("pk"))
    assert all(row["n"] == 1 for row in open_areas)
    in_area_not_event = Attendee.objects.filter(
        Q(visits__area__isnull=False, visits__checked_out_at__isnull=True, visits__voided_at__isnull=True)
    ).exclude(visits__in=Visit.objects.standing().open().in_event())
    assert not in_area_not_event.exists()


def assert_kept_figures_match_the_stays() -> None:
    """Every `PlaceMinute` and `TimeInside` is what the standing stays give, counted
    here in Python from scratch: each begun stay a +1 and each ended one a -1 in its
    place and minute, the rise the highest running total within the minute (check-outs
    first at the same instant), the latest time; each attendee's stays in the event, the open ones, and
    the microseconds of the closed ones less the start of the open one."""
    moves = sorted(
        (visit.attendee.event_id, visit.area_id or 0, at, step, visit.pk)
        for visit in Visit.objects.standing().select_related("attendee")
        for at, step in ((visit.checked_in_at, 1), (visit.checked_out_at, -1))
        if at is not None
    )
    expected = {}
    for event_id, key, at, step, _ in moves:
        minute = at.replace(second=0, microsecond=0)
        ins, outs, running, rise, _ = expected.get((event_id, key, minute), (0, 0, 0, None, None))
        running += step
        rise = running if rise is None else max(rise, running)
        expected[event_id, key, minute] = (ins + (step > 0), outs + (step < 0), running, rise, at)
    kept = {
        (row.event_id, row.area_key, row.minute): (row.check_ins, row.check_outs, row.rise, row.last_at)
        for row in PlaceMinute.objects.all()
    }
    assert kept == {place: (ins, outs, rise, last) for place, (ins, outs, _, rise, last) in expected.items()}
    times = {}
    for visit in Visit.objects.standing().in_event().select_related("attendee"):
        stays, open_stays, microseconds = times.get(visit.attendee_id, (0, 0, 0))
        if visit.checked_out_at is None:
            microseconds -= (visit.checked_in_at - TimeInside.EPOCH) // MICROSECOND
        else:
            microseconds += (visit.checked_out_at - visit.checked_in_at) // MICROSECOND
        times[visit.attendee_id] = (stays + 1, open_stays + (visit.checked_out_at is None), microseconds)
    kept_times = {row.attendee_id: row for row in TimeInside.objects.select_related("attendee")}
    assert {pk for pk, row in kept_times.items() if row.stays} == set(times)
    for pk, row in kept_times.items():
        expected = (row.attendee.event_id, *times.get(pk, (0, 0, 0)))
        assert (row.event_id, row.stays, row.open_stays, row.microseconds) == expected, row


def where(attendee: Attendee) -> tuple[bool, int | None]:
    """(inside the event, area id or None)."""
    attendee = selectors.attendee_with_times(Attendee.objects.get(pk=attendee.pk))
    return attendee.is_checked_in, selectors.current_area_id(attendee)


@pytest.fixture
def hall(event) -> Area:
    return Area.objects.create(event=event, name="Main hall")


@pytest.fixture
def workshop(event) -> Area:
    return Area.objects.create(event=event, name="Workshop", capacity=2)


@pytest.fixture
def area_admin(make_user):
    user = make_user("viewer", username="areas")
    user.user_permissions.add(
        *Permission.objects.filter(codename__in=["add_area", "change_area", "delete_area", "view_area"])
    )
    return user


def override_user(make_user):
    user = make_user("door_staff", username="lead")
    user.user_permissions.add(Permission.objects.get(codename="override_capacity"))
    return user


# Services


def test_checking_someone_outside_into_an_area_checks_them_into_the_event_at_the_same_instant(attendee, hall):
    record_id = services.check_in(attendee=attendee, by=None, area=hall).pk

    area_in = Record.objects.get(pk=record_id)
    event_in = Record.objects.get(attendee=attendee, area__isnull=True)
    assert (area_in.area, area_in.type) == (hall, "check_in")
    assert event_in.at == area_in.at
    assert where(attendee) == (True, hall.pk)
    assert_counts_match_open_stays()


def test_moving_from_one_area_to_another_closes_the_first_and_opens_the_second_at_the_same_instant(
    attendee, hall, workshop
):
    services.check_in(attendee=attendee, by=None, area=hall)

    services.check_in(attendee=attendee, by=None, area=workshop)

    left_hall = Record.objects.get(area=hall, type="check_out")
    entered_workshop = Record.objects.get(area=workshop, type="check_in")
    assert left_hall.at == entered_workshop.at
    assert where(attendee) == (True, workshop.pk)
    assert Record.objects.filter(area__isnull=True).count() == 1
    assert_counts_match_open_stays()


def test_checking_into_the_area_one_is_in_is_refused_and_records_nothing(attendee, hall):
    services.check_in(attendee=attendee, by=None, area=hall)
    records = Record.objects.count()

    with pytest.raises(AlreadyCheckedIn):
        services.check_in(attendee=attendee, by=None, area=hall)

    assert Record.objects.count() == records
    assert_counts_match_open_stays()


def test_leaving_an_area_keeps_the_attendee_inside_the_event(attendee, hall):
    services.check_in(attendee=attendee, by=None, area=hall)

    services.check_out(attendee=attendee, by=None, area=hall)

    assert where(attendee) == (True, None)
    assert_counts_match_open_stays()


def test_leaving_an_area_one_is_not_in_is_refused_as_not_checked_in(make_attendee, hall, workshop):
    attendee = make_attendee("inside")
    services.check_in(attendee=attendee, by=None, area=workshop)

    with pytest.raises(NotCheckedIn):
        services.check_out(attendee=attendee, by=None, area=hall)

    assert where(attendee) == (True, workshop.pk)


def test_leaving_the_event_ends_the_stay_in_an_area_at_the_same_instant(attendee, hall):
    services.check_in(attendee=attendee, by=None, area=hall)

    services.check_out(attendee=attendee, by=None)

    event_out = Record.objects.get(type="check_out", area__isnull=True)
    area_out = Record.objects.get(type="check_out", area=hall)
    assert event_out.at == area_out.at
    assert where(attendee) == (False, None)
    assert_counts_match_open_stays()


@pytest.mark.parametrize("path", ["bulk", "scheduled"])
def test_bulk_and_scheduled_check_outs_end_stays_in_areas(make_attendee, event, hall, path):
    people = [make_attendee() for _ in range(3)]
    for person in people[:2]:
        services.check_in(attendee=person, by=None, area=hall)
    services.check_in(attendee=people[2], by=None)

    if path == "bulk":
        result = services.bulk_check_out(attendees=event.attendees.all(), by=None)
        assert result == services.BulkResult(done=3, skipped=0)
    else:
        Event.objects.filter(pk=event.pk).update(auto_checkout_at=timezone.now() - datetime.timedelta(minutes=1))
        services.check_out_due()

    assert not Visit.objects.standing().open().exists()
    assert_counts_match_open_stays()


def test_a_bulk_check_out_of_an_area_leaves_them_inside_the_event(make_attendee, event, hall):
    inside_hall = [make_attendee() for _ in range(2)]
    for person in inside_hall:
        services.check_in(attendee=person, by=None, area=hall)
    elsewhere = make_attendee("inside")

    result = services.bulk_check_out(attendees=event.attendees.all(), by=None, area=hall)

    assert result == services.BulkResult(done=2, skipped=1)
    assert [where(person) for person in [*inside_hall, elsewhere]] == [(True, None)] * 3
    assert_counts_match_open_stays()


def test_an_event_at_capacity_refuses_the_next_check_in_and_records_nothing(make_attendee, event):
    Event.objects.filter(pk=event.pk).update(capacity=2)
    make_attendee("inside"), make_attendee("inside")
    late = make_attendee()
    records = Record.objects.count()

    with pytest.raises(CapacityReached) as refused:
        services.check_in(attendee=late, by=None)

    assert refused.value.detail == "PyCon is full: 2 inside, capacity 2."
    assert Record.objects.count() == records
    assert_counts_match_open_stays()


def test_an_area_at_capacity_refuses_entry_but_a_move_out_of_it_makes_room(make_attendee, workshop, hall):
    first, second, third = make_attendee(), make_attendee(), make_attendee()
    services.check_in(attendee=first, by=None, area=workshop)
    services.check_in(attendee=second, by=None, area=workshop)

    with pytest.raises(CapacityReached):
        services.check_in(attendee=third, by=None, area=workshop)
    assert where(third) == (False, None)

    services.check_in(attendee=first, by=None, area=hall)
    services.check_in(attendee=third, by=None, area=workshop)
    assert where(third) == (True, workshop.pk)
    assert_counts_match_open_stays()


def test_override_admits_over_capacity_and_says_so_only_when_it_was_needed(make_attendee, workshop):
    roomy = services.check_in(attendee=make_attendee(), by=None, area=workshop, override_capacity=True)
    services.check_in(attendee=make_attendee(), by=None, area=workshop)

    over = services.check_in(attendee=make_attendee(), by=None, area=workshop, override_capacity=True)

    assert Record.objects.get(pk=roomy.pk).capacity_override is False
    assert Record.objects.get(pk=over.pk).capacity_override is True
    assert Area.objects.get(pk=workshop.pk).inside == 3
    assert_counts_match_open_stays()


def test_lowering_a_capacity_below_the_number_inside_removes_nobody_and_refuses_entries(make_attendee, event):
    for _ in range(3):
        make_attendee("inside")
    event.capacity = 2
    event.save()

    with pytest.raises(CapacityReached):
        services.check_in(attendee=make_attendee(), by=None)

    event.refresh_from_db()
    assert event.inside == 3
    assert_counts_match_open_stays()


def test_saving_an_event_never_writes_back_a_stale_count(make_attendee, event):
    stale = Event.objects.get(pk=event.pk)
    make_attendee("inside")

    stale.name = "PyCon 2026"
    stale.save()

    assert_counts_match_open_stays()


def test_voiding_checks_and_corrections_keep_the_counts_equal_to_the_open_stays(attendee, hall, workshop):
    services.check_in(attendee=attendee, by=None, area=hall)
    services.check_in(attendee=attendee, by=None, area=workshop)
    workshop_in = Record.objects.get(area=workshop, type="check_in")

    services.void_record(record=workshop_in, by=None, reason="wrong room")
    assert_counts_match_open_stays()
    assert where(attendee) == (True, None)

    hall_out = Record.objects.get(area=hall, type="check_out")
    services.void_record(record=hall_out, by=None, reason="never left the hall")
    assert where(attendee) == (True, hall.pk)
    assert_counts_match_open_stays()

    services.correct_check_out(attendee=attendee, at=timezone.now(), by=None, reason="left")
    assert where(attendee) == (False, None)
    assert_counts_match_open_stays()

    event_out = Record.objects.get(area__isnull=True, type="check_out", voided_at__isnull=True)
    services.void_record(record=event_out, by=None, reason="still here")
    assert where(attendee) == (True, None)
    assert_counts_match_open_stays()

    event_in = Record.objects.get(area__isnull=True, type="check_in")
    services.void_record(record=event_in, by=None, reason="wrong person")
    assert where(attendee) == (False, None)
    assert not Visit.objects.standing().exists()
    assert_counts_match_open_stays()


def test_reopening_a_stay_in_an_area_after_leaving_the_event_is_refused(attendee, hall):
    services.check_in(attendee=attendee, by=None, area=hall)
    services.check_out(attendee=attendee, by=None)

    with pytest.raises(NotLatestRecord):
        services.void_record(record=Record.objects.get(area=hall, type="check_out"), by=None, reason="r")

    assert_counts_match_open_stays()


def test_the_peak_counts_the_most_inside_at_once_per_event_and_area(make_attendee, event, hall):
    people = [make_attendee() for _ in range(3)]
    for person in people:
        services.check_in(attendee=person, by=None, area=hall)
    services.check_out(attendee=people[0], by=None)
    services.check_in(attendee=people[0], by=None)

    figures = selectors.attendance_figures(event)

    assert figures["peak_inside"] == 3
    [hall_figures] = figures["areas"]
    assert hall_figures == {
        "id": hall.pk,
        "name": "Main hall",
        "capacity": None,
        "inside": 2,
        "peak_inside": 3,
        "check_ins": 3,
    }


def test_inside_longer_than_finds_forgotten_exits_and_a_move_does_not_reset_the_stay(make_attendee, hall):
    long_ago = make_attendee("inside")
    Visit.objects.filter(attendee=long_ago).update(checked_in_at=timezone.now() - datetime.timedelta(hours=5))
    services.check_in(attendee=long_ago, by=None, area=hall)
    make_attendee("inside")

    found = selectors.inside_longer_than(Attendee.objects.all(), seconds=3600)

    assert list(found) == [long_ago]


# API


def test_an_area_is_created_listed_and_shown_with_its_live_count(api_client_for, area_admin, event, attendee):
    client = api_client_for(area_admin)
    created = client.post(AREAS, {"event": event.pk, "name": "Lounge", "capacity": 5}, format="json")
    assert created.status_code == 201
    area_id = created.json()["id"]
    services.check_in(attendee=attendee, by=None, area=Area.objects.get(pk=area_id))

    listed = client.get(AREAS, {"event": event.pk}).json()["results"]

    assert listed == [{"id": area_id, "event": event.pk, "name": "Lounge", "capacity": 5, "inside": 1}]
    assert client.get(f"/api/events/{event.pk}/").json()["inside"] == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "X", "capacity": -1}, "capacity"),
        ({"name": "X", "capacity": 1.5}, "capacity"),
        ({"name": "X", "capacity": "ten"}, "capacity"),
        ({"name": ""}, "name"),
        ({"name": "X", "event": "one"}, "event"),
    ],
)
def test_bad_area_input_is_a_400_and_saves_nothing(api_client_for, area_admin, event, body, field):
    response = api_client_for(area_admin).post(AREAS, {"event": event.pk, **body}, format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert not Area.objects.exists()


def test_an_area_with_history_cannot_be_deleted(api_client_for, area_admin, hall, attendee, workshop):
    services.check_in(attendee=attendee, by=None, area=hall)
    client = api_client_for(area_admin)

    refused = client.delete(f"{AREAS}{hall.pk}/")
    deleted = client.delete(f"{AREAS}{workshop.pk}/")

    assert (refused.status_code, refused.json()["code"]) == (409, "has_history")
    assert deleted.status_code == 204
    assert list(Area.objects.all()) == [hall]


@pytest.mark.parametrize(
    ("role", "read", "write"),
    [(None, 401, 401), ("no_permission", 403, 403), ("viewer", 200, 403), ("door_staff", 200, 403)],
)
def test_who_may_read_and_write_areas(api_client_for, make_user, event, hall, role, read, write):
    client = api_client_for(make_user(role) if role else None)

    assert client.get(AREAS).status_code == read
    assert client.post(AREAS, {"event": event.pk, "name": "New"}, format="json").status_code == write
    assert client.patch(f"{AREAS}{hall.pk}/", {"capacity": 3}, format="json").status_code == write
    assert client.delete(f"{AREAS}{hall.pk}/").status_code == write


def test_check_in_to_an_area_through_the_api_shows_the_area_on_the_attendee(door_client, attendee, hall):
    response = door_client.post(f"/api/attendees/{attendee.pk}/checkin/", {"area": hall.pk}, format="json")

    assert response.status_code == 201
    assert response.json()["area"] == hall.pk
    history = door_client.get(f"/api/attendees/{attendee.pk}/history/").json()
    assert [(entry["type"], entry["area"]) for entry in history] == [("check_in", None), ("check_in", hall.pk)]


@pytest.mark.parametrize("area", ["other_event_area", "not_a_number", "unknown"])
def test_an_area_of_another_event_or_not_an_area_is_a_400_under_area(door_client, attendee, other_event, area):
    value = {
        "other_event_area": lambda: Area.objects.create(event=other_event, name="Elsewhere").pk,
        "not_a_number": lambda: "hall",
        "unknown": lambda: 999999,
    }[area]()

    response = door_client.post(f"/api/attendees/{attendee.pk}/checkin/", {"area": value}, format="json")

    assert response.status_code == 400
    assert "area" in response.json()
    assert not Record.objects.exists()


def test_capacity_reached_is_a_409_naming_the_place_and_the_numbers(door_client, make_attendee, workshop):
    for _ in range(2):
        services.check_in(attendee=make_attendee(), by=None, area=workshop)
    late = make_attendee()

    response = door_client.post(f"/api/attendees/{late.pk}/checkin/", {"area": workshop.pk}, format="json")

    assert response.status_code == 409
    assert response.json() == {"detail": "Workshop is full: 2 inside, capacity 2.", "code": "capacity_reached"}
    assert not late.records.exists()


def test_override_capacity_needs_its_permission_and_is_kept_on_the_record(
    api_client_for, make_user, door_client, make_attendee, workshop
):
    for _ in range(2):
        services.check_in(attendee=make_attendee(), by=None, area=workshop)
    late = make_attendee()
    body = {"area": workshop.pk, "override_capacity": True}

    forbidden = door_client.post(f"/api/attendees/{late.pk}/checkin/", body, format="json")
    assert forbidden.status_code == 403
    assert not late.records.exists()

    admitted = api_client_for(override_user(make_user)).post(f"/api/attendees/{late.pk}/checkin/", body, format="json")
    assert admitted.status_code == 201
    history = door_client.get(f"/api/attendees/{late.pk}/history/").json()
    # The event had room (False); the workshop did not (True).
    assert [(entry["area"], entry["capacity_override"]) for entry in history] == [
        (None, False),
        (workshop.pk, True),
    ]
    assert Area.objects.get(pk=workshop.pk).inside == 3
    assert_counts_match_open_stays()


def test_a_scan_into_an_area_goes_in_then_out_of_it_and_its_refusals_carry_the_area(door_client, make_attendee, hall):
    attendee = make_attendee()
    code = attendee.ticket_code

    first = door_client.post("/api/scans/", {"ticket_code": code, "area": hall.pk}, format="json")
    five_seconds = datetime.timedelta(seconds=5)
    Record.objects.update(at=F("at") - five_seconds)
    Visit.objects.update(checked_in_at=F("checked_in_at") - five_seconds)
    second = door_client.post("/api/scans/", {"ticket_code": code, "area": hall.pk}, format="json")
    third = door_client.post("/api/scans/", {"ticket_code": code, "area": hall.pk, "direction": "out"}, format="json")

    assert (first.status_code, first.json()["result"], first.json()["record"]["area"]) == (201, "checked_in", hall.pk)
    assert (second.status_code, second.json()["result"]) == (201, "checked_out")
    assert (third.status_code, third.json()["code"]) == (409, "not_checked_in")
    assert RefusedScan.objects.get().area == hall
    assert where(attendee) == (True, None)


def test_a_bulk_check_out_with_an_area_of_another_event_is_a_400(door_client, event, other_event):
    elsewhere = Area.objects.create(event=other_event, name="Elsewhere")

    response = door_client.post(
        "/api/attendees/bulk-checkout/", {"event": event.pk, "area": elsewhere.pk}, format="json"
    )

    assert response.status_code == 400
    assert "area" in response.json()


@pytest.mark.parametrize("value", ["abc", "1.5", "-3"])
def test_inside_longer_than_that_is_not_a_whole_number_is_a_400(door_client, value):
    response = door_client.get("/api/attendees/", {"inside_longer_than": value})

    assert response.status_code == 400
    assert "inside_longer_than" in response.json()


def test_inside_longer_than_through_the_api(door_client, make_attendee):
    long_ago = make_attendee("inside")
    Visit.objects.filter(attendee=long_ago).update(checked_in_at=timezone.now() - datetime.timedelta(hours=5))
    make_attendee("inside")

    rows = door_client.get("/api/attendees/", {"inside_longer_than": 3600}).json()["results"]

    assert [row["id"] for row in rows] == [long_ago.pk]


def test_the_event_capacity_is_set_through_the_api_and_a_negative_one_is_a_400(admin_client_api, event):
    assert admin_client_api.patch(f"/api/events/{event.pk}/", {"capacity": -1}, format="json").status_code == 400
    response = admin_client_api.patch(f"/api/events/{event.pk}/", {"capacity": 100}, format="json")

    assert (response.status_code, response.json()["capacity"], response.json()["inside"]) == (200, 100, 0)


def test_a_scan_into_an_area_costs_a_fixed_list_of_queries(door_client, attendee, hall, django_assert_num_queries):
    # Token and user, the user's permissions (own and groups', one), the area sent, the
    # attendee by code; in a savepoint (the area's own): the event's row locked, where they
    # are (their open stays), the place taken in the area and in the event, the event's
    # stay and its record, the arrival counted, the area's stay and its record, the kept
    # figures (the minute's, and the attendee's time inside the event they entered); the
    # stays for the answer.
    with django_assert_num_queries(18) as captured:
        response = door_client.post(
            "/api/scans/", {"ticket_code": attendee.ticket_code, "area": hall.pk, "direction": "in"}, format="json"
        )

    assert response.status_code == 201
    statements = statement_kinds(captured)
    assert statements == [
        "SELECT",
        "SELECT",
        "SELECT",
        "SELECT",
        "SAVEPOINT",
        "SELECT",
        "SELECT",
        "UPDATE",
        "UPDATE",
        "INSERT",
        "INSERT",
        "UPDATE",
        "INSERT",
        "INSERT",
        "INSERT",
        "INSERT",
        "RELEASE",
        "SELECT",
    ]
