"""Corrections and the scheduled check-out racing each other and the door scanners, from
real threads, each on its own database connection."""

import datetime
from collections import Counter
from functools import partial
from typing import Any

import pytest
from django.utils import timezone

from attendees import selectors, services
from attendees.exceptions import AlreadyCheckedIn, AlreadyCheckedOut, AlreadyVoided, NotLatestRecord
from attendees.models import Attendee, Event, Record, Visit

from .races import run_together

pytestmark = [pytest.mark.postgresql, pytest.mark.django_db(transaction=True)]

VOIDERS = 10
ROUNDS = 20


def kinds(outcomes: list[tuple[str, Any]]) -> list[str]:
    return [kind if kind == "ok" else type(result).__name__ for kind, result in outcomes]


def assert_state_agrees_with_the_standing_records(attendee: Attendee) -> None:
    """One open visit at most; each standing visit has one standing check-in and at most
    one standing check-out, at its times; the state and the times follow from them."""
    visits = list(Visit.objects.filter(attendee=attendee, voided_at__isnull=True).order_by("checked_in_at", "id"))
    assert sum(visit.checked_out_at is None for visit in visits) <= 1
    for visit in visits:
        records = Record.objects.filter(visit=visit, voided_at__isnull=True)
        assert sorted((r.type, r.at) for r in records) == sorted(
            [(Record.Type.CHECK_IN, visit.checked_in_at)]
            + ([(Record.Type.CHECK_OUT, visit.checked_out_at)] if visit.checked_out_at else [])
        )
    fresh = selectors.attendees_with_times(Attendee.objects.filter(pk=attendee.pk)).get()
    inside = any(visit.checked_out_at is None for visit in visits)
    assert (fresh.is_checked_in, fresh.is_checked_out) == (inside, bool(visits) and not inside)
    assert selectors.checkin_times(fresh) == [visit.checked_in_at for visit in visits]
    assert selectors.checkout_times(fresh) == [visit.checked_out_at for visit in visits if visit.checked_out_at]


def test_simultaneous_voids_of_one_check_out_succeed_exactly_once(make_attendee, make_user):
    attendee = make_attendee("left")
    check_out_record = Record.objects.get(attendee=attendee, type=Record.Type.CHECK_OUT)
    voiders = [make_user("door_staff", username=f"voider{n}") for n in range(VOIDERS)]

    outcomes = run_together(
        [partial(services.void_record, record=check_out_record, by=user, reason=f"Void by {user}") for user in voiders]
    )

    assert Counter(kinds(outcomes)) == {"ok": 1, "AlreadyVoided": VOIDERS - 1}
    assert all(isinstance(result, AlreadyVoided) for kind, result in outcomes if kind == "error")
    [(winner, voided)] = [
        (user, result) for user, (kind, result) in zip(voiders, outcomes, strict=True) if kind == "ok"
    ]
    check_out_record.refresh_from_db()
    assert (check_out_record.voided_at, check_out_record.voided_by, check_out_record.void_reason) == (
        voided.voided_at,
        winner,
        f"Void by {winner}",
    )
    assert Record.objects.filter(attendee=attendee).count() == 2
    assert_state_agrees_with_the_standing_records(attendee)
    [visit] = Visit.objects.filter(attendee=attendee)
    assert visit.checked_out_at is None


def test_a_void_of_the_latest_check_out_racing_a_check_in_never_leaves_two_open_visits(make_attendee, door_staff):
    for _ in range(ROUNDS):
        attendee = make_attendee("left")
        check_out_record = Record.objects.get(attendee=attendee, type=Record.Type.CHECK_OUT)

        void_outcome, check_in_outcome = run_together(
            [
                partial(services.void_record, record=check_out_record, by=door_staff, reason="Still inside"),
                partial(services.check_in, attendee=attendee, by=door_staff),
            ]
        )

        outcome = tuple(kinds([void_outcome, check_in_outcome]))
        # Either the void came first, and the attendee was inside when the check-in
        # came; or the check-in came first, and the check-out was no longer the latest.
        assert outcome in {("ok", "AlreadyCheckedIn"), ("NotLatestRecord", "ok")}, (void_outcome, check_in_outcome)
        visits = list(Visit.objects.filter(attendee=attendee).order_by("id"))
        assert Visit.objects.filter(attendee=attendee, checked_out_at__isnull=True).count() == 1
        check_out_record.refresh_from_db()
        if outcome[0] == "ok":
            assert isinstance(check_in_outcome[1], AlreadyCheckedIn)
            assert len(visits) == 1
            assert check_out_record.voided_at is not None
        else:
            assert isinstance(void_outcome[1], NotLatestRecord)
            assert len(visits) == 2
            assert check_out_record.voided_at is None
        assert_state_agrees_with_the_standing_records(attendee)


def test_a_correction_racing_a_check_out_closes_the_visit_once(make_attendee, make_user):
    correction_user, door_user = make_user("door_staff", username="corrector"), make_user("door_staff", username="door")
    for _ in range(ROUNDS):
        attendee = make_attendee("inside")
        [visit] = Visit.objects.filter(attendee=attendee)

        correction, check_out = run_together(
            [
                partial(
                    services.correct_check_out,
                    attendee=attendee,
                    at=visit.checked_in_at,
                    by=correction_user,
                    reason="Left at once",
                ),
                partial(services.check_out, attendee=attendee, by=door_user),
            ]
        )

        assert Counter(kinds([correction, check_out])) == {"ok": 1, "AlreadyCheckedOut": 1}
        assert all(isinstance(result, AlreadyCheckedOut) for kind, result in [correction, check_out] if kind == "error")
        visit.refresh_from_db()
        [record] = Record.objects.filter(visit=visit, type=Record.Type.CHECK_OUT)
        if correction[0] == "ok":
            assert (visit.checked_out_at, visit.checked_out_by) == (visit.checked_in_at, correction_user)
            assert (record.source, record.recorded_by) == ("correction", correction_user)
        else:
            assert visit.checked_out_by == door_user
            assert (record.source, record.recorded_by) == ("api", door_user)
        assert record.at == visit.checked_out_at
        assert_state_agrees_with_the_standing_records(attendee)


def test_simultaneous_scheduled_check_outs_check_out_each_due_event_once(make_attendee):
    due = timezone.now() - datetime.timedelta(hours=1)
    events = [Event.objects.create(name=f"Day {n}", auto_checkout_at=due) for n in range(3)]
    inside = [make_attendee("inside", event=event) for event in events for _ in range(4)]
    left = [make_attendee("left", event=event) for event in events]
    records_before = Record.objects.count()

    outcomes = run_together([services.check_out_due, services.check_out_due])

    assert kinds(outcomes) == ["ok", "ok"]
    done = [checked_out for _, results in outcomes for checked_out in results]
    assert sorted(d.event.pk for d in done) == sorted(event.pk for event in events)
    assert all(d.result == services.BulkResult(done=4, skipped=1) for d in done)
    assert Record.objects.count() == records_before + len(inside)
    for person in inside:
        [record] = Record.objects.filter(attendee=person, type=Record.Type.CHECK_OUT)
        assert (record.source, record.recorded_by) == ("auto", None)
        assert_state_agrees_with_the_standing_records(person)
    for person in left:
        assert [r.source for r in Record.objects.filter(attendee=person, type=Record.Type.CHECK_OUT)] == ["api"]
    moved_on = Event.objects.filter(pk__in=[event.pk for event in events]).values_list("auto_checkout_at", flat=True)
    assert list(moved_on) == [due + datetime.timedelta(days=1)] * len(events)
