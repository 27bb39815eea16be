"""Random sequences of check-ins and check-outs of the event and of its areas, moves,
bulk check-outs, capacity changes, voids and missed check-outs against the services,
compared after every step with a model of the rules.

The model keeps each attendee's stays (in the event, or in one of its areas) and their
records in the order they are written, and the capacity of every place. After every
step the database must agree with it: the stays and the records, whether each attendee
is inside and in which area, and the live counts of the event and its areas. A step the
model refuses must raise the same error and record nothing. And the counts equal the
open stays, nobody is in two areas, nobody is in an area while outside the event.
"""

import dataclasses
import datetime
import functools
from unittest import mock

import hypothesis
import pytest
from django.db import transaction
from hypothesis import example, given, note, settings
from hypothesis import strategies as st

from attendees import selectors, services
from attendees.exceptions import (
    AlreadyCheckedIn,
    AlreadyCheckedOut,
    AlreadyVoided,
    AttendanceError,
    CapacityReached,
    CheckOutBeforeCheckIn,
    NotCheckedIn,
    NotLatestRecord,
    TimeInTheFuture,
)
from attendees.models import Area, Attendee, Event, Record, Visit

from .test_areas import assert_counts_match_open_stays

CHECK_IN, CHECK_OUT = Record.Type.CHECK_IN, Record.Type.CHECK_OUT
UTC = datetime.UTC
START = datetime.datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
# The clock moves on by a minute every step, so no two steps share a time; a missed
# check-out is put some 20-second steps before now.
STEP = datetime.timedelta(minutes=1)
CORRECTION_STEP = datetime.timedelta(seconds=20)

ATTENDEES = 3
EVENT_NAME = "Property"
AREA_NAMES = ["Hall", "Workshop", "Lounge"]
# A place is the event (None) or one of its areas, by index.
Place = int | None
PLACES: list[Place] = [None, *range(len(AREA_NAMES))]


@dataclasses.dataclass
class Stay:
    area: Place
    checked_in_at: datetime.datetime
    checked_out_at: datetime.datetime | None = None
    voided: bool = False

    @property
    def open(self) -> bool:
        return not self.voided and self.checked_out_at is None


@dataclasses.dataclass
class Entry:
    """A record: which stay it belongs to, its type and time, whether it still stands."""

    stay: int
    type: str
    at: datetime.datetime
    capacity_override: bool = False
    voided: bool = False


@dataclasses.dataclass(frozen=True)
class Refusal:
    error: type[AttendanceError]
    detail: str | None = None


@dataclasses.dataclass
class Person:
    """What the rules say about one attendee: their stays and records, in the order written."""

    stays: list[Stay] = dataclasses.field(default_factory=list)
    entries: list[Entry] = dataclasses.field(default_factory=list)

    def standing(self, place: Place) -> list[Stay]:
        return [stay for stay in self.stays if not stay.voided and stay.area == place]

    def open_stay(self, place: Place) -> Stay | None:
        return next((stay for stay in self.standing(place) if stay.checked_out_at is None), None)

    def open_area_stay(self) -> Stay | None:
        return next((stay for stay in self.stays if stay.open and stay.area is not None), None)

    def current_area(self) -> Place:
        stay = self.open_area_stay()
        return None if stay is None else stay.area

    def inside(self) -> bool:
        return self.open_stay(None) is not None

    def flags(self) -> tuple[bool, bool]:
        return self.inside(), bool(self.standing(None)) and not self.inside()

    def not_inside(self) -> Refusal:
        return Refusal(AlreadyCheckedOut if self.standing(None) else NotCheckedIn)

    def open(self, place: Place, now: datetime.datetime, *, override: bool = False) -> None:
        self.stays.append(Stay(area=place, checked_in_at=now))
        self.entries.append(Entry(len(self.stays) - 1, CHECK_IN, now, capacity_override=override))

    def close(self, stay: Stay, at: datetime.datetime) -> None:
        stay.checked_out_at = at
        self.entries.append(Entry(self.stays.index(stay), CHECK_OUT, at))

    def leave(self, at: datetime.datetime) -> None:
        """Leave the event, and the area one is in at the same instant."""
        in_area = self.open_area_stay()
        self.close(self.open_stay(None), at)
        if in_area is not None:
            self.close(in_area, at)


