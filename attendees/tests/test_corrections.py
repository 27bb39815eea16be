"""The record of every check-in and check-out, and the corrections made to it: voiding a
record, adding a missed check-out, and the scheduled check-out of everyone still inside.

Nothing is ever deleted: a voided record stays with who voided it, when and why, and
the state and the times are derived from what still stands.
"""

import dataclasses
import datetime
import functools
from unittest import mock

import hypothesis
import pytest
from django.db import transaction
from hypothesis import given, note, settings
from hypothesis import strategies as st

from attendees import selectors, services
from attendees.exceptions import (
    AlreadyCheckedIn,
    AlreadyCheckedOut,
    AlreadyVoided,
    CheckOutBeforeCheckIn,
    NotCheckedIn,
    NotLatestRecord,
    TimeInTheFuture,
)
from attendees.models import Attendee, Event, Record, Visit

pytestmark = pytest.mark.django_db

UTC = datetime.UTC
# All in the past of the real clock, so a correction to any of them is a past time.
NINE = datetime.datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
TEN = NINE + datetime.timedelta(hours=1)
ELEVEN = NINE + datetime.timedelta(hours=2)
NOON = NINE + datetime.timedelta(hours=3)
ONE = NINE + datetime.timedelta(hours=4)
MICROSECOND = datetime.timedelta(microseconds=1)
DAY = datetime.timedelta(days=1)

CHECK_IN, CHECK_OUT = Record.Type.CHECK_IN, Record.Type.CHECK_OUT


def clock_at(moment: datetime.datetime):
    return mock.patch("django.utils.timezone.now", return_value=moment)


def scan(attendee: Attendee, *steps: tuple[str, datetime.datetime], by=None, station: str = "") -> None:
    """Check the attendee in ("in") and out ("out") at the given times, in order."""
    for step, moment in steps:
        service = services.check_in if step == "in" else services.check_out
        with clock_at(moment):
            service(attendee=attendee, by=by, station=station)


def seen(attendee: Attendee) -> tuple[bool, bool, list, list]:
    """(is_checked_in, is_checked_out, checkin_times, checkout_times) as the API shows them."""
    fresh = selectors.attendees_with_times(Attendee.objects.filter(pk=attendee.pk)).get()
    return fresh.is_checked_in, fresh.is_checked_out, selectors.checkin_times(fresh), selectors.checkout_times(fresh)


def visits_of(attendee: Attendee) -> list[Visit]:
    return list(Visit.objects.filter(attendee=attendee).order_by("id"))


def records_of(attendee: Attendee) -> list[Record]:
    return list(Record.objects.filter(attendee=attendee).order_by("id"))


def standing(records: list[Record]) -> list[Record]:
    return [record for record in records if record.voided_at is None]


def snapshot(attendee: Attendee) -> list[tuple]:
    """Everything stored about the attendee's attendance, to show that a refusal changed nothing."""
    visits = [(v.pk, v.checked_in_at, v.checked_out_at, v.checked_out_by_id, v.voided_at) for v in visits_of(attendee)]
    records = [(r.pk, r.type, r.at, r.source, r.voided_at, r.voided_by_id, r.void_reason) for r in records_of(attendee)]
    return [*visits, *records]


def row_counts() -> tuple[int, int]:
    return Visit.objects.count(), Record.objects.count()


def void(record: Record, *, by=None, at: datetime.datetime = NOON, reason: str = "Scanned the wrong badge") -> Record:
    with clock_at(at):
        return services.void_record(record=record, by=by, reason=reason)


def correct(attendee: Attendee, *, at: datetime.datetime, by=None, now: datetime.datetime = NOON, reason: str = "Left"):
    with clock_at(now):
        return services.correct_check_out(attendee=attendee, at=at, by=by, reason=reason)


@pytest.fixture
def corrector(make_user):
    return make_user("door_staff", username="corrector")


# Every check-in and check-out writes one standing record


def test_check_in_writes_one_standing_record_with_its_time_station_recorder_and_source(attendee, door_staff):
    with clock_at(NINE):
        services.check_in(attendee=attendee, by=door_staff, station="North door", source=Record.Source.ADMIN)

    [visit] = visits_of(attendee)
    [record] = records_of(attendee)
    assert (record.visit_id, record.type, record.at, record.recorded_at, record.recorded_by) == (
        visit.pk,
        CHECK_IN,
        NINE,
        NINE,
        door_staff,
    )
    assert (record.station, record.source, record.reason, record.voided_at) == ("North door", "admin", "", None)


