"""Reads that need care: the attendee state derived from the history, the times, the
records, and the attendance figures of an event. Selectors never write."""

import collections
import dataclasses
import datetime
import hashlib
from collections.abc import Iterator

from django.db import router
from django.db.models import (
    BigIntegerField,
    BooleanField,
    Case,
    Count,
    DateTimeField,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    Max,
    Min,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
    Window,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from .models import Area, Attendee, Event, Microseconds, PlaceMinute, Record, RefusedScan, TimeInside, Visit
from .prepared import Param, Prepared, PreparedQuery


def _visits_of_row():
    """The standing stays in the event (not in its areas) of the attendee of the outer row."""
    return Visit.objects.filter(attendee=OuterRef("pk")).standing().in_event()


def _state(open_stay, some_stay, *, and_not):
    """The state rule, written once for the database and for stays in hand, over two
    facts about the attendee's standing stays in the event (not in its areas): whether
    one is open, and whether there is one at all. Inside while one is open; left when
    there is one and none is open; otherwise never arrived. Returns (`is_checked_in`,
    `is_checked_out`); `and_not(a, b)` is "a and not b" in the facts' own terms."""
    return open_stay, and_not(some_stay, open_stay)


def attendees_with_state(queryset: QuerySet[Attendee] | None = None) -> QuerySet[Attendee]:
    """Attendees annotated with `is_checked_in` and `is_checked_out` by `_state`, derived
    from the visits in the same query, so state and history cannot disagree."""
    queryset = Attendee.objects.all() if queryset is None else queryset
    is_checked_in, is_checked_out = _state(
        Exists(_visits_of_row().open()),
        Exists(_visits_of_row()),
        and_not=lambda some, inside: ExpressionWrapper(some & ~inside, output_field=BooleanField()),
    )
    return queryset.annotate(is_checked_in=is_checked_in, is_checked_out=is_checked_out)


def attendees_with_times(queryset: QuerySet[Attendee] | None = None) -> QuerySet[Attendee]:
    """`attendees_with_state` plus the visits prefetched oldest first (one extra query
    for any number of attendees), for `checkin_times` and `checkout_times`."""
    return attendees_with_state(queryset).prefetch_related(visits_prefetch())


def attendee_with_times(attendee: Attendee) -> Attendee:
    """`attendee` with its stays fetched afresh (one prepared query: see `prepared`), as
    `visits_prefetch` would fetch them, and its state derived from those same stays by
    `_state`, as `attendees_with_state` derives it in SQL: what a check-in or check-out
    answers with."""
    alias = router.db_for_read(Visit)
    stays = [
        Visit.from_db(alias, STAY_FIELDS, [row[name] for name in STAY_FIELDS])
        for row in _STAYS_OF_ONE.rows(alias, attendee=attendee.pk)
    ]
    # Kept where `prefetch_related` keeps them, for `attendee.visits.all()`.
    attendee._prefetched_objects_cache = {}
    manager = attendee.visits
    prefetched = manager.get_queryset()
    prefetched._result_cache = stays
    prefetched._prefetch_done = True
    attendee._prefetched_objects_cache[manager.field.remote_field.cache_name] = prefetched
    in_event = _stays_in_event(attendee)
    attendee.is_checked_in, attendee.is_checked_out = _state(
        any(visit.checked_out_at is None for visit in in_event),
        bool(in_event),
        and_not=lambda some, inside: some and not inside,
    )
    return attendee


def visits_prefetch() -> Prefetch:
    """The standing stays of attendees (in the event and in its areas), oldest first,
    with only what the times and the current area need."""
    return Prefetch("visits", queryset=_standing_stays().only(*STAY_FIELDS))


def _standing_stays() -> QuerySet[Visit]:
    return Visit.objects.standing().order_by("checked_in_at", "id")


STAY_FIELDS = ["id", "attendee_id", "checked_in_at", "checked_out_at", "area_id"]
_STAYS_OF_ONE = PreparedQuery(
    lambda: _standing_stays().filter(attendee=Param("attendee", Attendee._meta.pk)).values_list(*STAY_FIELDS)
)


def _stays_in_event(attendee: Attendee) -> list[Visit]:
    return [visit for visit in attendee.visits.all() if visit.area_id is None]


def current_area_id(attendee: Attendee) -> int | None:
    """The area the attendee is in now, from the prefetched stays."""
    return next(
        (visit.area_id for visit in attendee.visits.all() if visit.area_id and visit.checked_out_at is None), None
    )


def attendees_for_changelist(queryset: QuerySet[Attendee]) -> QuerySet[Attendee]:
    """`attendees_with_state` plus the latest check-in and check-out times and the time
    inside, for the admin list."""
    latest = _visits_of_row().order_by("-checked_in_at", "-id")
    return with_time_inside(
        attendees_with_state(queryset)
        .select_related("event")
        .annotate(
            last_checked_in_at=Subquery(latest.values("checked_in_at")[:1]),
            last_checked_out_at=Subquery(latest.closed().values("checked_out_at")[:1]),
        )
    )


def with_current_area(queryset: QuerySet[Attendee]) -> QuerySet[Attendee]:
    """Annotate `current_area_name`: the name of the area the attendee is in now, null
    when in none. A subquery in the same query, whatever the number of rows."""
    in_area = Visit.objects.filter(attendee=OuterRef("pk")).standing().open().in_areas()
    return queryset.annotate(current_area_name=Subquery(in_area.values("area__name")[:1]))


def with_time_inside(queryset: QuerySet[Attendee], now: datetime.datetime | None = None) -> QuerySet[Attendee]:
    """Annotate `time_inside`: the total of the attendee's standing visits, a visit still
    open counting until `now`; null for those who never checked in. Summed in the database."""
    now = now or timezone.now()
    stay = ExpressionWrapper(
        Coalesce(F("checked_out_at"), Value(now)) - F("checked_in_at"), output_field=DurationField()
    )
    totals = _visits_of_row().order_by().values("attendee").annotate(total=Sum(stay)).values("total")
    return queryset.annotate(time_inside=Subquery(totals, output_field=DurationField()))


def history(attendee: Attendee) -> QuerySet[Record]:
    """Every record of the attendee, voided ones included, oldest first."""
    return attendee.records.select_related("recorded_by", "voided_by").order_by("at", "id")


def event_counts(event: Event) -> dict[str, int]:
    """How many attendees `event` has, and how many of them are inside, have left and
    never arrived, from the live counts of its row as read (see `Event`): by `_state`,
    whoever arrived (has a standing stay) and is not inside has left. Constant time
    whatever the size."""
    return {
        "registered": event.registered,
        "inside": event.inside,
        "left": event.arrived - event.inside,
        "never_arrived": event.registered - event.arrived,
    }


def attendance_figures(event: Event, now: datetime.datetime | None = None) -> dict:
    """Who is inside, who left, who never came, how many check-ins and check-outs stand,
    the median time inside of those who came, the peaks inside, and the same per area.
    Four queries whatever the number of attendees, all of kept rows: the event's live
    counts, its `PlaceMinute`s, its areas, and the one or two middle values of the
    times inside (`TimeInside`), which the database sorts and picks."""
    now = now or timezone.now()
    # The live counts as they are now, whatever the copy of the event in hand holds.
    states = event_counts(Event.objects.only("registered", "inside", "arrived").get(pk=event.pk))
    places = place_totals(event)
    came = states["inside"] + states["left"]
    median = None
    if came:
        _, rows = _MIDDLE_TIMES.execute(
            router.db_for_read(TimeInside),
            event=event.pk,
            now=(now - TimeInside.EPOCH) // datetime.timedelta(microseconds=1),
            count=2 - came % 2,
            skip=(came - 1) // 2,
        )
        values = [total for (total,) in rows]
        median = sum(values) / len(values) / 1_000_000 if values else None
    in_event = places.get(PlaceMinute.EVENT, PlaceTotals())
    return {
        "registered": states["registered"],
        "inside": states["inside"],
        "left": states["left"],
        "never_arrived": states["never_arrived"],
        "check_ins": in_event.check_ins,
        "check_outs": in_event.check_outs,
        "median_seconds_inside": median,
        "capacity": event.capacity,
        "peak_inside": in_event.peak,
        "areas": [
            {
                "id": area.pk,
                "name": area.name,
                "capacity": area.capacity,
                "inside": area.inside,
                "peak_inside": places.get(area.pk, PlaceTotals()).peak,
                "check_ins": places.get(area.pk, PlaceTotals()).check_ins,
            }
            for area in event.areas.order_by("name", "pk")
        ],
    }


@dataclasses.dataclass(frozen=True)
class PlaceTotals:
    """What happened in one place (the event itself, or an area): its standing
    check-ins and check-outs, and the most people inside at once."""

    check_ins: int = 0
    check_outs: int = 0
    peak: int = 0


def place_totals(event: Event) -> dict[int, PlaceTotals]:
    """The `PlaceTotals` of the event (key `PlaceMinute.EVENT`) and of each of its areas
    where someone has been (key: its id), added up by the database from their
    `PlaceMinute`s, in one prepared query. The peak is the highest, over the minutes, of
    the number inside before the minute (the running total of the minutes before it)
    plus the minute's rise: counted from the standing stays, not sampled."""
    _, rows = _PLACE_TOTALS.execute(router.db_for_read(PlaceMinute), event=event.pk)
    return {
        key: PlaceTotals(check_ins=check_ins, check_outs=check_outs, peak=max(peak, 0))
        for key, check_ins, check_outs, peak in rows
    }


def _place_totals_sql(alias: str) -> tuple[str, list]:
    net = F("check_ins") - F("check_outs")
    minutes = (
        PlaceMinute.objects.filter(event=Param("event", Event._meta.pk))
        .order_by()
        .annotate(before=Window(Sum(net), partition_by=[F("area_key")], order_by=[F("minute").asc()]) - net)
        .values_list("area_key", "check_ins", "check_outs", "rise", "before")
    )
    sql, params = minutes.query.get_compiler(using=alias).as_sql()
    return (
        f"SELECT area_key, SUM(check_ins), SUM(check_outs), MAX(before + rise) FROM ({sql}) minutes GROUP BY area_key",
        list(params),
    )


def _middle_times_sql(alias: str) -> tuple[str, list]:
    """The `count` times inside, in microseconds at `now` (since 1970), that follow the
    `skip` shortest of those who came to `event`: each a sum of two kept columns (see
    `TimeInside`), which the database sorts."""
    times = (
        TimeInside.objects.filter(event=Param("event", Event._meta.pk), stays__gt=0)
        .annotate(total=F("microseconds") + F("open_stays") * Param("now", BigIntegerField()))
        .order_by("total")
        .values_list("total", flat=True)
    )
    sql, params = times.query.get_compiler(using=alias).as_sql()
    return f"{sql} LIMIT %s OFFSET %s", [*params, Param("count", IntegerField()), Param("skip", IntegerField())]


# Planned for the event of each run: one of a thousand attendees is read by an index, one of
# a hundred thousand by a scan, and a generic plan kept for both read a small event by a scan.
_PLACE_TOTALS = Prepared(_place_totals_sql, plan_each_run=True)
_MIDDLE_TIMES = Prepared(_middle_times_sql, plan_each_run=True)


@dataclasses.dataclass(frozen=True)
class AttendanceRow:
    event_id: int
    id: int
    name: str
    email: str
    state: str
    first_check_in: datetime.datetime | None
    last_check_out: datetime.datetime | None
    visits: int
    seconds_inside: float | None


def attendance_rows(attendees: QuerySet[Attendee], now: datetime.datetime | None = None) -> Iterator[AttendanceRow]:
    """One row per attendee, read from the database in chunks (for a streamed export):
    state, first check-in, last check-out, number of visits and seconds inside."""
    standing = _visits_of_row().order_by().values("attendee")
    rows = (
        with_time_inside(attendees_with_state(attendees), now)
        .annotate(
            first_check_in=Subquery(standing.annotate(first=Min("checked_in_at")).values("first")),
            last_check_out=Subquery(standing.annotate(last=Max("checked_out_at")).values("last")),
            visit_count=Coalesce(Subquery(standing.annotate(n=Count("pk")).values("n")), 0),
        )
        .order_by("event_id", "last_name", "first_name", "pk")
        .values_list(
            "event_id",
            "pk",
            "first_name",
            "last_name",
            "email",
            "is_checked_in",
            "is_checked_out",
            "first_check_in",
            "last_check_out",
            "visit_count",
            "time_inside",
        )
    )
    for event_id, pk, first, last, email, inside, left, first_in, last_out, visits, time_inside in rows.iterator(
        chunk_size=2000
    ):
        yield AttendanceRow(
            event_id=event_id,
            id=pk,
            name=f"{first} {last}",
            email=email,
            state=Attendee.State.of(is_checked_in=inside, is_checked_out=left).value,
            first_check_in=first_in,
            last_check_out=last_out,
            visits=visits,
            seconds_inside=_seconds(time_inside),
        )


Point = tuple[datetime.datetime, int]


def occupancy(
    event: Event, *, step: datetime.timedelta = datetime.timedelta(minutes=15), now: datetime.datetime | None = None
) -> list[Point]:
    """People inside at each `step` over the event, from its start (or the first
    check-in), and at its end (or now, if sooner), the last point. The step widens so
    that there are at most `MAX_STEPS` points. One query, the kept minutes' check-ins less
    check-outs summed per step by the database (two for an event without a start: its
    first check-in)."""
    moments, lines = _occupancy_lines(event, step=step, now=now)
    return list(zip(moments, lines.get(PlaceMinute.EVENT, [0] * len(moments)), strict=True))


def occupancy_by_area(
    event: Event, *, step: datetime.timedelta = datetime.timedelta(minutes=15), now: datetime.datetime | None = None
) -> tuple[list[Point], list[tuple[Area, list[Point]]]]:
    """The event's `occupancy`, and beside it the people in each of its areas at the
    same moments: every area of the event, by name. Two queries whatever the number of
    areas: the areas, and the kept minutes summed per step of every place at once
    (three for an event without a start: its first check-in)."""
    moments, lines = _occupancy_lines(event, step=step, now=now)
    if not moments:
        return [], []
    zeros = [0] * len(moments)
    return (
        list(zip(moments, lines.get(PlaceMinute.EVENT, zeros), strict=True)),
        [
            (area, list(zip(moments, lines.get(area.pk, zeros), strict=True)))
            for area in event.areas.order_by("name", "pk")
        ],
    )


MAX_STEPS = 192


def _occupancy_lines(
    event: Event, *, step: datetime.timedelta, now: datetime.datetime | None
) -> tuple[list[datetime.datetime], dict[int, list[int]]]:
    """The moments of the chart, and how many were inside each place at them, by the
    place's key (see `PlaceMinute.area_key`). A minute's check-ins and check-outs count at
    a moment after the start of that minute, and all of them at the last moment (the
    end, or now): the moments but the last are whole steps, so the minutes' sums per
    step are enough."""
    now = now or timezone.now()
    start = event.starts_at or _first_check_in(event)
    if start is None:
        return [], {}
    end = min(event.ends_at, now) if event.ends_at else now
    end = max(end, start)
    while (end - start) / step > MAX_STEPS:
        step *= 2
    since = _floor(start, step)
    moments = []
    at = since
    while at < end:
        moments.append(at)
        at += step
    moments.append(end)
    steps: dict[int, dict[int, int]] = collections.defaultdict(dict)
    for row in _STEP_TOTALS.rows(
        router.db_for_read(PlaceMinute),
        event=event.pk,
        since=since,
        until=end,
        step=step // datetime.timedelta(microseconds=1),
    ):
        steps[row["area_key"]][row["step"]] = row["change"]
    lines = {}
    for key, changes in steps.items():
        # Step -1 holds the minutes before the first moment: they count at every one.
        inside = changes.get(-1, 0)
        counts = []
        for n in range(len(moments) - 1):
            counts.append(inside)
            inside += changes.get(n, 0)
        counts.append(sum(changes.values()))
        lines[key] = counts
    return moments, lines


def _first_check_in(event: Event) -> datetime.datetime | None:
    return PlaceMinute.objects.filter(event=event, area_key=PlaceMinute.EVENT, check_ins__gt=0).aggregate(
        first=Min("minute")
    )["first"]


def _step_totals() -> QuerySet:
    """Each place's check-ins less check-outs per step of `step` microseconds from
    `since` (-1: before it), of the kept minutes up to `until`."""
    since = Param("since", DateTimeField())
    step = Case(
        When(minute__lt=since, then=Value(-1)),
        default=Microseconds(F("minute") - since) / Param("step", BigIntegerField()),
        output_field=BigIntegerField(),
    )
    return (
        PlaceMinute.objects.filter(event=Param("event", Event._meta.pk), minute__lte=Param("until", DateTimeField()))
        .annotate(step=step)
        .order_by()
        .values("area_key", "step")
        .annotate(change=Sum(F("check_ins") - F("check_outs")))
        .values_list("area_key", "step", "change")
    )


# Planned for each run: how many steps and minutes it reads depends on the event.
_STEP_TOTALS = PreparedQuery(_step_totals, plan_each_run=True)


def _floor(moment: datetime.datetime, step: datetime.timedelta) -> datetime.datetime:
    epoch = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)
    return epoch + ((moment - epoch) // step) * step


def _seconds(duration: datetime.timedelta | None) -> float | None:
    return None if duration is None else duration.total_seconds()


def checkin_times(attendee: Attendee) -> list:
    """The event's check-in times, oldest first, from the prefetched stays."""
    return [visit.checked_in_at for visit in _stays_in_event(attendee)]


def checkout_times(attendee: Attendee) -> list:
    """The event's check-out times, oldest first, from the prefetched stays."""
    return [visit.checked_out_at for visit in _stays_in_event(attendee) if visit.checked_out_at is not None]


def events_due_for_check_out(now: datetime.datetime | None = None) -> list[Event]:
    """Events whose scheduled check-out time has come, soonest first."""
    now = now or timezone.now()
    return list(Event.objects.filter(auto_checkout_at__lte=now).order_by("auto_checkout_at", "pk"))


def count_inside(queryset: QuerySet[Attendee]) -> int:
    """How many of `queryset` are inside now (what a bulk check-out would check out)."""
    return attendees_with_state(queryset).filter(is_checked_in=True).count()


def attendee_for_scan(
    *,
    ticket_code: str | None = None,
    attendee_id: int | None = None,
    area: Area | None = None,
    auto: bool = False,
    offline: bool = False,
) -> Attendee | None:
    """The attendee holding `ticket_code` (exactly, case-sensitive), or with the id
    `attendee_id`, with only what the scan's rules need (its event is read only when a
    refusal names it), in one query:
    for an `auto` scan, when the latest standing stay in the event (or in `area`) began
    and ended (`latest_stay_in`, `latest_stay_out`: stays there follow one another, so
    that stay holds the latest record there); for an `offline` scan, the time of the
    latest standing record anywhere (`last_record_at`). The query is prepared (see
    `prepared`): built once for each kind of scan."""
    alias = router.db_for_read(Attendee)
    query = _FOR_SCAN[ticket_code is not None, auto, area is not None, offline]
    rows = query.rows(alias, ticket_code=ticket_code, attendee=attendee_id, area=area.pk if area else None)
    if not rows:
        return None
    (row,) = rows
    attendee = Attendee.from_db(alias, ATTENDEE_FIELDS, [row[name] for name in ATTENDEE_FIELDS])
    for name in row.keys() - set(ATTENDEE_FIELDS):
        setattr(attendee, name, row[name])
    return attendee


ATTENDEE_FIELDS = [field.attname for field in Attendee._meta.concrete_fields]


def _attendees_for_scan(*, by_code: bool, auto: bool, in_area: bool, offline: bool) -> QuerySet:
    """The query of `attendee_for_scan`, with `Param`s: `ticket_code` or `attendee`, and `area`."""
    if by_code:
        found = Q(ticket_code=Param("ticket_code", Attendee._meta.get_field("ticket_code")))
    else:
        found = Q(pk=Param("attendee", Attendee._meta.pk))
    attendees = Attendee.objects.filter(found)
    if auto:
        area = Param("area", Visit._meta.get_field("area").target_field) if in_area else None
        latest = Visit.objects.filter(attendee=OuterRef("pk"), area=area).standing().order_by("-checked_in_at", "-id")
        attendees = attendees.annotate(
            latest_stay_in=Subquery(latest.values("checked_in_at")[:1]),
            latest_stay_out=Subquery(latest.values("checked_out_at")[:1]),
        )
    if offline:
        standing = Record.objects.filter(attendee=OuterRef("pk")).standing().order_by("-at", "-id")
        attendees = attendees.annotate(last_record_at=Subquery(standing.values("at")[:1]))
    return attendees.values_list(*ATTENDEE_FIELDS, *attendees.query.annotations)[:1]


_FOR_SCAN = {
    (by_code, auto, in_area, offline): PreparedQuery(
        lambda by_code=by_code, auto=auto, in_area=in_area, offline=offline: _attendees_for_scan(
            by_code=by_code, auto=auto, in_area=in_area, offline=offline
        )
    )
    for by_code in (True, False)
    for auto in (True, False)
    for in_area in (True, False)
    for offline in (True, False)
}


def latest_standing_record(attendee: Attendee, *, area: Area | None = None) -> Record | None:
    """The attendee's latest record in the event (or in `area`) that has not been voided:
    what their state there follows."""
    return Record.objects.filter(attendee=attendee, area=area).standing().order_by("-at", "-id").first()


def record_with_people(record_id: int) -> Record:
    """A record with who recorded and who voided it, for its JSON."""
    return Record.objects.select_related("recorded_by", "voided_by").get(pk=record_id)


def refused_scans(*, event_id: int | None = None) -> QuerySet[RefusedScan]:
    """Refused scans, newest first, with who scanned."""
    scans = RefusedScan.objects.select_related("recorded_by").order_by("-recorded_at", "-id")
    return scans if event_id is None else scans.filter(event_id=event_id)


def inside_longer_than(queryset: QuerySet[Attendee], *, seconds: int, now: datetime.datetime | None = None):
    """Those of `queryset` inside the event for longer than `seconds` in their current
    stay (a re-entry starts a new stay; moving between areas does not): forgotten exits."""
    now = now or timezone.now()
    since = now - datetime.timedelta(seconds=seconds)
    return queryset.filter(Exists(_visits_of_row().open().filter(checked_in_at__lt=since)))


@dataclasses.dataclass(frozen=True)
class RosterRow:
    id: int
    first_name: str
    last_name: str
    ticket_code_sha256: str
    state: str
    area: int | None


def roster(event: Event) -> Iterator[RosterRow]:
    """What a door device keeps to decide scans offline, one row per attendee of `event`,
    read in chunks (for a streamed answer): names, the sha256 of the ticket code (never
    the code), the state and the current area. One query, whatever the size."""
    in_area = Visit.objects.filter(attendee=OuterRef("pk")).standing().open().in_areas()
    rows = (
        attendees_with_state(Attendee.objects.filter(event=event))
        # Unordered: a constraint allows one open stay in an area at most, and sorting it cost a sort per attendee.
        .annotate(current_area_id=Subquery(in_area.order_by().values("area_id")[:1]))
        .order_by("pk")
        .values_list(
            "pk", "first_name", "last_name", "ticket_code", "is_checked_in", "is_checked_out", "current_area_id"
        )
    )
    for pk, first, last, code, inside, left, area in rows.iterator(chunk_size=2000):
        yield RosterRow(
            id=pk,
            first_name=first,
            last_name=last,
            ticket_code_sha256=hashlib.sha256(code.encode()).hexdigest(),
            state=Attendee.State.of(is_checked_in=inside, is_checked_out=left).value,
            area=area,
        )
