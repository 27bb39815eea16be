import datetime
from unittest import mock

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from attendees import selectors, services
from attendees.exceptions import (
    AlreadyCheckedIn,
    AlreadyCheckedOut,
    HasHistory,
    NotCheckedIn,
)
from attendees.models import Area, Attendee, Event, Record, Visit

pytestmark = pytest.mark.django_db

UTC = datetime.UTC
MORNING = datetime.datetime(2026, 11, 24, 9, 0, 1, 123456, tzinfo=UTC)
EVENING = datetime.datetime(2026, 11, 24, 17, 30, 0, 654321, tzinfo=UTC)

# Measured: SAVEPOINT, the events' rows locked, COUNT, the UPDATE of the stays in the events and in
# their areas (check-out) or the INSERT ... SELECT of the stays (check-in), the INSERT ... SELECT of
# their records, then for a check-out the numbers inside the events, for a check-in the events counted
# and their numbers inside, the kept figures (the minutes written, a statement for the one minute,
# one for the attendees' times inside), RELEASE SAVEPOINT.
BULK_CHECK_OUT_QUERIES = 10
BULK_CHECK_IN_QUERIES = 11

STEPS = {
    "never": [],
    "inside": ["in"],
    "left": ["in", "out"],
    "back inside": ["in", "out", "in"],
    "left twice": ["in", "out", "in", "out"],
}


def clock_at(moment: datetime.datetime):
    return mock.patch("django.utils.timezone.now", return_value=moment)


def visits_of(attendee: Attendee) -> list[Visit]:
    return list(Visit.objects.filter(attendee=attendee).order_by("checked_in_at", "id"))


def state_of(attendee: Attendee) -> tuple[bool, bool]:
    annotated = selectors.attendees_with_state(Attendee.objects.filter(pk=attendee.pk)).get()
    return annotated.is_checked_in, annotated.is_checked_out


def make_crowd(event: Event, *, inside: int = 0, never: int = 0, left: int = 0) -> dict[str, list[Attendee]]:
    """Attendees of `event` in each state, created in a handful of queries."""
    counts = {"inside": inside, "never": never, "left": left}
    crowd = {}
    for state, count in counts.items():
        crowd[state] = Attendee.objects.bulk_create(
            Attendee(event=event, first_name=f"{state}{n}", last_name="Crowd", email=f"{state}{n}@example.org")
            for n in range(count)
        )
    Visit.objects.bulk_create(
        [Visit(attendee=attendee, checked_in_at=MORNING) for attendee in crowd["inside"]]
        + [Visit(attendee=attendee, checked_in_at=MORNING, checked_out_at=EVENING) for attendee in crowd["left"]]
    )
    services.recount()
    return crowd


# The state machine


def test_attendee_who_never_checked_in_has_no_visits_and_is_neither_inside_nor_out(attendee):
    assert visits_of(attendee) == []
    assert state_of(attendee) == (False, False)


def test_check_in_opens_a_visit_and_puts_the_attendee_inside(attendee, door_staff):
    services.check_in(attendee=attendee, by=door_staff)

    [visit] = visits_of(attendee)
    assert visit.checked_out_at is None
    assert state_of(attendee) == (True, False)


def test_check_out_closes_the_open_visit_and_the_attendee_has_left(make_attendee, door_staff):
    attendee = make_attendee("inside")

    services.check_out(attendee=attendee, by=door_staff)

    [visit] = visits_of(attendee)
    assert visit.checked_out_at is not None
    assert state_of(attendee) == (False, True)


def test_check_in_after_check_out_opens_a_new_visit_and_keeps_the_first(make_attendee, door_staff):
    attendee = make_attendee("left")
    [first] = visits_of(attendee)

    services.check_in(attendee=attendee, by=door_staff)

    visits = visits_of(attendee)
    assert len(visits) == 2
    assert (visits[0].pk, visits[0].checked_in_at, visits[0].checked_out_at) == (
        first.pk,
        first.checked_in_at,
        first.checked_out_at,
    )
    assert visits[1].checked_out_at is None
    assert state_of(attendee) == (True, False)