def test_check_out_writes_one_standing_record_with_its_time_station_recorder_and_source(attendee, door_staff):
    scan(attendee, ("in", NINE))
    with clock_at(TEN):
        services.check_out(attendee=attendee, by=door_staff, station="South door", source=Record.Source.COMMAND)

    [visit] = visits_of(attendee)
    check_in_record, check_out_record = records_of(attendee)
    assert check_in_record.type == CHECK_IN
    assert (check_out_record.visit_id, check_out_record.type, check_out_record.at, check_out_record.recorded_by) == (
        visit.pk,
        CHECK_OUT,
        TEN,
        door_staff,
    )
    assert (check_out_record.station, check_out_record.source, check_out_record.voided_at) == (
        "South door",
        "command",
        None,
    )


def test_records_default_to_source_api_and_no_station(attendee):
    scan(attendee, ("in", NINE), ("out", TEN))

    assert [(r.type, r.source, r.station, r.recorded_by) for r in records_of(attendee)] == [
        (CHECK_IN, "api", "", None),
        (CHECK_OUT, "api", "", None),
    ]


def test_records_carry_the_visits_times_when_a_clock_running_behind_stamps_them_later(attendee):
    scan(attendee, ("in", TEN), ("out", NINE), ("in", NINE))

    first, second = visits_of(attendee)
    records = records_of(attendee)
    assert [(r.type, r.at, r.recorded_at) for r in records] == [
        (CHECK_IN, TEN, TEN),
        (CHECK_OUT, first.checked_out_at, NINE),
        (CHECK_IN, second.checked_in_at, NINE),
    ]
    assert first.checked_out_at == second.checked_in_at == TEN


def test_every_visit_of_an_attendee_coming_and_going_has_one_check_in_and_one_check_out_record(attendee):
    scan(attendee, ("in", NINE), ("out", TEN), ("in", ELEVEN), ("out", NOON), ("in", ONE))

    records = records_of(attendee)
    assert [(r.visit_id, r.type, r.at) for r in records] == [
        (visit.pk, type, at)
        for visit in visits_of(attendee)
        for type, at in [(CHECK_IN, visit.checked_in_at), (CHECK_OUT, visit.checked_out_at)]
        if at is not None
    ]
    assert standing(records) == records


def test_bulk_check_in_writes_one_record_per_attendee_it_checks_in_and_none_for_those_skipped(
    event, make_attendee, door_staff
):
    arriving = [make_attendee("never"), make_attendee("never"), make_attendee("left")]
    already_inside = make_attendee("inside")
    records_before = Record.objects.count()

    result = services.bulk_check_in(
        attendees=Attendee.objects.filter(event=event), by=door_staff, station="Hall", source=Record.Source.ADMIN
    )

    assert result == services.BulkResult(done=3, skipped=1)
    assert Record.objects.count() == records_before + 3
    for person in arriving:
        open_visit = Visit.objects.get(attendee=person, checked_out_at__isnull=True)
        [record] = Record.objects.filter(visit=open_visit)
        assert (record.type, record.at, record.recorded_by, record.station, record.source) == (
            CHECK_IN,
            open_visit.checked_in_at,
            door_staff,
            "Hall",
            "admin",
        )
    assert [r.type for r in records_of(already_inside)] == [CHECK_IN]


def test_bulk_check_out_writes_one_record_per_attendee_it_checks_out_and_none_for_those_skipped(
    event, make_attendee, door_staff
):
    leaving = [make_attendee("inside") for _ in range(3)]
    outside = [make_attendee("never"), make_attendee("left")]
    records_before = Record.objects.count()
    outside_before = [records_of(person) for person in outside]

    result = services.bulk_check_out(attendees=Attendee.objects.filter(event=event), by=door_staff, station="Hall")

    assert result == services.BulkResult(done=3, skipped=2)
    assert Record.objects.count() == records_before + 3
    for person in leaving:
        [visit] = visits_of(person)
        [record] = Record.objects.filter(visit=visit, type=CHECK_OUT)
        assert (record.at, record.recorded_by, record.station, record.source) == (
            visit.checked_out_at,
            door_staff,
            "Hall",
            "api",
        )
    assert [records_of(person) for person in outside] == outside_before


@pytest.mark.parametrize(
    ("state", "service", "refusal"),
    [
        ("inside", services.check_in, AlreadyCheckedIn),
        ("never", services.check_out, NotCheckedIn),
        ("left", services.check_out, AlreadyCheckedOut),
    ],
)
def test_a_refused_check_in_or_check_out_writes_no_record(state, service, refusal, make_attendee, door_staff):
    attendee = make_attendee(state)
    before = snapshot(attendee)

    with pytest.raises(refusal):
        service(attendee=attendee, by=door_staff, station="North door")

    assert snapshot(attendee) == before


