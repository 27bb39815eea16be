import dataclasses
import datetime
import io
import itertools
import random
import re
import time
from collections import Counter
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.db.models import Count
from rest_framework.authtoken.models import Token

from attendees import selectors, services, signals
from attendees.management.commands import demo_data
from attendees.models import Area, Attendee, Event, Record, Visit
from attendees.tests.test_areas import assert_counts_match_open_stays

BERLIN = ZoneInfo("Europe/Berlin")
DAY = datetime.date(2026, 6, 10)


def local(hour: int, minute: int = 0, day: datetime.date = DAY) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(hour, minute), BERLIN)


# Late in the afternoon: the morning, lunch and most of the afternoon have passed.
LATE_AFTERNOON = local(16, 40)


def run_at(moment: datetime.datetime) -> str:
    stdout = io.StringIO()
    with mock.patch("django.utils.timezone.now", return_value=moment.astimezone(datetime.UTC)):
        call_command("demo_data", stdout=stdout)
    return stdout.getvalue()


@pytest.fixture
def output(db) -> str:
    return run_at(LATE_AFTERNOON)


@pytest.fixture
def demo(output) -> Event:
    return Event.objects.get()


def occupancy_by_local_time(event: Event) -> dict[datetime.time, int]:
    points = selectors.occupancy(event, step=datetime.timedelta(minutes=30), now=LATE_AFTERNOON)
    return {at.astimezone(BERLIN).time(): inside for at, inside in points}


def snapshot() -> dict[str, list[dict]]:
    models = [Event, Area, Attendee, Visit, Record, Group, Token, get_user_model()]
    rows = {model.__name__: list(model.objects.order_by("pk").values()) for model in models}
    # The passwords are reset on every run.
    for user in rows[get_user_model().__name__]:
        user.pop("password")
    return rows


def test_the_demo_day_runs_from_eight_to_six_in_berlin_with_capacities_and_areas(demo):
    assert demo.timezone == "Europe/Berlin"
    assert (demo.starts_at, demo.ends_at) == (local(8), local(18))
    assert demo.auto_checkout_at == demo.ends_at
    assert demo.capacity == 200
    assert dict(demo.areas.values_list("name", "capacity")) == {
        "Main hall": 120,
        "Workshop A": 30,
        "Workshop B": 30,
        "Lounge": None,
    }
    assert demo.attendees.count() == 120


NEXT_DAY = DAY + datetime.timedelta(days=1)


@pytest.mark.parametrize(
    "now",
    [
        local(10, 0),
        LATE_AFTERNOON,
        local(23, 30),
        local(0, 30, NEXT_DAY),
        local(7, 59, NEXT_DAY),
        local(9, 59, NEXT_DAY),
    ],
)
def test_the_demo_shows_today_from_ten_and_yesterday_before(db, now):
    run_at(now)

    assert Event.objects.get().starts_at == local(8)


def test_the_demo_records_nothing_after_now_and_all_of_it_as_the_command(db):
    now = local(11, 0)

    run_at(now)

    records = Record.objects.all()
    assert records.filter(at__gt=now).count() == 0
    assert set(records.values_list("source", flat=True)) == {Record.Source.COMMAND}
    assert set(records.values_list("recorded_by__username", flat=True)) == {"admin"}
    assert set(records.values_list("recorded_at", flat=True)) == {now}
    assert Event.objects.get().inside > 50


@pytest.mark.parametrize(
    "now",
    [local(10, 0), local(11, 15), local(12, 5), local(13, 0), local(18, 30), local(7, 59)],
)
def test_at_any_time_of_day_some_are_inside_some_have_left_and_some_never_came(db, now):
    run_at(now)

    figures = selectors.attendance_figures(Event.objects.get(), now)
    assert figures["inside"] > 0
    assert figures["left"] > 0
    assert figures["never_arrived"] > 0