def test_attendee_can_come_and_go_many_times_and_every_visit_is_kept(attendee, door_staff):
    for _ in range(3):
        services.check_in(attendee=attendee, by=door_staff)
        assert state_of(attendee) == (True, False)
        services.check_out(attendee=attendee, by=door_staff)
        assert state_of(attendee) == (False, True)

    visits = visits_of(attendee)
    assert len(visits) == 3
    assert all(visit.checked_out_at is not None for visit in visits)


# Refusals record nothing


def test_check_in_of_attendee_inside_is_refused_and_records_nothing(make_attendee, door_staff):
    attendee = make_attendee("inside")
    [before] = visits_of(attendee)
    total = Visit.objects.count()

    with pytest.raises(AlreadyCheckedIn) as refused:
        services.check_in(attendee=attendee, by=door_staff)

    assert refused.value.code == "already_checked_in"
    assert Visit.objects.count() == total
    [after] = visits_of(attendee)
    assert (after.pk, after.checked_in_at, after.checked_in_by, after.checked_out_at) == (
        before.pk,
        before.checked_in_at,
        before.checked_in_by,
        None,
    )
    assert state_of(attendee) == (True, False)


def test_check_out_of_attendee_who_never_checked_in_is_refused_and_records_nothing(attendee, door_staff):
    total = Visit.objects.count()

    with pytest.raises(NotCheckedIn) as refused:
        services.check_out(attendee=attendee, by=door_staff)

    assert refused.value.code == "not_checked_in"
    assert Visit.objects.count() == total
    assert state_of(attendee) == (False, False)


@pytest.mark.parametrize("state", ["left", "left twice"])
def test_check_out_of_attendee_who_has_left_is_refused_and_records_nothing(state, attendee, door_staff):
    for step in STEPS[state]:
        (services.check_in if step == "in" else services.check_out)(attendee=attendee, by=None)
    before = [(v.pk, v.checked_in_at, v.checked_out_at, v.checked_out_by_id) for v in visits_of(attendee)]
    total = Visit.objects.count()

    with pytest.raises(AlreadyCheckedOut) as refused:
        services.check_out(attendee=attendee, by=door_staff)

    assert refused.value.code == "already_checked_out"
    assert Visit.objects.count() == total
    assert [(v.pk, v.checked_in_at, v.checked_out_at, v.checked_out_by_id) for v in visits_of(attendee)] == before
    assert state_of(attendee) == (False, True)


# Times and who recorded them


def test_check_in_is_stamped_with_the_server_time_as_an_aware_utc_datetime(attendee, door_staff):
    with clock_at(MORNING):
        services.check_in(attendee=attendee, by=door_staff)

    [visit] = visits_of(attendee)
    assert visit.checked_in_at == MORNING
    assert visit.checked_in_at.utcoffset() == datetime.timedelta(0)


def test_check_out_is_stamped_with_the_server_time_as_an_aware_utc_datetime(attendee, door_staff):
    with clock_at(MORNING):
        services.check_in(attendee=attendee, by=door_staff)
    with clock_at(EVENING):
        services.check_out(attendee=attendee, by=door_staff)

    [visit] = visits_of(attendee)
    assert visit.checked_out_at == EVENING
    assert visit.checked_out_at.utcoffset() == datetime.timedelta(0)


def test_check_in_and_check_out_times_fall_within_the_calls_on_the_real_clock(attendee, door_staff):
    before_in = timezone.now()
    services.check_in(attendee=attendee, by=door_staff)
    before_out = timezone.now()
    services.check_out(attendee=attendee, by=door_staff)
    after_out = timezone.now()

    [visit] = visits_of(attendee)
    assert before_in <= visit.checked_in_at <= before_out <= visit.checked_out_at <= after_out
    assert visit.checked_in_at.utcoffset() == visit.checked_out_at.utcoffset() == datetime.timedelta(0)


def test_check_out_is_never_stamped_before_its_check_in_when_the_clock_goes_back(attendee, door_staff):
    with clock_at(EVENING):
        services.check_in(attendee=attendee, by=door_staff)
    with clock_at(MORNING):
        services.check_out(attendee=attendee, by=door_staff)

    [visit] = visits_of(attendee)
    assert visit.checked_out_at == visit.checked_in_at == EVENING