def test_a_bulk_check_out_of_nobody_inside_writes_no_record(event, make_attendee, door_staff):
    make_attendee("never")
    make_attendee("left")
    before = row_counts()

    result = services.bulk_check_out(attendees=Attendee.objects.filter(event=event), by=door_staff)

    assert result == services.BulkResult(done=0, skipped=2)
    assert row_counts() == before


# Voiding a check-in


def test_voiding_a_check_in_voids_its_visit_and_its_record_and_the_attendee_never_came(attendee, corrector):
    scan(attendee, ("in", NINE))
    [record] = records_of(attendee)
    counts = row_counts()

    voided = void(record, by=corrector, at=NOON, reason="Scanned the wrong badge")

    assert (voided.pk, voided.voided_at, voided.voided_by, voided.void_reason) == (
        record.pk,
        NOON,
        corrector,
        "Scanned the wrong badge",
    )
    [visit] = visits_of(attendee)
    assert (visit.voided_at, visit.checked_in_at, visit.checked_out_at) == (NOON, NINE, None)
    assert seen(attendee) == (False, False, [], [])
    assert row_counts() == counts


def test_voiding_a_check_in_voids_its_check_out_too_and_keeps_both_in_the_history(attendee, corrector):
    scan(attendee, ("in", NINE), ("out", TEN))
    check_in_record, _ = records_of(attendee)
    counts = row_counts()

    void(check_in_record, by=corrector, at=NOON, reason="Not this attendee")

    records = records_of(attendee)
    assert [(r.type, r.at, r.voided_at, r.voided_by, r.void_reason) for r in records] == [
        (CHECK_IN, NINE, NOON, corrector, "Not this attendee"),
        (CHECK_OUT, TEN, NOON, corrector, "Not this attendee"),
    ]
    [visit] = visits_of(attendee)
    assert (visit.voided_at, visit.checked_in_at, visit.checked_out_at) == (NOON, NINE, TEN)
    assert seen(attendee) == (False, False, [], [])
    assert [r.pk for r in selectors.history(attendee)] == [r.pk for r in records]
    assert row_counts() == counts


def test_voiding_the_check_in_of_the_open_visit_leaves_the_attendee_out_after_the_earlier_visit(attendee):
    scan(attendee, ("in", NINE), ("out", TEN), ("in", ELEVEN))
    *_, latest_check_in = records_of(attendee)

    void(latest_check_in)

    assert seen(attendee) == (False, True, [NINE], [TEN])
    assert [r.voided_at is None for r in records_of(attendee)] == [True, True, False]


def test_voiding_the_check_in_of_an_earlier_visit_voids_only_that_visit(attendee):
    scan(attendee, ("in", NINE), ("out", TEN), ("in", ELEVEN), ("out", NOON))
    first_check_in = records_of(attendee)[0]

    void(first_check_in, at=ONE)

    assert seen(attendee) == (False, True, [ELEVEN], [NOON])
    assert [r.voided_at for r in records_of(attendee)] == [ONE, ONE, None, None]
    first, second = visits_of(attendee)
    assert (first.voided_at, second.voided_at) == (ONE, None)


def test_an_attendee_whose_open_check_in_was_voided_can_check_in_again(attendee):
    scan(attendee, ("in", NINE))
    [mistaken] = records_of(attendee)
    void(mistaken, at=TEN)

    scan(attendee, ("in", ELEVEN))

    assert seen(attendee) == (True, False, [ELEVEN], [])
    assert [(r.type, r.at, r.voided_at) for r in records_of(attendee)] == [
        (CHECK_IN, NINE, TEN),
        (CHECK_IN, ELEVEN, None),
    ]


# Voiding a check-out


def test_voiding_the_latest_check_out_reopens_its_visit_and_the_attendee_is_inside_again(attendee, corrector):
    scan(attendee, ("in", NINE), ("out", TEN))
    check_in_record, check_out_record = records_of(attendee)
    counts = row_counts()

    voided = void(check_out_record, by=corrector, at=NOON, reason="Scanned on the way to the cloakroom")

    assert (voided.voided_at, voided.voided_by, voided.void_reason) == (
        NOON,
        corrector,
        "Scanned on the way to the cloakroom",
    )
    [visit] = visits_of(attendee)
    assert (visit.checked_in_at, visit.checked_out_at, visit.checked_out_by, visit.voided_at) == (
        NINE,
        None,
        None,
        None,
    )
    check_in_record.refresh_from_db()
    assert check_in_record.voided_at is None
    assert seen(attendee) == (True, False, [NINE], [])
    assert row_counts() == counts