def test_check_ins_and_check_outs_spread_over_hours_of_the_day(demo):
    records = Record.objects.filter(attendee__event=demo, area__isnull=True).standing()
    check_ins = records.filter(type=Record.Type.CHECK_IN).values_list("at", flat=True)
    check_outs = records.filter(type=Record.Type.CHECK_OUT).values_list("at", flat=True)

    assert max(check_outs) - min(check_ins) > datetime.timedelta(hours=4)
    hours = Counter(at.astimezone(BERLIN).hour for at in check_ins)
    assert len(hours) >= 6, hours
    # The morning arrivals are the busiest hour at the door.
    assert hours.most_common(1)[0][0] in {8, 9}, hours


def test_occupancy_shows_a_morning_peak_and_a_lunch_dip(demo):
    inside = occupancy_by_local_time(demo)

    morning = max(count for at, count in inside.items() if datetime.time(9) <= at <= datetime.time(12))
    lunch = min(count for at, count in inside.items() if datetime.time(12, 30) <= at <= datetime.time(13))
    afternoon = max(count for at, count in inside.items() if datetime.time(14) <= at <= datetime.time(16, 30))
    assert inside[datetime.time(8, 30)] < inside[datetime.time(10)], inside
    assert lunch < 0.7 * morning, inside
    assert afternoon > lunch, inside
    assert morning >= afternoon, inside


def test_the_areas_have_stays_and_no_place_is_ever_above_its_capacity(demo):
    figures = selectors.attendance_figures(demo, LATE_AFTERNOON)

    assert 0 < figures["peak_inside"] <= demo.capacity
    assert {area["name"] for area in figures["areas"]} == {"Main hall", "Workshop A", "Workshop B", "Lounge"}
    for area in figures["areas"]:
        assert area["check_ins"] > 0, area
        assert area["peak_inside"] > 0, area
        if area["capacity"] is not None:
            assert area["peak_inside"] <= area["capacity"], area


def test_the_live_counts_equal_the_open_stays(demo):
    assert_counts_match_open_stays()
    assert demo.inside > 0


def test_every_stay_is_recorded_and_lies_within_a_stay_in_the_event(demo):
    stays_of = {attendee.pk: [] for attendee in demo.attendees.all()}
    for stay in Visit.objects.filter(attendee__event=demo).standing().prefetch_related("records"):
        stays_of[stay.attendee_id].append(stay)
    for stays in stays_of.values():
        in_event = [stay for stay in stays if stay.area_id is None]
        in_areas = [stay for stay in stays if stay.area_id is not None]
        for earlier, later in [*itertools.pairwise(in_event), *itertools.pairwise(in_areas)]:
            assert earlier.checked_out_at is not None
            assert earlier.checked_out_at <= later.checked_in_at
        for stay in in_areas:
            assert any(within(stay, outer) for outer in in_event), stay
        for stay in stays:
            records = {record.type: record for record in stay.records.all() if record.voided_at is None}
            assert records[Record.Type.CHECK_IN].at == stay.checked_in_at
            assert records[Record.Type.CHECK_IN].area_id == stay.area_id
            if stay.checked_out_at is None:
                assert Record.Type.CHECK_OUT not in records
            else:
                assert records[Record.Type.CHECK_OUT].at == stay.checked_out_at


def within(stay: Visit, outer: Visit) -> bool:
    if outer.checked_out_at is None:
        return outer.checked_in_at <= stay.checked_in_at
    ends = stay.checked_out_at or datetime.datetime.max.replace(tzinfo=datetime.UTC)
    return outer.checked_in_at <= stay.checked_in_at and ends <= outer.checked_out_at


def test_the_median_time_inside_is_hours_not_seconds(demo):
    median = selectors.attendance_figures(demo, LATE_AFTERNOON)["median_seconds_inside"]

    assert median > 20 * 60
    assert median < 10 * 3600


def test_about_a_tenth_never_arrive_and_many_come_back_after_going_out(demo):
    figures = selectors.attendance_figures(demo, LATE_AFTERNOON)
    stays = Visit.objects.filter(attendee__event=demo).standing().in_event()
    returning = stays.values("attendee").annotate(n=Count("pk")).filter(n__gte=2)

    assert 6 <= figures["never_arrived"] <= 18
    assert returning.count() >= 10