def test_re_entry_is_never_stamped_before_the_last_check_out_when_the_clock_goes_back(attendee, door_staff):
    with clock_at(EVENING):
        services.check_in(attendee=attendee, by=door_staff)
        services.check_out(attendee=attendee, by=door_staff)
    with clock_at(MORNING):
        services.check_in(attendee=attendee, by=door_staff)

    first, second = visits_of(attendee)
    assert second.checked_in_at == first.checked_out_at == EVENING


def test_bulk_re_entry_is_never_stamped_before_the_last_check_out_when_the_clock_goes_back(attendee, door_staff):
    with clock_at(EVENING):
        services.check_in(attendee=attendee, by=door_staff)
        services.check_out(attendee=attendee, by=door_staff)
    with clock_at(MORNING):
        services.bulk_check_in(attendees=Attendee.objects.filter(pk=attendee.pk), by=door_staff)

    first, second = visits_of(attendee)
    assert second.checked_in_at == first.checked_out_at == EVENING


def test_check_in_and_check_out_store_who_recorded_them(attendee, door_staff, superuser):
    services.check_in(attendee=attendee, by=door_staff)
    services.check_out(attendee=attendee, by=superuser)

    [visit] = visits_of(attendee)
    assert visit.checked_in_by == door_staff
    assert visit.checked_out_by == superuser


# State flags and times from the selectors


def test_state_flags_agree_with_the_visits_of_each_attendee_in_every_state(make_attendee):
    people = {}
    for state, steps in STEPS.items():
        person = make_attendee()
        for step in steps:
            (services.check_in if step == "in" else services.check_out)(attendee=person, by=None)
        people[person.pk] = state
    expected = {
        "never": (False, False),
        "inside": (True, False),
        "left": (False, True),
        "back inside": (True, False),
        "left twice": (False, True),
    }

    annotated = selectors.attendees_with_state(Attendee.objects.filter(pk__in=people))

    for person in annotated:
        visits = visits_of(person)
        open_visit = any(visit.checked_out_at is None for visit in visits)
        assert (person.is_checked_in, person.is_checked_out) == expected[people[person.pk]]
        assert person.is_checked_in == open_visit
        assert person.is_checked_out == (bool(visits) and not open_visit)
    assert len(annotated) == len(STEPS)


def test_state_flags_of_many_attendees_are_read_in_one_query(event, django_assert_num_queries):
    make_crowd(event, inside=3, never=4, left=5)

    with django_assert_num_queries(1):
        states = [(a.is_checked_in, a.is_checked_out) for a in selectors.attendees_with_state()]

    assert sorted(states) == sorted([(True, False)] * 3 + [(False, False)] * 4 + [(False, True)] * 5)


def test_attendees_can_be_filtered_by_state(event):
    crowd = make_crowd(event, inside=2, never=3, left=4)
    with_state = selectors.attendees_with_state()

    assert set(with_state.filter(is_checked_in=True)) == set(crowd["inside"])
    assert set(with_state.filter(is_checked_out=True)) == set(crowd["left"])
    assert set(with_state.filter(is_checked_in=False, is_checked_out=False)) == set(crowd["never"])
    assert selectors.count_inside(Attendee.objects.all()) == 2


def test_checkin_and_checkout_times_are_oldest_first(attendee):
    hour = datetime.timedelta(hours=1)
    # Recorded out of order, so the ids do not follow the times.
    Visit.objects.create(attendee=attendee, checked_in_at=MORNING + 2 * hour, checked_out_at=MORNING + 3 * hour)
    Visit.objects.create(attendee=attendee, checked_in_at=MORNING, checked_out_at=MORNING + hour)
    Visit.objects.create(attendee=attendee, checked_in_at=MORNING + 4 * hour)
    services.recount()

    [loaded] = selectors.attendees_with_times(Attendee.objects.filter(pk=attendee.pk))

    assert selectors.checkin_times(loaded) == [MORNING, MORNING + 2 * hour, MORNING + 4 * hour]
    assert selectors.checkout_times(loaded) == [MORNING + hour, MORNING + 3 * hour]