def test_checking_out_a_reopened_visit_writes_a_new_check_out_record_beside_the_voided_one(attendee):
    scan(attendee, ("in", NINE), ("out", TEN))
    void(records_of(attendee)[1], at=ELEVEN)

    scan(attendee, ("out", NOON))

    [visit] = visits_of(attendee)
    records = records_of(attendee)
    assert [(r.visit_id, r.type, r.at, r.voided_at) for r in records] == [
        (visit.pk, CHECK_IN, NINE, None),
        (visit.pk, CHECK_OUT, TEN, ELEVEN),
        (visit.pk, CHECK_OUT, NOON, None),
    ]
    assert seen(attendee) == (False, True, [NINE], [NOON])


@pytest.mark.parametrize("later_visit", [[("in", ELEVEN)], [("in", ELEVEN), ("out", NOON)]])
def test_voiding_a_check_out_followed_by_another_visit_is_refused_and_changes_nothing(later_visit, attendee):
    scan(attendee, ("in", NINE), ("out", TEN), *later_visit)
    earlier_check_out = records_of(attendee)[1]
    before = snapshot(attendee)
    shown = seen(attendee)

    with pytest.raises(NotLatestRecord) as refused:
        void(earlier_check_out, at=ONE)

    assert refused.value.code == "not_latest_record"
    assert snapshot(attendee) == before
    assert seen(attendee) == shown


def test_a_check_out_becomes_the_latest_again_once_the_later_check_in_is_voided(attendee):
    scan(attendee, ("in", NINE), ("out", TEN), ("in", ELEVEN))
    _, earlier_check_out, later_check_in = records_of(attendee)
    void(later_check_in, at=NOON)

    void(earlier_check_out, at=ONE)

    assert seen(attendee) == (True, False, [NINE], [])
    assert [r.voided_at for r in records_of(attendee)] == [None, ONE, NOON]


def test_voiding_check_outs_of_visits_that_start_at_the_same_instant_follows_the_order_they_were_made(attendee):
    # A check-out or re-entry is never stamped before what it follows, so a server whose
    # clock runs behind the one that checked the attendee in stamps all three alike.
    scan(attendee, ("in", TEN), ("out", NINE), ("in", NINE), ("out", NINE))
    first, second = visits_of(attendee)
    assert first.checked_in_at == first.checked_out_at == second.checked_in_at == second.checked_out_at == TEN
    earlier_check_out = Record.objects.get(visit=first, type=CHECK_OUT)
    latest_check_out = Record.objects.get(visit=second, type=CHECK_OUT)

    with pytest.raises(NotLatestRecord):
        void(earlier_check_out, at=NOON)
    void(latest_check_out, at=NOON)

    assert seen(attendee) == (True, False, [TEN, TEN], [TEN])
    assert [visit.checked_out_at for visit in visits_of(attendee)] == [TEN, None]


# Voiding twice


@pytest.mark.parametrize("type", [CHECK_IN, CHECK_OUT])
def test_voiding_a_record_a_second_time_is_refused_and_changes_nothing(type, attendee, corrector):
    scan(attendee, ("in", NINE), ("out", TEN))
    record = Record.objects.get(attendee=attendee, type=type)
    void(record, by=corrector, at=ELEVEN, reason="First")
    before = snapshot(attendee)
    shown = seen(attendee)

    for stale_or_fresh in [record, Record.objects.get(pk=record.pk)]:
        with pytest.raises(AlreadyVoided) as refused:
            void(stale_or_fresh, at=NOON, reason="Second")
        assert refused.value.code == "already_voided"

    assert snapshot(attendee) == before
    assert seen(attendee) == shown


def test_voiding_a_check_out_already_voided_with_its_check_in_is_refused(attendee):
    scan(attendee, ("in", NINE), ("out", TEN))
    check_in_record, check_out_record = records_of(attendee)
    void(check_in_record, at=ELEVEN)
    before = snapshot(attendee)

    with pytest.raises(AlreadyVoided):
        void(check_out_record, at=NOON)

    assert snapshot(attendee) == before
    assert seen(attendee) == (False, False, [], [])


# Correcting a missed check-out


def test_correcting_a_check_out_closes_the_open_visit_at_that_time_with_a_correction_record(attendee, corrector):
    scan(attendee, ("in", NINE))
    counts = row_counts()

    record = correct(attendee, at=TEN, by=corrector, now=NOON, reason="Left without scanning out")

    [visit] = visits_of(attendee)
    assert (visit.checked_out_at, visit.checked_out_by) == (TEN, corrector)
    assert (record.visit_id, record.type, record.at, record.recorded_at, record.recorded_by) == (
        visit.pk,
        CHECK_OUT,
        TEN,
        NOON,
        corrector,
    )
    assert (record.source, record.reason, record.station, record.voided_at) == (
        "correction",
        "Left without scanning out",
        "",
        None,
    )
    assert records_of(attendee)[-1] == record
    assert seen(attendee) == (False, True, [NINE], [TEN])
    assert row_counts() == (counts[0], counts[1] + 1)