def test_the_summary_prints_the_event_and_its_figures(demo, output):
    figures = selectors.attendance_figures(demo, LATE_AFTERNOON)
    median = round(figures["median_seconds_inside"] / 60)

    assert f"Demo event {demo.pk} (Demo Conference)" in output
    assert "Wednesday 10 June 2026, 08:00 to 18:00 Europe/Berlin" in output
    assert "has 120 attendees" in output
    assert f"Inside now: {figures['inside']} of 200" in output
    assert f"peak inside: {figures['peak_inside']};" in output
    assert f"median time inside: {median // 60} h {median % 60:02d} min" in output
    assert re.search(r"Workshop A \d+ inside, peak \d+ of 30", output)


def test_running_it_again_changes_nothing_but_the_passwords(demo):
    before = snapshot()

    run_at(LATE_AFTERNOON + datetime.timedelta(hours=1))

    assert snapshot() == before


def test_it_completes_within_a_generous_bound(db):
    started = time.monotonic()

    run_at(LATE_AFTERNOON)

    assert time.monotonic() - started < 15


def test_the_day_is_written_as_the_services_record_it_at_the_door(db):
    recorder = get_user_model().objects.create_user("recorder")
    steps = demo_data.plan(random.Random(3), 20)
    opens_at = local(8)
    now = LATE_AFTERNOON
    written, played = Places.make("written"), Places.make("played")

    with mock.patch("django.utils.timezone.now", return_value=now):
        demo_data.write_day(steps, written.attendees, written.areas, opens_at=opens_at, now=now, by=recorder)
        for step in steps:
            at = opens_at + datetime.timedelta(seconds=round(step.minute * 60))
            if at <= now:
                service = services.check_in if step.check == "in" else services.check_out
                service(
                    attendee=played.attendees[step.person],
                    by=recorder,
                    station=step.area or "Main entrance",
                    source=Record.Source.COMMAND,
                    area=played.areas[step.area] if step.area else None,
                    at=at,
                )

    assert Record.objects.filter(attendee__event=written.event).count() > 60
    assert story(written.event) == story(played.event)


def test_signals_are_sent_once_per_record_after_the_commit(db, django_capture_on_commit_callbacks):
    received = []

    def receiver(sender, record, attendee, **kwargs):
        received.append((record.type, attendee.pk, record.pk))

    signals.checked_in.connect(receiver)
    signals.checked_out.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            run_at(LATE_AFTERNOON)
            assert received == []
    finally:
        signals.checked_in.disconnect(receiver)
        signals.checked_out.disconnect(receiver)

    assert sorted(received) == sorted(Record.objects.values_list("type", "attendee", "pk"))


@dataclasses.dataclass
class Places:
    """An event with the demo's areas and 20 attendees, by the plan's person numbers."""

    event: Event
    attendees: dict[int, Attendee]
    areas: dict[str, Area]

    @classmethod
    def make(cls, name: str) -> "Places":
        event = Event.objects.create(name=name, capacity=demo_data.EVENT_CAPACITY, timezone="Europe/Berlin")
        areas = {
            area: Area.objects.create(event=event, name=area, capacity=capacity)
            for area, capacity in demo_data.AREAS.items()
        }
        attendees = {
            person: Attendee.objects.create(
                event=event, first_name=f"Person{person}", last_name=name, email=f"{person}@example.org"
            )
            for person in range(20)
        }
        return cls(event, attendees, areas)


def story(event: Event) -> dict:
    """What was recorded for the event, by person and area name rather than ids."""
    event.refresh_from_db()
    records = sorted(
        (
            r.attendee.first_name,
            r.at,
            r.type,
            r.area.name if r.area else "",
            r.station,
            r.source,
            r.recorded_at,
            r.voided_at,
        )
        for r in Record.objects.filter(attendee__event=event).select_related("attendee", "area")
    )
    stays = sorted(
        (v.attendee.first_name, v.checked_in_at, v.area.name if v.area else "", v.checked_out_at)
        for v in Visit.objects.filter(attendee__event=event).select_related("attendee", "area")
    )
    inside = {area.name: area.inside for area in event.areas.all()}
    return {"records": records, "stays": stays, "inside": event.inside, "areas": inside}