def test_times_of_many_attendees_are_read_in_two_queries(event, django_assert_num_queries):
    crowd = make_crowd(event, inside=3, never=4, left=5)

    with django_assert_num_queries(2):
        times = {
            a.pk: (selectors.checkin_times(a), selectors.checkout_times(a)) for a in selectors.attendees_with_times()
        }

    assert [times[a.pk] for a in crowd["inside"]] == [([MORNING], [])] * 3
    assert [times[a.pk] for a in crowd["left"]] == [([MORNING], [EVENING])] * 5
    assert [times[a.pk] for a in crowd["never"]] == [([], [])] * 4


# Bulk check-out and check-in


def test_bulk_check_out_checks_out_everyone_inside_and_skips_the_others(event, door_staff):
    crowd = make_crowd(event, inside=3, never=2, left=4)

    result = services.bulk_check_out(attendees=Attendee.objects.filter(event=event), by=door_staff)

    assert result == services.BulkResult(done=3, skipped=6)
    assert not Visit.objects.filter(checked_out_at__isnull=True).exists()
    assert Visit.objects.filter(checked_out_by=door_staff).count() == 3
    assert {visit.attendee for visit in Visit.objects.filter(checked_out_by=door_staff)} == set(crowd["inside"])
    assert not Visit.objects.filter(attendee__in=crowd["never"]).exists()
    assert set(Visit.objects.filter(attendee__in=crowd["left"]).values_list("checked_out_at", flat=True)) == {EVENING}


def test_bulk_check_out_stamps_the_server_time_and_who_recorded_it(event, door_staff):
    crowd = make_crowd(event, inside=2)

    with clock_at(EVENING):
        services.bulk_check_out(attendees=Attendee.objects.filter(event=event), by=door_staff)

    closed = Visit.objects.filter(attendee__in=crowd["inside"])
    assert {(visit.checked_out_at, visit.checked_out_by) for visit in closed} == {(EVENING, door_staff)}


def test_bulk_check_out_is_never_stamped_before_the_check_ins_when_the_clock_goes_back(event, door_staff):
    crowd = make_crowd(event, inside=2)

    with clock_at(MORNING - datetime.timedelta(hours=1)):
        services.bulk_check_out(attendees=Attendee.objects.filter(event=event), by=door_staff)

    closed = Visit.objects.filter(attendee__in=crowd["inside"])
    assert {visit.checked_out_at for visit in closed} == {MORNING}


def test_bulk_check_out_leaves_attendees_outside_the_selection_untouched(event, other_event, door_staff):
    make_crowd(event, inside=2)
    elsewhere = make_crowd(other_event, inside=3)["inside"]

    result = services.bulk_check_out(attendees=Attendee.objects.filter(event=event), by=door_staff)

    assert result == services.BulkResult(done=2, skipped=0)
    assert Visit.objects.filter(attendee__in=elsewhere, checked_out_at__isnull=True).count() == 3


def test_bulk_check_out_of_an_empty_selection_does_nothing(event, door_staff):
    make_crowd(event, inside=2)

    result = services.bulk_check_out(attendees=Attendee.objects.none(), by=door_staff)

    assert result == services.BulkResult(done=0, skipped=0)
    assert Visit.objects.filter(checked_out_at__isnull=True).count() == 2


def test_bulk_check_in_checks_in_everyone_outside_and_skips_those_inside(event, door_staff):
    crowd = make_crowd(event, inside=3, never=2, left=4)

    result = services.bulk_check_in(attendees=Attendee.objects.filter(event=event), by=door_staff)

    assert result == services.BulkResult(done=6, skipped=3)
    opened = Visit.objects.filter(checked_in_by=door_staff)
    assert {visit.attendee for visit in opened} == set(crowd["never"] + crowd["left"])
    assert all(visit.checked_out_at is None for visit in opened)
    for person in crowd["inside"]:
        assert [(v.checked_in_at, v.checked_out_at) for v in visits_of(person)] == [(MORNING, None)]
    for person in crowd["left"]:
        assert [v.checked_out_at for v in visits_of(person)] == [EVENING, None]
    assert selectors.count_inside(Attendee.objects.filter(event=event)) == 9