@pytest.mark.parametrize("at", [NINE, NOON], ids=["at the check-in", "at now"])
def test_a_check_out_can_be_corrected_to_the_check_in_time_or_to_now(at, attendee):
    scan(attendee, ("in", NINE))

    correct(attendee, at=at, now=NOON)

    assert seen(attendee) == (False, True, [NINE], [at])


def test_correcting_a_check_out_to_a_time_in_the_future_is_refused_and_records_nothing(attendee):
    scan(attendee, ("in", NINE))
    before = snapshot(attendee)

    with pytest.raises(TimeInTheFuture) as refused:
        correct(attendee, at=NOON + MICROSECOND, now=NOON)

    assert refused.value.code == "time_in_the_future"
    assert snapshot(attendee) == before
    assert seen(attendee) == (True, False, [NINE], [])


def test_correcting_a_check_out_to_before_the_open_check_in_is_refused_and_records_nothing(attendee):
    scan(attendee, ("in", NINE), ("out", TEN), ("in", ELEVEN))
    before = snapshot(attendee)

    with pytest.raises(CheckOutBeforeCheckIn) as refused:
        correct(attendee, at=ELEVEN - MICROSECOND, now=NOON)

    assert refused.value.code == "check_out_before_check_in"
    assert "2026-11-20T11:00:00Z" in refused.value.detail
    assert snapshot(attendee) == before
    assert seen(attendee) == (True, False, [NINE, ELEVEN], [TEN])


@pytest.mark.parametrize(
    ("steps", "refusal"),
    [
        ([], NotCheckedIn),
        ([("in", NINE), ("out", TEN)], AlreadyCheckedOut),
        ([("in", NINE), ("out", TEN), ("in", ELEVEN), ("out", NOON)], AlreadyCheckedOut),
    ],
    ids=["never checked in", "left", "left twice"],
)
def test_correcting_the_check_out_of_someone_not_inside_is_refused_and_records_nothing(steps, refusal, attendee):
    scan(attendee, *steps)
    before = snapshot(attendee)

    with pytest.raises(refusal):
        correct(attendee, at=NOON, now=ONE)

    assert snapshot(attendee) == before


@pytest.mark.parametrize(
    ("steps", "refusal"),
    [([("in", NINE)], NotCheckedIn), ([("in", NINE), ("out", TEN), ("in", ELEVEN)], AlreadyCheckedOut)],
    ids=["only visit voided", "later visit voided"],
)
def test_correcting_the_check_out_of_a_voided_visit_is_refused(steps, refusal, attendee):
    scan(attendee, *steps)
    void(records_of(attendee)[-1], at=NOON)
    before = snapshot(attendee)

    with pytest.raises(refusal):
        correct(attendee, at=NOON, now=ONE)

    assert snapshot(attendee) == before


def test_a_voided_check_out_can_be_replaced_by_a_correction_and_both_stay_in_the_history(attendee):
    scan(attendee, ("in", NINE), ("out", NOON))
    void(records_of(attendee)[1], at=ONE, reason="Scanned at the end of the day by mistake")

    correct(attendee, at=TEN, now=ONE, reason="Left at ten")

    records = records_of(attendee)
    assert [(r.type, r.at, r.source, r.voided_at is None) for r in records] == [
        (CHECK_IN, NINE, "api", True),
        (CHECK_OUT, NOON, "api", False),
        (CHECK_OUT, TEN, "correction", True),
    ]
    assert [r.pk for r in selectors.history(attendee)] == [records[0].pk, records[2].pk, records[1].pk]
    assert seen(attendee) == (False, True, [NINE], [TEN])


def test_voiding_a_corrected_check_out_reopens_the_visit(attendee):
    scan(attendee, ("in", NINE))
    correction = correct(attendee, at=TEN, now=ELEVEN)

    void(correction, at=NOON)

    assert seen(attendee) == (True, False, [NINE], [])


def test_re_entry_after_a_corrected_check_out_is_stamped_now(attendee):
    scan(attendee, ("in", NINE))
    correct(attendee, at=TEN, now=NOON)

    scan(attendee, ("in", ONE))

    assert seen(attendee) == (True, False, [NINE, ONE], [TEN])


def test_voids_and_corrections_never_delete_a_visit_or_a_record(attendee):
    counts = [row_counts()]
    scan(attendee, ("in", NINE), ("out", TEN))
    counts.append(row_counts())
    void(records_of(attendee)[1], at=ELEVEN)
    counts.append(row_counts())
    correct(attendee, at=ELEVEN, now=NOON)
    counts.append(row_counts())
    void(records_of(attendee)[0], at=ONE)
    counts.append(row_counts())

    assert counts == [(0, 0), (1, 2), (1, 2), (1, 3), (1, 3)]
    assert [r.voided_at for r in records_of(attendee)] == [ONE, ELEVEN, ONE]