@dataclasses.dataclass
class Venue:
    """The model of the whole event: its attendees and the capacity of every place."""

    people: list[Person]
    capacities: dict[Place, int | None]

    def inside(self, place: Place) -> int:
        return sum(person.open_stay(place) is not None for person in self.people)

    def full(self, place: Place) -> Refusal | None:
        capacity = self.capacities[place]
        inside = self.inside(place)
        if capacity is None or inside < capacity:
            return None
        name = EVENT_NAME if place is None else AREA_NAMES[place]
        return Refusal(CapacityReached, f"{name} is full: {inside} inside, capacity {capacity}.")

    def check_in(self, person: Person, place: Place, override: bool, now: datetime.datetime) -> Refusal | None:
        if place is None:
            if person.inside():
                return Refusal(AlreadyCheckedIn)
            full = self.full(None)
            if full and not override:
                return full
            person.open(None, now, override=bool(full))
            return None
        if person.current_area() == place:
            return Refusal(AlreadyCheckedIn)
        area_full = self.full(place)
        if area_full and not override:
            return area_full
        event_full = None if person.inside() else self.full(None)
        if event_full and not override:
            return event_full
        # Into an area: entering the event too, or leaving the other area, at the same instant.
        if not person.inside():
            person.open(None, now, override=bool(event_full))
        if (moving_from := person.open_area_stay()) is not None:
            person.close(moving_from, now)
        person.open(place, now, override=bool(area_full))
        return None

    def check_out(self, person: Person, place: Place, now: datetime.datetime) -> Refusal | None:
        if place is None:
            if not person.inside():
                return person.not_inside()
            person.leave(now)
            return None
        stay = person.open_stay(place)
        if stay is None:
            return Refusal(NotCheckedIn)
        person.close(stay, now)
        return None

    def bulk_check_out(self, selected: list[Person], place: Place, now: datetime.datetime) -> services.BulkResult:
        done = 0
        for person in selected:
            if place is None and person.inside():
                person.leave(now)
                done += 1
            elif place is not None and (stay := person.open_stay(place)) is not None:
                person.close(stay, now)
                done += 1
        return services.BulkResult(done=done, skipped=len(selected) - done)

    def correct(self, person: Person, at: datetime.datetime, now: datetime.datetime) -> Refusal | None:
        if at > now:
            return Refusal(TimeInTheFuture)
        if not person.inside():
            return person.not_inside()
        if any(
            stay is not None and at < stay.checked_in_at for stay in (person.open_stay(None), person.open_area_stay())
        ):
            return Refusal(CheckOutBeforeCheckIn)
        person.leave(at)
        return None

    def void(self, person: Person, entry: Entry) -> Refusal | None:
        if entry.voided:
            return Refusal(AlreadyVoided)
        stay = person.stays[entry.stay]
        if entry.type == CHECK_IN:
            stays = [stay]
            if stay.area is None:
                # The stays in areas within a stay in the event go with it.
                stays += [
                    other
                    for other in person.stays
                    if other.area is not None
                    and not other.voided
                    and other.checked_in_at >= stay.checked_in_at
                    and (stay.checked_out_at is None or other.checked_in_at <= stay.checked_out_at)
                ]
            for voided in stays:
                voided.voided = True
                for other in person.entries:
                    if person.stays[other.stay] is voided:
                        other.voided = True
            return None
        # Voiding a check-out reopens its stay: only the latest there.
        if stay.area is None:
            blocked = any(not other.voided for other in person.stays[entry.stay + 1 :] if other.area is None)
        else:
            in_event = person.open_stay(None)
            blocked = (
                any(
                    other is not stay and other.checked_in_at >= stay.checked_out_at
                    for other in person.stays
                    if other.area is not None and not other.voided
                )
                # A stay in an area lies within a stay in the event: once the attendee has
                # left the event (and perhaps come back), the check-out of the area stands.
                or in_event is None
                or in_event.checked_in_at > stay.checked_in_at
            )
        if blocked:
            return Refusal(NotLatestRecord)
        stay.checked_out_at = None
        entry.voided = True
        return None


