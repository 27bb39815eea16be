"""Random sequences of check-ins and check-outs against the services, compared with a
tiny model of the rules: never checked in → inside → left → inside → ...

After every step the history (`attendees_with_times`) and the flags
(`attendees_with_state`) must agree with the model, and so must the event's live count
of who is inside; the history must only ever grow by appending, and a refused step must
raise the right error and record nothing. Areas, capacity and corrections have their
own model in `test_properties_areas.py`.
"""

import dataclasses

import pytest
from django.db import transaction
from hypothesis import given, note, settings
from hypothesis import strategies as st

from attendees import selectors, services
from attendees.exceptions import AlreadyCheckedIn, AlreadyCheckedOut, NotCheckedIn
from attendees.models import Attendee, Event

ATTENDEES = 3

NEVER, INSIDE, LEFT = "never", "inside", "left"


@dataclasses.dataclass
class ModelAttendee:
    """What the rules say about one attendee: the state and how many records they have."""

    state: str = NEVER
    check_ins: int = 0
    check_outs: int = 0

    def check_in(self) -> type[Exception] | None:
        if self.state == INSIDE:
            return AlreadyCheckedIn
        self.state, self.check_ins = INSIDE, self.check_ins + 1
        return None

    def check_out(self) -> type[Exception] | None:
        if self.state == NEVER:
            return NotCheckedIn
        if self.state == LEFT:
            return AlreadyCheckedOut
        self.state, self.check_outs = LEFT, self.check_outs + 1
        return None


def check_in(attendee: Attendee) -> None:
    services.check_in(attendee=attendee, by=None)


def check_out(attendee: Attendee) -> None:
    services.check_out(attendee=attendee, by=None)


def patch_check_in(attendee: Attendee) -> None:
    services.save_attendee(attendee=attendee, changes={}, record="check_in", by=None)


def patch_check_out(attendee: Attendee) -> None:
    services.save_attendee(attendee=attendee, changes={}, record="check_out", by=None)


SINGLE_STEPS = {
    "check_in": (check_in, ModelAttendee.check_in),
    "check_out": (check_out, ModelAttendee.check_out),
    "patch_check_in": (patch_check_in, ModelAttendee.check_in),
    "patch_check_out": (patch_check_out, ModelAttendee.check_out),
}

attendee_index = st.integers(min_value=0, max_value=ATTENDEES - 1)
single_step = st.tuples(st.sampled_from(sorted(SINGLE_STEPS)), attendee_index)
bulk_step = st.tuples(st.just("bulk_check_out"), st.frozensets(attendee_index, max_size=ATTENDEES))
steps = st.lists(st.one_of(single_step, bulk_step), min_size=1, max_size=25)


def recorded(attendees: list[Attendee]) -> list[tuple[list, list]]:
    """(check-in times, check-out times) of each attendee, as stored now."""
    by_pk = {
        attendee.pk: (selectors.checkin_times(attendee), selectors.checkout_times(attendee))
        for attendee in selectors.attendees_with_times(Attendee.objects.filter(pk__in=[a.pk for a in attendees]))
    }
    return [by_pk[attendee.pk] for attendee in attendees]


def flags(attendees: list[Attendee]) -> list[tuple[bool, bool]]:
    """(is_checked_in, is_checked_out) of each attendee, as derived now."""
    by_pk = {
        attendee.pk: (attendee.is_checked_in, attendee.is_checked_out)
        for attendee in selectors.attendees_with_state(Attendee.objects.filter(pk__in=[a.pk for a in attendees]))
    }
    return [by_pk[attendee.pk] for attendee in attendees]


def expected_flags(model: ModelAttendee) -> tuple[bool, bool]:
    return model.state == INSIDE, model.state == LEFT


def assert_history_agrees(model: ModelAttendee, check_ins: list, check_outs: list) -> None:
    assert (len(check_ins), len(check_outs)) == (model.check_ins, model.check_outs)
    # In, out, in, out ...: each check-out falls between its check-in and the next one.
    alternating = [time for pair in zip(check_ins, [*check_outs, None], strict=False) for time in pair if time]
    assert alternating == sorted(alternating)


def assert_agrees(attendees: list[Attendee], models: list[ModelAttendee], before: list[tuple[list, list]]) -> list:
    now = recorded(attendees)
    for model, (check_ins, check_outs), (ins_before, outs_before) in zip(models, now, before, strict=True):
        assert_history_agrees(model, check_ins, check_outs)
        # Append-only: what was recorded before is still there, unchanged.
        assert check_ins[: len(ins_before)] == ins_before
        assert check_outs[: len(outs_before)] == outs_before
    assert flags(attendees) == [expected_flags(model) for model in models]
    these = Attendee.objects.filter(pk__in=[a.pk for a in attendees])
    assert selectors.count_inside(these) == sum(model.state == INSIDE for model in models)
    # The live count, kept beside the stays, never drifts from them.
    assert Event.objects.get(pk=attendees[0].event_id).inside == sum(model.state == INSIDE for model in models)
    assert {a.pk for a in selectors.attendees_with_state(these).filter(is_checked_in=True)} == {
        attendee.pk for attendee, model in zip(attendees, models, strict=True) if model.state == INSIDE
    }
    return now


def run_single_step(name: str, attendee: Attendee, model: ModelAttendee) -> None:
    service, rule = SINGLE_STEPS[name]
    refusal = rule(model)
    if refusal is None:
        service(attendee)
    else:
        with pytest.raises(refusal):
            service(attendee)


def run_bulk_step(selected: frozenset[int], attendees: list[Attendee], models: list[ModelAttendee]) -> None:
    inside = [index for index in selected if models[index].state == INSIDE]
    for index in inside:
        models[index].check_out()
    result = services.bulk_check_out(
        attendees=Attendee.objects.filter(pk__in=[attendees[index].pk for index in selected]), by=None
    )
    assert result == services.BulkResult(done=len(inside), skipped=len(selected) - len(inside))


@pytest.mark.django_db
@settings(max_examples=100, deadline=None)
@given(steps=steps)
def test_services_agree_with_a_model_of_the_rules_after_every_step(steps):
    # Schemathesis's pytest plugin silences Hypothesis's printout of the arguments.
    note(f"steps={[(name, sorted(target) if isinstance(target, frozenset) else target) for name, target in steps]}")
    # One savepoint per example, rolled back at the end: every example starts from nothing.
    with transaction.atomic():
        event = Event.objects.create(name="Property")
        attendees = [
            Attendee.objects.create(event=event, first_name=f"A{n}", last_name="B", email=f"a{n}@example.org")
            for n in range(ATTENDEES)
        ]
        models = [ModelAttendee() for _ in attendees]
        history = assert_agrees(attendees, models, [([], [])] * ATTENDEES)
        for name, target in steps:
            if name == "bulk_check_out":
                run_bulk_step(target, attendees, models)
            else:
                run_single_step(name, attendees[target], models[target])
            history = assert_agrees(attendees, models, history)
        transaction.set_rollback(True)