# The scheduled check-out


DUE = datetime.datetime(2026, 11, 20, 18, 0, tzinfo=UTC)
MORNING_OF_DUE = DUE - datetime.timedelta(hours=9)
NOON_OF_DUE = DUE - datetime.timedelta(hours=6)
STATE_STEPS = {
    "never": [],
    "inside": [("in", MORNING_OF_DUE)],
    "left": [("in", MORNING_OF_DUE), ("out", NOON_OF_DUE)],
}


def make_event(name: str, **fields) -> Event:
    return Event.objects.create(name=name, **fields)


def person_of(event: Event, state: str, make_attendee) -> Attendee:
    """An attendee of `event` in `state`, checked in and out earlier on the due day."""
    person = make_attendee("never", event=event)
    scan(person, *STATE_STEPS[state])
    return person


def check_out_due(now: datetime.datetime) -> list[services.DueCheckOut]:
    with clock_at(now):
        return services.check_out_due(now=now)


def auto_checkout_at(event: Event) -> datetime.datetime | None:
    return Event.objects.values_list("auto_checkout_at", flat=True).get(pk=event.pk)


def test_check_out_due_checks_out_everyone_inside_of_a_due_event_as_source_auto(make_attendee):
    due = make_event("Due", auto_checkout_at=DUE)
    inside = [person_of(due, "inside", make_attendee) for _ in range(2)]
    outside = [person_of(due, "never", make_attendee), person_of(due, "left", make_attendee)]
    outside_before = [snapshot(person) for person in outside]

    done = check_out_due(DUE)

    assert done == [services.DueCheckOut(event=due, result=services.BulkResult(done=2, skipped=2), next_at=DUE + DAY)]
    for person in inside:
        [visit] = visits_of(person)
        [record] = Record.objects.filter(visit=visit, type=CHECK_OUT)
        assert (visit.checked_out_at, visit.checked_out_by) == (DUE, None)
        assert (record.at, record.recorded_at, record.recorded_by, record.source, record.station) == (
            DUE,
            DUE,
            None,
            "auto",
            "",
        )
        assert seen(person) == (False, True, [MORNING_OF_DUE], [DUE])
    assert [snapshot(person) for person in outside] == outside_before


def test_check_out_due_leaves_events_not_due_or_without_a_time_alone(make_attendee):
    later = make_event("Later", auto_checkout_at=DUE + MICROSECOND)
    unscheduled = make_event("Unscheduled")
    people = [person_of(later, "inside", make_attendee), person_of(unscheduled, "inside", make_attendee)]
    before = [snapshot(person) for person in people]

    assert check_out_due(DUE) == []

    assert [snapshot(person) for person in people] == before
    assert (auto_checkout_at(later), auto_checkout_at(unscheduled)) == (DUE + MICROSECOND, None)


def test_check_out_due_checks_out_every_due_event_once(make_attendee):
    events = [make_event(f"Day {n}", auto_checkout_at=DUE - n * datetime.timedelta(hours=1)) for n in range(3)]
    people = [person_of(event, "inside", make_attendee) for event in events for _ in range(2)]

    done = check_out_due(DUE)

    assert sorted((d.event.pk, d.result.done) for d in done) == sorted((event.pk, 2) for event in events)
    for person in people:
        assert [(r.type, r.source) for r in records_of(person)] == [(CHECK_IN, "api"), (CHECK_OUT, "auto")]
    assert [auto_checkout_at(event) for event in events] == [
        DUE + DAY - n * datetime.timedelta(hours=1) for n in range(3)
    ]


@pytest.mark.parametrize(
    ("late_by", "moved_on_by"),
    [
        (datetime.timedelta(0), DAY),
        (datetime.timedelta(hours=1), DAY),
        (DAY - MICROSECOND, DAY),
        (DAY, 2 * DAY),
        (2 * DAY + datetime.timedelta(hours=3), 3 * DAY),
    ],
    ids=["on time", "an hour late", "almost a day late", "a day late", "two days and three hours late"],
)
def test_check_out_due_moves_the_time_on_to_the_same_time_on_the_first_day_after_now(late_by, moved_on_by):
    event = make_event("Conference", auto_checkout_at=DUE)

    [done] = check_out_due(DUE + late_by)

    assert done.next_at == auto_checkout_at(event) == DUE + moved_on_by