def test_bulk_check_in_stamps_the_server_time_and_who_recorded_it(event, door_staff):
    crowd = make_crowd(event, never=2)

    with clock_at(EVENING):
        services.bulk_check_in(attendees=Attendee.objects.filter(event=event), by=door_staff)

    opened = Visit.objects.filter(attendee__in=crowd["never"])
    assert len(opened) == 2
    assert {(visit.checked_in_at, visit.checked_in_by) for visit in opened} == {(EVENING, door_staff)}
    assert all(visit.checked_in_at.utcoffset() == datetime.timedelta(0) for visit in opened)


def test_bulk_check_in_without_a_user_records_no_recorder(event):
    crowd = make_crowd(event, never=2)

    result = services.bulk_check_in(attendees=Attendee.objects.filter(event=event), by=None)

    assert result == services.BulkResult(done=2, skipped=0)
    assert list(Visit.objects.filter(attendee__in=crowd["never"]).values_list("checked_in_by", flat=True)) == [
        None,
        None,
    ]


def test_bulk_check_in_leaves_attendees_outside_the_selection_untouched(event, other_event, door_staff):
    make_crowd(event, never=2)
    elsewhere = make_crowd(other_event, never=3, left=1)

    result = services.bulk_check_in(attendees=Attendee.objects.filter(event=event), by=door_staff)

    assert result == services.BulkResult(done=2, skipped=0)
    assert not Visit.objects.filter(attendee__in=elsewhere["never"]).exists()
    assert not Visit.objects.filter(attendee__in=elsewhere["left"], checked_out_at__isnull=True).exists()


def test_bulk_check_in_works_on_the_admin_selection_filtered_by_state(event, door_staff):
    crowd = make_crowd(event, inside=1, never=2, left=3)
    outside = selectors.attendees_for_changelist(Attendee.objects.filter(event=event)).filter(is_checked_in=False)

    result = services.bulk_check_in(attendees=outside, by=door_staff)

    assert result == services.BulkResult(done=5, skipped=0)
    assert Visit.objects.filter(checked_out_at__isnull=True).count() == 6
    assert {v.attendee for v in Visit.objects.filter(checked_in_by=door_staff)} == set(crowd["never"] + crowd["left"])


def test_bulk_check_out_works_on_the_admin_selection_filtered_by_state(event, door_staff):
    crowd = make_crowd(event, inside=2, never=1, left=1)
    inside = selectors.attendees_for_changelist(Attendee.objects.filter(event=event)).filter(is_checked_in=True)

    result = services.bulk_check_out(attendees=inside, by=door_staff)

    assert result == services.BulkResult(done=2, skipped=0)
    assert {v.attendee for v in Visit.objects.filter(checked_out_by=door_staff)} == set(crowd["inside"])
    assert not Visit.objects.filter(checked_out_at__isnull=True).exists()
    # Each stay closed has its record, and the number inside followed, though the selection
    # (attendees inside) no longer holds them once they are out.
    assert Record.objects.filter(type="check_out", recorded_by=door_staff).count() == 2
    assert Event.objects.get(pk=event.pk).inside == 0


def test_bulk_check_in_of_a_selection_filtered_by_state_records_each_stay_and_counts_them(event, door_staff):
    make_crowd(event, inside=1, never=2, left=3)
    outside = selectors.attendees_for_changelist(Attendee.objects.filter(event=event)).filter(is_checked_in=False)

    services.bulk_check_in(attendees=outside, by=door_staff)

    assert Record.objects.filter(type="check_in", recorded_by=door_staff).count() == 5
    assert Event.objects.get(pk=event.pk).inside == 6