def clock_at(moment: datetime.datetime):
    return mock.patch("django.utils.timezone.now", return_value=moment)


attendee_index = st.integers(min_value=0, max_value=ATTENDEES - 1)
place = st.sampled_from(PLACES)
capacity = st.sampled_from([None, 0, 1, 2, 3])
# Steps: (name, attendee or attendees, place, argument).
check_in_step = st.tuples(st.just("check_in"), attendee_index, place, st.sampled_from([False, False, False, True]))
# Half of the check-outs are of the place the attendee is in (the area, else the event), as a door mostly sees them.
check_out_step = st.tuples(st.just("check_out"), attendee_index, place, st.booleans())
bulk_step = st.tuples(st.just("bulk_check_out"), st.frozensets(attendee_index, min_size=1), place, st.just(None))
# Which of the attendee's records: from the first (0, 1, ...) or from the latest (-1, -2, ...), modulo how many.
void_step = st.tuples(st.just("void"), attendee_index, st.just(None), st.integers(min_value=-6, max_value=6))
# How many 20-second steps before now the attendee left: -1 is in the future; 3 is the step before.
correct_step = st.tuples(st.just("correct"), attendee_index, st.just(None), st.integers(min_value=-1, max_value=6))
capacity_step = st.tuples(st.just("capacity"), st.just(None), place, capacity)
# Check-ins come twice as often as anything else, so that there is something to move, check out, correct and void.
steps = st.lists(
    st.one_of(check_in_step, check_in_step, check_out_step, bulk_step, void_step, correct_step, capacity_step),
    min_size=8,
    max_size=30,
)
capacities = st.tuples(st.sampled_from([None, 2, 3]), *[st.sampled_from([None, 1, 2])] * len(AREA_NAMES))


@dataclasses.dataclass
class Site:
    """The database's side: the event, its areas (stale copies, as a form would hold them) and the attendees."""

    event: Event
    areas: list[Area]
    attendees: list[Attendee]

    def place(self, place: Place) -> Area | None:
        return None if place is None else self.areas[place]

    def place_of(self, area_id: int | None) -> Place:
        return None if area_id is None else [area.pk for area in self.areas].index(area_id)


def run_step(step: tuple, site: Site, venue: Venue, now: datetime.datetime) -> None:
    """Apply the step to the model and to the services at `now`; the services must refuse what the model refuses."""
    name, who, place, argument = step
    if name == "check_out" and argument:
        place = venue.people[who].current_area()
    area = site.place(place)
    if name == "capacity":
        stored = site.event if place is None else area
        stored.capacity = venue.capacities[place] = argument
        stored.save()
        hypothesis.event("capacity changed")
        return
    if name == "bulk_check_out":
        selected = sorted(who)
        expected = venue.bulk_check_out([venue.people[index] for index in selected], place, now)
        with clock_at(now):
            result = services.bulk_check_out(
                attendees=Attendee.objects.filter(pk__in=[site.attendees[index].pk for index in selected]),
                by=None,
                area=area,
            )
        assert result == expected
        hypothesis.event(f"bulk_check_out: {result.done} done")
        return
    person, attendee = venue.people[who], site.attendees[who]
    if name == "check_in":
        refusal = venue.check_in(person, place, argument, now)
        call = functools.partial(services.check_in, attendee=attendee, by=None, area=area, override_capacity=argument)
    elif name == "check_out":
        refusal = venue.check_out(person, place, now)
        call = functools.partial(services.check_out, attendee=attendee, by=None, area=area)
    elif name == "correct":
        at = now - argument * CORRECTION_STEP
        refusal = venue.correct(person, at, now)
        call = functools.partial(services.correct_check_out, attendee=attendee, at=at, by=None, reason="Property")
    else:
        if not person.entries:
            return
        index = argument % len(person.entries)
        refusal = venue.void(person, person.entries[index])
        record = Record.objects.filter(attendee=attendee).order_by("pk")[index]
        call = functools.partial(services.void_record, record=record, by=None, reason="Property")
    hypothesis.event(f"{name}: {refusal.error.__name__ if refusal else 'done'}")
    with clock_at(now):
        if refusal is None:
            call()
            return
        with pytest.raises(refusal.error) as refused:
            call()
    if refusal.detail is not None:
        assert refused.value.detail == refusal.detail