@pytest.mark.parametrize(
    ("ends_at", "next_at"),
    [(None, DUE + DAY), (DUE + DAY, DUE + DAY), (DUE + DAY - MICROSECOND, None), (DUE, None)],
    ids=["no end", "ends at the next time", "ends just before the next time", "ends at the due time"],
)
def test_check_out_due_keeps_the_time_while_the_event_lasts_and_clears_it_after(ends_at, next_at):
    event = make_event("Conference", starts_at=DUE - DAY, ends_at=ends_at, auto_checkout_at=DUE)

    [done] = check_out_due(DUE)

    assert done.next_at == auto_checkout_at(event) == next_at


def test_check_out_due_of_an_event_with_nobody_inside_still_moves_the_time_on(make_attendee):
    event = make_event("Quiet", auto_checkout_at=DUE)
    person_of(event, "left", make_attendee)
    counts = row_counts()

    [done] = check_out_due(DUE)

    assert done.result == services.BulkResult(done=0, skipped=1)
    assert auto_checkout_at(event) == DUE + DAY
    assert row_counts() == counts


def test_check_out_due_a_second_time_does_nothing(make_attendee):
    event = make_event("Conference", auto_checkout_at=DUE)
    person = person_of(event, "inside", make_attendee)
    check_out_due(DUE)
    before = snapshot(person)
    counts = row_counts()

    assert check_out_due(DUE) == []
    assert check_out_due(DUE + datetime.timedelta(hours=1)) == []

    assert snapshot(person) == before
    assert row_counts() == counts
    assert auto_checkout_at(event) == DUE + DAY


def test_check_out_due_the_next_day_checks_out_those_who_came_back(make_attendee):
    event = make_event("Conference", auto_checkout_at=DUE, ends_at=DUE + 2 * DAY)
    person = person_of(event, "inside", make_attendee)
    check_out_due(DUE)
    scan(person, ("in", MORNING_OF_DUE + DAY))

    [done] = check_out_due(DUE + DAY)

    assert done.result.done == 1
    assert seen(person) == (False, True, [MORNING_OF_DUE, MORNING_OF_DUE + DAY], [DUE, DUE + DAY])
    assert [r.source for r in records_of(person) if r.type == CHECK_OUT] == ["auto", "auto"]
    assert auto_checkout_at(event) == DUE + 2 * DAY


# Random sequences against a model of the rules


@dataclasses.dataclass
class ModelVisit:
    checked_in_at: datetime.datetime
    checked_out_at: datetime.datetime | None = None
    voided: bool = False


@dataclasses.dataclass
class ModelRecord:
    visit: int
    type: str
    at: datetime.datetime
    voided: bool = False


@dataclasses.dataclass
class ModelAttendee:
    """What the rules say about one attendee: their visits and records, in the order written."""

    visits: list[ModelVisit] = dataclasses.field(default_factory=list)
    records: list[ModelRecord] = dataclasses.field(default_factory=list)

    def standing_visits(self) -> list[ModelVisit]:
        return [visit for visit in self.visits if not visit.voided]

    def open_visit(self) -> ModelVisit | None:
        return next((visit for visit in self.standing_visits() if visit.checked_out_at is None), None)

    def flags(self) -> tuple[bool, bool]:
        inside = self.open_visit() is not None
        return inside, bool(self.standing_visits()) and not inside

    def times(self) -> tuple[list, list]:
        visits = sorted(self.standing_visits(), key=lambda visit: visit.checked_in_at)
        return [v.checked_in_at for v in visits], [v.checked_out_at for v in visits if v.checked_out_at]

    def not_inside(self) -> type[Exception]:
        return AlreadyCheckedOut if self.standing_visits() else NotCheckedIn

    def check_in(self, now: datetime.datetime) -> type[Exception] | None:
        if self.open_visit():
            return AlreadyCheckedIn
        self.visits.append(ModelVisit(checked_in_at=now))
        self.records.append(ModelRecord(visit=len(self.visits) - 1, type=CHECK_IN, at=now))
        return None

    def check_out(self, now: datetime.datetime, at: datetime.datetime | None = None) -> type[Exception] | None:
        visit = self.open_visit()
        if visit is None:
            return self.not_inside()
        visit.checked_out_at = at or now
        self.records.append(ModelRecord(visit=self.visits.index(visit), type=CHECK_OUT, at=visit.checked_out_at))
        return None

    def correct(self, now: datetime.datetime, at: datetime.datetime) -> type[Exception] | None:
        if at > now:
            return TimeInTheFuture
        visit = self.open_visit()
        if visit is not None and at < visit.checked_in_at:
            return CheckOutBeforeCheckIn
        return self.check_out(now, at)

    def void(self, record: ModelRecord) -> type[Exception] | None:
        if record.voided:
            return AlreadyVoided
        if record.type == CHECK_IN:
            self.visits[record.visit].voided = True
            for other in self.records:
                if other.visit == record.visit:
                    other.voided = True
            return None
        if any(not visit.voided for visit in self.visits[record.visit + 1 :]):
            return NotLatestRecord
        self.visits[record.visit].checked_out_at = None
        record.voided = True
        return None


