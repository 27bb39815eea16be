"""Capacity and areas under real concurrency: threads, each on its own connection, on PostgreSQL."""

from collections import Counter

import pytest

from attendees import services
from attendees.exceptions import AttendanceError, CapacityReached
from attendees.models import Area, Attendee, Event, Visit

from .races import run_together
from .test_areas import assert_counts_match_open_stays

pytestmark = [pytest.mark.postgresql, pytest.mark.django_db(transaction=True)]

# Each thread holds its own connection: 90 leaves room, under PostgreSQL's default of
# 100 connections, for the test's own and whatever else is connected.
CROWD = 90


def people(event: Event, count: int) -> list[Attendee]:
    crowd = Attendee.objects.bulk_create(
        Attendee(event=event, first_name=f"P{n}", last_name="Crowd", email=f"p{n}@example.org") for n in range(count)
    )
    # Created in bulk, around the counting of each save.
    services.recount(events=Event.objects.filter(pk=event.pk))
    return crowd


def outcome_kinds(outcomes) -> Counter:
    kinds = Counter()
    for kind, result in outcomes:
        if kind == "error":
            assert isinstance(result, AttendanceError), result
            kinds[type(result).__name__] += 1
        else:
            kinds["ok"] += 1
    return kinds


def test_ninety_simultaneous_check_ins_into_an_area_of_capacity_ten_admit_exactly_ten(event):
    area = Area.objects.create(event=event, name="Workshop", capacity=10)
    crowd = people(event, CROWD)

    outcomes = run_together(
        [lambda person=person: services.check_in(attendee=person, by=None, area=area) for person in crowd]
    )

    assert outcome_kinds(outcomes) == {"ok": 10, "CapacityReached": CROWD - 10}
    assert Area.objects.get(pk=area.pk).inside == 10
    assert Visit.objects.filter(area=area).count() == 10
    # Those refused entered nothing, not even the event.
    assert Event.objects.get(pk=event.pk).inside == 10
    assert_counts_match_open_stays()


def test_ninety_simultaneous_check_ins_into_an_event_of_capacity_ten_admit_exactly_ten(event):
    Event.objects.filter(pk=event.pk).update(capacity=10)
    crowd = people(event, CROWD)

    outcomes = run_together([lambda person=person: services.check_in(attendee=person, by=None) for person in crowd])

    assert outcome_kinds(outcomes) == {"ok": 10, "CapacityReached": CROWD - 10}
    assert Event.objects.get(pk=event.pk).inside == 10
    assert_counts_match_open_stays()


def test_moves_racing_check_outs_leave_nobody_in_an_area_outside_the_event(event):
    hall = Area.objects.create(event=event, name="Hall")
    workshop = Area.objects.create(event=event, name="Workshop")
    crowd = people(event, 20)
    for person in crowd:
        services.check_in(attendee=person, by=None, area=hall)

    workers = []
    for person in crowd:
        workers.append(lambda person=person: services.check_in(attendee=person, by=None, area=workshop))
        workers.append(lambda person=person: services.check_out(attendee=person, by=None))
    outcomes = run_together(workers)

    assert all(kind == "ok" or isinstance(result, AttendanceError) for kind, result in outcomes)
    assert Event.objects.get(pk=event.pk).inside == Visit.objects.standing().open().in_event().count()
    assert_counts_match_open_stays()


def test_two_areas_racing_for_the_same_person_leave_them_in_one(event, make_attendee):
    areas = [Area.objects.create(event=event, name=f"Room {n}") for n in range(4)]
    person = make_attendee()

    outcomes = run_together(
        [lambda area=area: services.check_in(attendee=person, by=None, area=area) for area in areas * 5]
    )

    assert all(kind == "ok" or isinstance(result, AttendanceError) for kind, result in outcomes)
    assert Visit.objects.filter(attendee=person).standing().open().in_areas().count() == 1
    assert Visit.objects.filter(attendee=person).standing().open().in_event().count() == 1
    assert_counts_match_open_stays()


def test_the_last_place_taken_by_simultaneous_check_ins_of_one_person_is_counted_once(event, make_attendee):
    Event.objects.filter(pk=event.pk).update(capacity=1)
    person = make_attendee()

    outcomes = run_together([lambda: services.check_in(attendee=person, by=None)] * 20)

    kinds = outcome_kinds(outcomes)
    assert kinds["ok"] == 1
    assert not any(isinstance(result, CapacityReached) for _, result in outcomes)
    assert Event.objects.get(pk=event.pk).inside == 1
    assert_counts_match_open_stays()