def assert_agrees(site: Site, venue: Venue) -> None:
    visits = list(Visit.objects.filter(attendee__event=site.event).order_by("pk"))
    records = list(Record.objects.filter(attendee__event=site.event).order_by("pk"))
    stay_of = {}
    for attendee, person in zip(site.attendees, venue.people, strict=True):
        theirs = [visit for visit in visits if visit.attendee_id == attendee.pk]
        stay_of.update({visit.pk: index for index, visit in enumerate(theirs)})
        assert [
            (site.place_of(v.area_id), v.checked_in_at, v.checked_out_at, v.voided_at is not None) for v in theirs
        ] == [(stay.area, stay.checked_in_at, stay.checked_out_at, stay.voided) for stay in person.stays]
        assert [
            (stay_of[r.visit_id], r.type, site.place_of(r.area_id), r.at, r.capacity_override, r.voided_at is not None)
            for r in records
            if r.attendee_id == attendee.pk
        ] == [(e.stay, e.type, person.stays[e.stay].area, e.at, e.capacity_override, e.voided) for e in person.entries]
    fresh = selectors.attendees_with_times(Attendee.objects.filter(event=site.event))
    seen = {a.pk: (a.is_checked_in, a.is_checked_out, site.place_of(selectors.current_area_id(a))) for a in fresh}
    assert [seen[a.pk] for a in site.attendees] == [(*p.flags(), p.current_area()) for p in venue.people]
    assert Event.objects.get(pk=site.event.pk).inside == venue.inside(None)
    assert list(Area.objects.filter(event=site.event).order_by("pk").values_list("inside", flat=True)) == [
        venue.inside(place) for place in range(len(site.areas))
    ]
    assert_counts_match_open_stays()


@pytest.mark.django_db
@settings(max_examples=40, deadline=None)
@given(capacities=capacities, steps=steps)
# In the hall, out of the event, back in: the hall's check-out stands, or voiding the
# check-in that followed would leave the attendee in the hall while outside the event.
@example(
    capacities=(None, None, None, None),
    steps=[
        ("check_in", 0, 0, False),
        ("check_out", 0, None, False),
        ("check_in", 0, None, False),
        ("void", 0, None, 3),
    ],
)
def test_areas_moves_capacity_and_corrections_agree_with_a_model_after_every_step(capacities, steps):
    # Schemathesis's pytest plugin silences Hypothesis's printout of the arguments.
    note(f"capacities={capacities} steps={steps}")
    # One savepoint per example, rolled back at the end: every example starts from nothing.
    with transaction.atomic():
        event = Event.objects.create(name=EVENT_NAME, capacity=capacities[0])
        site = Site(
            event=event,
            areas=[
                Area.objects.create(event=event, name=name, capacity=limit)
                for name, limit in zip(AREA_NAMES, capacities[1:], strict=True)
            ],
            attendees=[
                Attendee.objects.create(event=event, first_name=f"A{n}", last_name="B", email=f"a{n}@example.org")
                for n in range(ATTENDEES)
            ],
        )
        venue = Venue(
            people=[Person() for _ in range(ATTENDEES)], capacities=dict(zip(PLACES, capacities, strict=True))
        )
        for number, step in enumerate(steps, start=1):
            run_step(step, site, venue, START + number * STEP)
            assert_agrees(site, venue)
        transaction.set_rollback(True)