MODEL_ATTENDEES = 2
STEP = datetime.timedelta(minutes=1)
START = datetime.datetime(2026, 11, 1, 9, 0, tzinfo=UTC)

attendee_index = st.integers(min_value=0, max_value=MODEL_ATTENDEES - 1)
scan_step = st.tuples(st.sampled_from(["check_in", "check_out"]), attendee_index, st.just(0))
# Check-ins come twice as often as check-outs, so that there is something to check out, correct and void.
check_in_step = st.tuples(st.just("check_in"), attendee_index, st.just(0))
# Which of the attendee's records, counted from the first (modulo how many there are).
void_step = st.tuples(st.just("void"), attendee_index, st.integers(min_value=0, max_value=20))
# How many 20-second steps before now: -1 is in the future; 3 is the check-in of the step before.
correct_step = st.tuples(st.just("correct"), attendee_index, st.integers(min_value=-1, max_value=6))
model_steps = st.lists(st.one_of(scan_step, check_in_step, void_step, correct_step), min_size=1, max_size=30)


def run_model_step(name: str, argument: int, attendee: Attendee, model: ModelAttendee, now: datetime.datetime):
    """Apply the step to the model and to the services at `now`; the services must refuse what the model refuses."""
    if name == "void":
        if not model.records:
            return
        index = argument % len(model.records)
        refusal = model.void(model.records[index])
        call = functools.partial(services.void_record, record=records_of(attendee)[index], by=None, reason="Property")
    elif name == "correct":
        at = now - argument * datetime.timedelta(seconds=20)
        refusal = model.correct(now, at)
        call = functools.partial(services.correct_check_out, attendee=attendee, at=at, by=None, reason="Property")
    else:
        refusal = getattr(model, name)(now)
        call = functools.partial(getattr(services, name), attendee=attendee, by=None)
    hypothesis.event(f"{name}: {refusal.__name__ if refusal else 'done'}")
    with clock_at(now):
        if refusal is None:
            call()
        else:
            with pytest.raises(refusal):
                call()


def assert_agrees_with_model(attendee: Attendee, model: ModelAttendee) -> None:
    visits = visits_of(attendee)
    assert [(v.checked_in_at, v.checked_out_at, v.voided_at is not None) for v in visits] == [
        (v.checked_in_at, v.checked_out_at, v.voided) for v in model.visits
    ]
    records = records_of(attendee)
    visit_pks = [visit.pk for visit in visits]
    assert [(r.visit_id, r.type, r.at, r.voided_at is not None) for r in records] == [
        (visit_pks[r.visit], r.type, r.at, r.voided) for r in model.records
    ]
    for visit in visits:
        of_visit = [r for r in standing(records) if r.visit_id == visit.pk]
        if visit.voided_at is not None:
            assert of_visit == []
            continue
        [check_in_record] = [r for r in of_visit if r.type == CHECK_IN]
        check_out_records = [r for r in of_visit if r.type == CHECK_OUT]
        assert check_in_record.at == visit.checked_in_at
        assert [r.at for r in check_out_records] == ([visit.checked_out_at] if visit.checked_out_at else [])
    assert seen(attendee) == (*model.flags(), *model.times())
    fresh = selectors.attendee_with_times(Attendee.objects.get(pk=attendee.pk))
    assert (fresh.is_checked_in, fresh.is_checked_out) == model.flags()


@pytest.mark.django_db
@settings(max_examples=50, deadline=None)
@given(steps=model_steps)
def test_check_ins_check_outs_voids_and_corrections_agree_with_a_model_after_every_step(steps):
    # Schemathesis's pytest plugin silences Hypothesis's printout of the arguments.
    note(f"steps={steps}")
    # One savepoint per example, rolled back at the end: every example starts from nothing.
    with transaction.atomic():
        event = Event.objects.create(name="Property")
        attendees = [
            Attendee.objects.create(event=event, first_name=f"A{n}", last_name="B", email=f"a{n}@example.org")
            for n in range(MODEL_ATTENDEES)
        ]
        models = [ModelAttendee() for _ in attendees]
        counts = row_counts()
        for number, (name, target, argument) in enumerate(steps, start=1):
            # The clock moves on every step, so no two check-ins share a time.
            run_model_step(name, argument, attendees[target], models[target], START + number * STEP)
            for attendee, model in zip(attendees, models, strict=True):
                assert_agrees_with_model(attendee, model)
            # Nothing is ever deleted.
            assert all(after >= before for after, before in zip(row_counts(), counts, strict=True))
            counts = row_counts()
        transaction.set_rollback(True)