def test_bulk_check_out_of_those_inside_ends_their_stays_in_areas_too(event, door_staff, make_attendee):
    hall = Area.objects.create(event=event, name="Hall")
    people = [make_attendee() for _ in range(3)]
    for attendee in people:
        services.check_in(attendee=attendee, by=None, area=hall)
    inside = selectors.attendees_for_changelist(Attendee.objects.filter(event=event)).filter(is_checked_in=True)

    result = services.bulk_check_out(attendees=inside, by=door_staff)

    assert result == services.BulkResult(done=3, skipped=0)
    assert not Visit.objects.filter(checked_out_at__isnull=True).exists()
    assert Record.objects.filter(type="check_out", recorded_by=door_staff).count() == 6
    assert (Event.objects.get(pk=event.pk).inside, Area.objects.get(pk=hall.pk).inside) == (0, 0)


def test_bulk_check_out_costs_the_same_number_of_queries_for_10_and_500_attendees(
    door_staff, django_assert_num_queries
):
    for size in (10, 500):
        event = Event.objects.create(name=f"Crowd of {size}")
        crowd = make_crowd(event, inside=size // 2, never=size // 4, left=size - size // 2 - size // 4)

        with django_assert_num_queries(BULK_CHECK_OUT_QUERIES):
            result = services.bulk_check_out(attendees=Attendee.objects.filter(event=event), by=door_staff)

        assert result == services.BulkResult(done=len(crowd["inside"]), skipped=size - len(crowd["inside"]))


def test_bulk_check_in_costs_the_same_number_of_queries_for_10_and_500_attendees(door_staff, django_assert_num_queries):
    for size in (10, 500):
        event = Event.objects.create(name=f"Crowd of {size}")
        crowd = make_crowd(event, inside=size // 2, never=size // 4, left=size - size // 2 - size // 4)

        with django_assert_num_queries(BULK_CHECK_IN_QUERIES):
            result = services.bulk_check_in(attendees=Attendee.objects.filter(event=event), by=door_staff)

        assert result == services.BulkResult(done=size - len(crowd["inside"]), skipped=len(crowd["inside"]))


# Saving attendees with a check-in or check-out


@pytest.mark.parametrize(("state", "refusal"), [("never", NotCheckedIn), ("left", AlreadyCheckedOut)])
def test_save_attendee_with_check_out_of_attendee_outside_is_refused_and_leaves_the_changes_unsaved(
    state, refusal, make_attendee, door_staff
):
    attendee = make_attendee(state, first_name="Ada", email="ada@example.org")
    total = Visit.objects.count()

    with pytest.raises(refusal):
        services.save_attendee(
            attendee=attendee,
            changes={"first_name": "Grace", "email": "grace@example.org"},
            record="check_out",
            by=door_staff,
        )

    stored = Attendee.objects.get(pk=attendee.pk)
    assert (stored.first_name, stored.email) == ("Ada", "ada@example.org")
    assert Visit.objects.count() == total


def test_save_attendee_with_check_in_of_attendee_inside_is_refused_and_leaves_the_changes_unsaved(
    make_attendee, door_staff
):
    attendee = make_attendee("inside", first_name="Ada")

    with pytest.raises(AlreadyCheckedIn):
        services.save_attendee(attendee=attendee, changes={"first_name": "Grace"}, record="check_in", by=door_staff)

    assert Attendee.objects.get(pk=attendee.pk).first_name == "Ada"
    assert Visit.objects.filter(attendee=attendee).count() == 1


def test_save_new_attendee_with_a_refused_check_out_creates_nobody(event, door_staff):
    with pytest.raises(NotCheckedIn):
        services.save_attendee(
            attendee=Attendee(),
            changes={"event": event, "first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.org"},
            record="check_out",
            by=door_staff,
        )

    assert not Attendee.objects.exists()
    assert not Visit.objects.exists()


def test_save_attendee_with_check_in_saves_the_changes_and_records_the_check_in(make_attendee, door_staff):
    attendee = make_attendee("left", first_name="Ada")

    services.save_attendee(attendee=attendee, changes={"first_name": "Grace"}, record="check_in", by=door_staff)

    assert Attendee.objects.get(pk=attendee.pk).first_name == "Grace"
    assert [v.checked_in_by for v in visits_of(attendee)] == [None, door_staff]
    assert state_of(attendee) == (True, False)


def test_save_attendee_with_check_out_saves_the_changes_and_records_the_check_out(make_attendee, door_staff):
    attendee = make_attendee("inside", first_name="Ada")

    services.save_attendee(attendee=attendee, changes={"first_name": "Grace"}, record="check_out", by=door_staff)

    assert Attendee.objects.get(pk=attendee.pk).first_name == "Grace"
    assert [v.checked_out_by for v in visits_of(attendee)] == [door_staff]
    assert state_of(attendee) == (False, True)


def test_save_attendee_without_record_saves_the_changes_and_records_nothing(attendee, door_staff):
    services.save_attendee(attendee=attendee, changes={"last_name": "Byron"}, by=door_staff)

    assert Attendee.objects.get(pk=attendee.pk).last_name == "Byron"
    assert not Visit.objects.exists()


# Deleting keeps the history


@pytest.mark.parametrize("state", ["inside", "left"])
def test_delete_attendee_with_visits_is_refused_and_keeps_everything(state, make_attendee):
    attendee = make_attendee(state)

    with pytest.raises(HasHistory) as refused:
        services.delete_attendee(attendee=attendee)

    assert refused.value.code == "has_history"
    assert Attendee.objects.filter(pk=attendee.pk).exists()
    assert Visit.objects.filter(attendee=attendee).count() == 1


def test_delete_attendee_without_visits_deletes_them(attendee):
    services.delete_attendee(attendee=attendee)

    assert not Attendee.objects.filter(pk=attendee.pk).exists()


def test_delete_event_with_an_attendee_with_visits_is_refused_and_keeps_everything(event, make_attendee):
    make_attendee("never")
    make_attendee("left")

    with pytest.raises(HasHistory):
        services.delete_event(event=event)

    assert Event.objects.filter(pk=event.pk).exists()
    assert Attendee.objects.filter(event=event).count() == 2
    assert Visit.objects.count() == 1


def test_delete_event_without_visits_deletes_it_and_its_attendees(event, other_event, make_attendee):
    make_attendee("never")
    make_attendee("never")
    kept = make_attendee("left", event=other_event)

    services.delete_event(event=event)

    assert not Event.objects.filter(pk=event.pk).exists()
    assert list(Attendee.objects.all()) == [kept]


# Database constraints


def test_database_refuses_a_second_open_visit_for_the_same_attendee_even_inserted_directly(make_attendee):
    attendee = make_attendee("inside")

    with pytest.raises(IntegrityError), transaction.atomic():
        Visit.objects.create(attendee=attendee, checked_in_at=EVENING)

    assert Visit.objects.filter(attendee=attendee).count() == 1


def test_database_allows_many_closed_visits_and_one_open_visit_per_attendee(attendee, make_attendee):
    other = make_attendee()
    hour = datetime.timedelta(hours=1)

    Visit.objects.create(attendee=attendee, checked_in_at=MORNING, checked_out_at=MORNING + hour)
    Visit.objects.create(attendee=attendee, checked_in_at=MORNING + 2 * hour, checked_out_at=MORNING + 3 * hour)
    Visit.objects.create(attendee=attendee, checked_in_at=MORNING + 4 * hour)
    Visit.objects.create(attendee=other, checked_in_at=MORNING)
    services.recount()

    assert Visit.objects.filter(checked_out_at__isnull=True).count() == 2
    assert Visit.objects.count() == 4


def test_database_refuses_a_check_out_before_its_check_in(attendee):
    with pytest.raises(IntegrityError), transaction.atomic():
        Visit.objects.create(attendee=attendee, checked_in_at=EVENING, checked_out_at=MORNING)

    assert not Visit.objects.exists()


def test_database_refuses_closing_a_visit_before_its_check_in_by_update(make_attendee):
    attendee = make_attendee("inside")

    with pytest.raises(IntegrityError), transaction.atomic():
        Visit.objects.filter(attendee=attendee).update(checked_out_at=MORNING - datetime.timedelta(days=1))

    assert Visit.objects.get(attendee=attendee).checked_out_at is None
