"""The counts and figures of an event: the same answers as the states of the attendees,
in a fixed number of queries whatever the size."""

import datetime
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from attendees import selectors, services
from attendees.exceptions import HasHistory
from attendees.models import Area, Attendee, PlaceMinute, Record, Visit
from attendees.prepared import executed

from .test_areas import assert_counts_match_open_stays

MORNING = datetime.datetime(2026, 5, 4, 9, 0, tzinfo=datetime.UTC)
HOUR = datetime.timedelta(hours=1)


@pytest.fixture
def hall(event) -> Area:
    return Area.objects.create(event=event, name="Main hall")


@pytest.fixture
def crowd(make_attendee, event, other_event, hall):
    """Two inside (one of them in the hall), one who left after a move through the hall,
    one back inside after leaving, one whose only check-in was voided, two who never came,
    and someone inside another event."""
    inside = [make_attendee("inside"), make_attendee()]
    services.check_in(attendee=inside[1], by=None, area=hall)
    gone = make_attendee()
    services.check_in(attendee=gone, by=None, area=hall)
    services.check_out(attendee=gone, by=None)
    back = make_attendee("left")
    services.check_in(attendee=back, by=None)
    voided = make_attendee("inside")
    services.void_record(record=Record.objects.get(attendee=voided), by=None, reason="Scanned the wrong ticket")
    never = [make_attendee(), make_attendee()]
    make_attendee("inside", event=other_event)
    return {"inside": [*inside, back], "left": [gone], "never": [voided, *never]}


def counts_from_history(event) -> dict[str, int]:
    """The counts as the states derived from the history give them."""
    states = [(a.is_checked_in, a.is_checked_out) for a in selectors.attendees_with_state().filter(event=event)]
    inside, left = sum(i for i, _ in states), sum(o for _, o in states)
    return {"registered": len(states), "inside": inside, "left": left, "never_arrived": len(states) - inside - left}


def test_an_events_live_counts_are_read_from_its_row_without_a_query(event, crowd, django_assert_num_queries):
    event.refresh_from_db()

    with django_assert_num_queries(0):
        counts = selectors.event_counts(event)

    assert counts == {"registered": 7, "inside": 3, "left": 1, "never_arrived": 3}


def test_the_live_counts_agree_with_the_states_derived_from_the_history(event, other_event, crowd):
    for place in (event, other_event):
        place.refresh_from_db()
        assert selectors.event_counts(place) == counts_from_history(place)


def test_the_live_counts_follow_bulk_writes_voids_reopens_deletes_and_moves(
    event, other_event, crowd, make_attendee, door_staff
):
    services.bulk_check_in(attendees=Attendee.objects.filter(event=event), by=door_staff)
    services.bulk_check_out(attendees=Attendee.objects.filter(event=event), by=door_staff)
    last_out = Record.objects.filter(attendee=crowd["left"][0], type="check_out").standing().latest("at")
    services.void_record(record=last_out, by=None, reason="Left by mistake")
    services.delete_attendee(attendee=make_attendee())
    moving = make_attendee()
    services.save_attendee(attendee=moving, changes={"event": other_event}, by=None)

    for place in (event, other_event):
        place.refresh_from_db()
        assert selectors.event_counts(place) == counts_from_history(place)


def test_moving_an_attendee_with_history_to_another_event_is_refused(event, other_event, make_attendee):
    attendee = make_attendee("left")

    with pytest.raises(HasHistory):
        services.save_attendee(attendee=attendee, changes={"event": other_event}, by=None)

    attendee.refresh_from_db()
    assert attendee.event == event


def test_counts_of_an_event_nobody_registered_for_are_zero(event):
    event.refresh_from_db()
    assert selectors.event_counts(event) == {"registered": 0, "inside": 0, "left": 0, "never_arrived": 0}


@pytest.mark.parametrize("size", [10, 200])
def test_attendance_figures_are_read_in_four_queries_whatever_the_size(
    event, hall, make_attendee, django_assert_num_queries, size
):
    people = Attendee.objects.bulk_create(
        Attendee(event=event, first_name=f"First{n}", last_name="Crowd", email=f"person{n}@example.org")
        for n in range(size)
    )
    # Created in bulk, around the counting of each save.
    services.recount()
    services.bulk_check_in(attendees=Attendee.objects.filter(pk__in=[p.pk for p in people[: size // 2]]), by=None)
    for person in people[: size // 5]:
        services.check_in(attendee=person, by=None, area=hall)

    # The states, the kept minutes of every place (check-ins, check-outs and peaks), the
    # middle times inside, the areas.
    with django_assert_num_queries(4):
        figures = selectors.attendance_figures(event)

    assert (figures["registered"], figures["inside"], figures["left"], figures["never_arrived"]) == (
        size,
        size // 2,
        0,
        size - size // 2,
    )
    assert figures["areas"][0]["check_ins"] == size // 5


def _stay(attendee: Attendee, hours: float, *, area: Area | None = None, voided: bool = False) -> None:
    Visit.objects.create(
        attendee=attendee,
        area=area,
        checked_in_at=MORNING,
        checked_out_at=MORNING + hours * HOUR,
        voided_at=MORNING if voided else None,
    )


def test_median_time_inside_sums_each_attendees_standing_stays_in_the_event_only(make_attendee, event, hall):
    short, long_, twice = make_attendee(), make_attendee(), make_attendee()
    _stay(short, 1)
    _stay(short, 5, voided=True)
    _stay(long_, 4)
    _stay(long_, 3, area=hall)
    _stay(twice, 1)
    _stay(twice, 1.5)
    make_attendee()
    # Stays written around the services.
    services.recount()

    figures = selectors.attendance_figures(event, now=MORNING + 8 * HOUR)

    # 1 h, 2.5 h and 4 h: the area's stay lies within the event's and the voided one does not stand.
    assert figures["median_seconds_inside"] == 2.5 * 3600


def test_median_time_inside_of_an_even_number_counts_an_open_stay_until_now(make_attendee, event):
    done, still_inside = make_attendee(), make_attendee()
    _stay(done, 1)
    Visit.objects.create(attendee=still_inside, checked_in_at=MORNING)
    services.recount()

    figures = selectors.attendance_figures(event, now=MORNING + 2 * HOUR)

    assert figures["median_seconds_inside"] == 1.5 * 3600


# The kept figures (`PlaceMinute`, `TimeInside`) against the history they are kept from.


def figures_from_history(event, now: datetime.datetime) -> dict:
    """The figures that depend on the history, counted here from every standing record
    and stay, as the figures were computed before they were kept: the check-ins and
    check-outs, the median time inside, and the peaks (a running total over the records
    in time order, check-outs first at the same instant), for the event and its areas."""
    stays = list(Visit.objects.filter(attendee__event=event).standing())
    in_event = [stay for stay in stays if stay.area_id is None]
    totals: dict[int, float] = {}
    for stay in in_event:
        seconds = ((stay.checked_out_at or now) - stay.checked_in_at).total_seconds()
        totals[stay.attendee_id] = totals.get(stay.attendee_id, 0.0) + seconds
    ordered = sorted(totals.values())
    middle = ordered[(len(ordered) - 1) // 2 : len(ordered) // 2 + 1]
    peaks: dict[int | None, int] = {}
    running: dict[int | None, int] = {}
    records = Record.objects.filter(attendee__event=event).standing()
    for record in sorted(records, key=lambda r: (r.at, 1 if r.type == "check_in" else -1, r.pk)):
        step = 1 if record.type == "check_in" else -1
        running[record.area_id] = running.get(record.area_id, 0) + step
        peaks[record.area_id] = max(peaks.get(record.area_id, 0), running[record.area_id])
    return {
        "check_ins": len(in_event),
        "check_outs": sum(stay.checked_out_at is not None for stay in in_event),
        "median_seconds_inside": sum(middle) / len(middle) if middle else None,
        "peak_inside": peaks.get(None, 0),
        "areas": {
            area.pk: (peaks.get(area.pk, 0), sum(stay.area_id == area.pk for stay in stays))
            for area in event.areas.all()
        },
    }


def kept_figures(event, now: datetime.datetime) -> dict:
    figures = selectors.attendance_figures(event, now=now)
    return {
        "check_ins": figures["check_ins"],
        "check_outs": figures["check_outs"],
        "median_seconds_inside": pytest.approx(figures["median_seconds_inside"], abs=1e-4)
        if figures["median_seconds_inside"] is not None
        else None,
        "peak_inside": figures["peak_inside"],
        "areas": {area["id"]: (area["peak_inside"], area["check_ins"]) for area in figures["areas"]},
    }


def test_kept_figures_follow_past_times_corrections_voids_reopens_moves_and_bulk_writes(
    event, hall, make_attendee, door_staff
):
    workshop = Area.objects.create(event=event, name="Workshop")
    people = [make_attendee() for _ in range(6)]
    at = MORNING
    with mock.patch("django.utils.timezone.now", return_value=MORNING + 3 * HOUR):
        # A door device's scans synced late, the earliest last, within one minute and across minutes.
        for n, person in enumerate(people[:4]):
            services.check_in(attendee=person, by=door_staff, at=at + datetime.timedelta(seconds=50 - 10 * n))
        services.check_out(attendee=people[0], by=door_staff, at=at + datetime.timedelta(seconds=55))
        services.check_in(attendee=people[4], by=door_staff, area=hall, at=at + HOUR)
        services.check_in(attendee=people[4], by=door_staff, area=workshop, at=at + HOUR)
        services.check_in(attendee=people[1], by=door_staff, area=hall, at=at + HOUR)
        # A missed check-out, corrected, at a time before later records.
        services.correct_check_out(attendee=people[2], at=at + HOUR / 2, by=door_staff, reason="Left by the back door")
        # A wrong check-out undone: the stay is open again, its minute loses it.
        last_out = Record.objects.get(attendee=people[0], type="check_out")
        services.void_record(record=last_out, by=door_staff, reason="Scanned the wrong ticket")
        # A check-in voided, and its stay in an area with it.
        services.void_record(
            record=Record.objects.get(attendee=people[1], type="check_in", area=None), by=door_staff, reason="Wrong"
        )
    with mock.patch("django.utils.timezone.now", return_value=MORNING + 4 * HOUR):
        services.bulk_check_in(attendees=Attendee.objects.filter(pk__in=[p.pk for p in people]), by=door_staff)
    with mock.patch("django.utils.timezone.now", return_value=MORNING + 5 * HOUR):
        services.bulk_check_out(attendees=Attendee.objects.filter(pk=people[5].pk), by=door_staff)
    now = MORNING + 6 * HOUR

    assert kept_figures(event, now) == figures_from_history(event, now)
    # Everyone, once the bulk check-in brought in the three outside.
    assert kept_figures(event, now)["peak_inside"] == 6
    assert_counts_match_open_stays()


def test_recount_keeps_the_figures_of_stays_written_around_the_services(event, hall, make_attendee):
    first, second = make_attendee(), make_attendee()
    _stay(first, 2)
    _stay(second, 1, area=hall)
    Visit.objects.create(attendee=second, checked_in_at=MORNING + HOUR / 2)
    # Their records too, as a bulk load from elsewhere would bring them.
    Record.objects.bulk_create(
        Record(attendee_id=visit.attendee_id, visit=visit, area_id=visit.area_id, type=kind, at=at, recorded_at=at)
        for visit in Visit.objects.all()
        for kind, at in (("check_in", visit.checked_in_at), ("check_out", visit.checked_out_at))
        if at is not None
    )
    assert selectors.attendance_figures(event, now=MORNING + 3 * HOUR)["check_ins"] == 0

    services.recount()

    now = MORNING + 3 * HOUR
    assert kept_figures(event, now) == figures_from_history(event, now)
    assert kept_figures(event, now)["check_ins"] == 2
    assert_counts_match_open_stays()


def kept_minutes(event) -> dict:
    return {
        (row.area_key, row.minute): (row.check_ins, row.check_outs, row.rise, row.last_at)
        for row in PlaceMinute.objects.filter(event=event)
    }


def test_a_record_in_time_order_is_added_to_its_minute_without_reading_the_stays(event, make_attendee):
    first, second = make_attendee(), make_attendee()
    services.check_in(attendee=first, by=None, at=MORNING + datetime.timedelta(seconds=10))

    with CaptureQueriesContext(connection) as captured:
        services.check_in(attendee=second, by=None, at=MORNING + datetime.timedelta(seconds=20))

    # The minute's row is added to in place: no statement reads the stays of the minute.
    kinds = [executed(query["sql"]) for query in captured.captured_queries]
    assert sum(PlaceMinute._meta.db_table in sql and "INSERT" in sql for sql in kinds) == 1
    assert not any(PlaceMinute._meta.db_table in sql and "OVER" in sql for sql in kinds)
    assert kept_minutes(event) == {(0, MORNING): (2, 0, 2, MORNING + datetime.timedelta(seconds=20))}
    assert_counts_match_open_stays()


@pytest.mark.parametrize(
    ("earlier", "later"),
    [
        # A door device's scan synced late: before the latest of its minute.
        (("in", 1, 30), ("in", 2, 10)),
        # A check-out at the very instant of a check-in written before it comes first.
        (("in", 1, 30), ("out", 0, 30)),
    ],
)
def test_a_record_before_the_latest_of_its_minute_rebuilds_the_minute_from_its_stays(
    event, make_attendee, earlier, later
):
    people = [make_attendee() for _ in range(3)]
    services.check_in(attendee=people[0], by=None, at=MORNING)
    for direction, who, seconds in (earlier, later):
        call = services.check_in if direction == "in" else services.check_out
        with CaptureQueriesContext(connection) as captured:
            call(attendee=people[who], by=None, at=MORNING + datetime.timedelta(seconds=seconds))

    sent = [query["sql"] for query in captured.captured_queries]
    rebuilt = [sql for sql in sent if PlaceMinute._meta.db_table in executed(sql) and "OVER" in executed(sql)]
    assert rebuilt
    # Sent as its SQL, never prepared on the server: planned for the minute it rebuilds.
    assert not [sql for sql in rebuilt if sql.startswith(("PREPARE", "EXECUTE"))]
    assert_counts_match_open_stays()


def test_two_check_ins_at_one_instant_and_a_check_out_then_add_up_in_order(event, make_attendee):
    people = [make_attendee() for _ in range(3)]
    at = MORNING + datetime.timedelta(seconds=5)
    services.check_in(attendee=people[0], by=None, at=MORNING)
    services.check_in(attendee=people[1], by=None, at=at)
    services.check_in(attendee=people[2], by=None, at=at)
    services.check_out(attendee=people[0], by=None, at=at + datetime.timedelta(seconds=1))

    assert kept_minutes(event) == {(0, MORNING): (3, 1, 3, at + datetime.timedelta(seconds=1))}
    assert_counts_match_open_stays()


def _minute(moment: datetime.datetime) -> datetime.datetime:
    return moment.replace(second=0, microsecond=0)


def occupancy_from_stays(event, moments: list[datetime.datetime]) -> dict[int | None, list[int]]:
    """How many were inside the event (key None) and each area at `moments`, counted from
    the standing stays: a stay counts at a moment after the start of its check-in's
    minute and up to the start of its check-out's; at the last moment, minutes starting
    at it count too."""
    lines = {}
    for key in [None, *event.areas.values_list("pk", flat=True)]:
        stays = Visit.objects.filter(attendee__event=event, area=key, voided_at__isnull=True)
        counts = []
        for n, at in enumerate(moments):
            last = n == len(moments) - 1

            def before(moment, at=at, last=last):
                return moment is not None and (_minute(moment) <= at if last else _minute(moment) < at)

            counts.append(sum(before(s.checked_in_at) for s in stays) - sum(before(s.checked_out_at) for s in stays))
        lines[key] = counts
    return lines


@pytest.mark.parametrize(
    ("hours", "now_after", "step_minutes"),
    [
        (3, 4, 15),  # over: records after its end count at no moment
        (3, 1.7, 15),  # under way: the last moment is now
        (60, 61, 30),  # three days: the step widens to keep at most 192 points
    ],
)
def test_the_chart_counts_at_each_moment_what_the_stays_give(
    event, hall, make_attendee, hours, now_after, step_minutes
):
    event.starts_at, event.ends_at = MORNING, MORNING + hours * HOUR
    event.save()
    garden = Area.objects.create(event=event, name="Garden")
    minute, second = datetime.timedelta(minutes=1), datetime.timedelta(seconds=1)
    times = [
        MORNING - 10 * minute,  # before the start
        MORNING + 15 * minute - second,  # just before a step
        MORNING + 15 * minute,  # on a step
        MORNING + 45 * minute + 30 * second,
        MORNING + hours * HOUR - 2 * minute,
        MORNING + hours * HOUR,  # at the end
        MORNING + hours * HOUR + 20 * minute,  # after the end
    ]
    people = [make_attendee() for _ in range(6)]
    for n, person in enumerate(people):
        area = [None, hall, garden][n % 3]
        services.check_in(attendee=person, by=None, at=times[n], area=area)
        if n % 2 == 0:
            services.check_out(attendee=person, by=None, at=times[n + 1])
    services.check_in(attendee=people[1], by=None, at=times[6], area=garden)  # a move after the end
    now = MORNING + now_after * HOUR

    points, by_area = selectors.occupancy_by_area(event, now=now)

    moments = [at for at, _ in points]
    assert moments[1] - moments[0] == datetime.timedelta(minutes=step_minutes)
    assert len(moments) <= selectors.MAX_STEPS + 1
    expected = occupancy_from_stays(event, moments)
    assert [count for _, count in points] == expected[None]
    assert {area.pk: [count for _, count in line] for area, line in by_area} == {
        key: counts for key, counts in expected.items() if key is not None
    }
    assert points == selectors.occupancy(event, now=now)
