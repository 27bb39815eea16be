"""Every write and every rule of attendance lives here.

Check-in opens a `Visit`, check-out closes the open one. The database enforces the
rules, so they hold with any number of app servers and door scanners at once:

- a check-in inserts a visit unless one is open; the partial unique constraint "one
  open visit per attendee" makes a concurrent second check-in insert nothing, which
  becomes `AlreadyCheckedIn`;
- a check-out is one conditional `UPDATE ... WHERE checked_out_at IS NULL`; of two
  concurrent check-outs the database lets exactly one match a row.

Every check-in and check-out also writes a `Record` (when, where, by whom, how), in
the same transaction. Corrections void a record or add a missed check-out; they never
delete or rewrite one.

Times always come from the server's clock (`timezone.now()`), never from a client; a
correction's past time is the only exception, and it is checked against the visit.
"""

import collections
import dataclasses
import datetime
import json
import typing
from collections.abc import Callable, Collection, Iterable
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, connections, router, transaction
from django.db.models import (
    BooleanField,
    Case,
    CharField,
    Count,
    DateTimeField,
    Exists,
    Expression,
    F,
    IntegerField,
    Max,
    Model,
    OuterRef,
    ProtectedError,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Greatest, TruncMinute
from django.dispatch import Signal
from django.utils import dateformat, timezone
from django.utils.translation import gettext

from . import selectors, signals
from .conf import app_settings
from .exceptions import (
    AlreadyCheckedIn,
    AlreadyCheckedOut,
    AlreadyVoided,
    AttendanceError,
    CapacityReached,
    CheckOutBeforeCheckIn,
    HasHistory,
    NotCheckedIn,
    NotLatestRecord,
    NotYourRecord,
    OutOfOrder,
    TimeInTheFuture,
    TooOld,
    UndoExpired,
    UnknownAttendee,
    UnknownTicket,
    WrongEvent,
)
from .models import (
    Area,
    Attendee,
    Event,
    Microseconds,
    OfflineScan,
    PlaceMinute,
    Record,
    RefusedScan,
    TimeInside,
    Visit,
)
from .prepared import Param, Prepared, PreparedQuery, update_sql

User = AbstractBaseUser
Source = Record.Source


@dataclasses.dataclass(frozen=True)
class BulkResult:
    done: int
    skipped: int


class Written(typing.NamedTuple):
    """A record just written: its id and the area of its stay (None: the event itself)."""

    id: int
    area_id: int | None


def _closing_time(now: Expression):
    # A check-out is never stamped before its check-in, even if app servers' clocks
    # drift apart; the database's check constraint relies on it.
    return Greatest(now, F("checked_in_at"))


def check_in(
    *,
    attendee: Attendee,
    by: User | None,
    station: str = "",
    source: str = Source.API,
    area: Area | None = None,
    override_capacity: bool = False,
    at: datetime.datetime | None = None,
) -> Record:
    """Check `attendee` in now (or at `at`, the past time an offline door device kept),
    to the event or to one of its `area`s; return the check-in record written (the
    area's, for an area).

    Refused with `AlreadyCheckedIn` while the attendee is inside (in that area), and with
    `CapacityReached` when the place is full, unless `override_capacity`. Re-entry after
    a check-out is allowed. The number inside is taken by one conditional UPDATE
    (`inside < capacity`), so exactly the capacity is admitted under any concurrency;
    one INSERT that yields to any open stay, including one a concurrent request is
    inserting, so of simultaneous check-ins exactly one succeeds.
    """
    if area is not None:
        return _check_in_to_area(
            attendee=attendee,
            area=area,
            by=by,
            station=station,
            source=source,
            override_capacity=override_capacity,
            at=at,
        )
    refusal = None
    with transaction.atomic(savepoint=False):
        admitted = _admit(Event, attendee.event_id, override=override_capacity)
        # The clock is read once the event's row is ours: a request that waited for it
        # stamps its record after those of the requests it waited for.
        stamps = _stamps(at)
        if admitted is None:
            refusal = _full_or_inside(attendee, Event(pk=attendee.event_id))
        else:
            opened, written = _open_visits(
                attendee,
                by=by,
                station=station,
                source=source,
                capacity_override=admitted == OVERRIDDEN,
                **stamps,
            )
            if opened:
                _count_arrival(attendee)
                _keep_figures(attendee.event_id, written=written, attendee_ids=[attendee.pk])
            else:
                # Inside already: hand the place back. Nothing else was written.
                _release(Event, attendee.event_id)
                refusal = AlreadyCheckedIn()
    if refusal is not None:
        raise refusal
    return written[0]


_OPEN_STAYS = PreparedQuery(
    lambda: Visit.objects.filter(attendee=Param("attendee", Attendee._meta.pk)).standing().open().values_list("area")
)


def _check_in_to_area(
    *,
    attendee: Attendee,
    area: Area,
    by: User | None,
    station: str,
    source: str,
    override_capacity: bool,
    at: datetime.datetime | None,
) -> Record:
    """Into `area`: someone outside the event enters it too, at the same instant; someone
    in another area leaves it at that instant (a move)."""
    # A savepoint: a refusal after the first writes undoes them, and leaves the caller's
    # transaction usable (a scan keeps its refusal).
    with transaction.atomic():
        _lock_events([attendee.event_id])
        stamps = _stamps(at)
        now, recorded_at = stamps["now"], stamps["recorded_at"]
        # Where they are: their open stays, in the event and in at most one area.
        open_stays = [row["area"] for row in _OPEN_STAYS.rows(router.db_for_read(Visit), attendee=attendee.pk)]
        in_event = None in open_stays
        current_area = next((area_id for area_id in open_stays if area_id is not None), None)
        if current_area == area.pk:
            raise AlreadyCheckedIn()
        also_written = []
        admitted = _admit(Area, area.pk, override=override_capacity)
        if admitted is None:
            raise _full_or_inside(attendee, area)
        if not in_event:
            admitted_to_event = _admit(Event, attendee.event_id, override=override_capacity)
            if admitted_to_event is None:
                raise _full_or_inside(attendee, Event(pk=attendee.event_id))
            opened, entered = _open_visits(
                attendee,
                by=by,
                station=station,
                source=source,
                now=now,
                recorded_at=recorded_at,
                capacity_override=admitted_to_event == OVERRIDDEN,
            )
            if not opened:
                raise AlreadyCheckedIn()
            _count_arrival(attendee)
            also_written += entered
        if current_area is not None:
            theirs = _OnesStays(attendee, in_areas=True)
            _, left = _close_visits(theirs, by=by, station=station, source=source, now=now, recorded_at=recorded_at)
            _leave(left, event_id=attendee.event_id)
            also_written += left
        opened, written = _open_visits(
            attendee,
            by=by,
            station=station,
            source=source,
            now=now,
            recorded_at=recorded_at,
            area=area,
            capacity_override=admitted == OVERRIDDEN,
        )
        if not opened:
            raise AlreadyCheckedIn()
        # Their time inside the event changes only when they entered it just now.
        _keep_figures(
            attendee.event_id, written=[*also_written, *written], attendee_ids=[] if in_event else [attendee.pk]
        )
    return written[0]


def check_out(
    *,
    attendee: Attendee,
    by: User | None,
    station: str = "",
    source: str = Source.API,
    area: Area | None = None,
    at: datetime.datetime | None = None,
) -> Record:
    """Check `attendee` out now (or at `at`, the past time an offline door device kept),
    of the event or of one `area`; return the check-out record written.

    Leaving the event ends any stay in an area at the same instant; leaving an area
    keeps the attendee inside the event. Refused with `NotCheckedIn` if the attendee is
    not inside (in that area), or `AlreadyCheckedOut` if they have left the event. A
    conditional UPDATE, so of any number of concurrent check-outs exactly one succeeds.
    """
    mine = Visit.objects.filter(attendee=attendee)
    with transaction.atomic(savepoint=False):
        _lock_events([attendee.event_id])
        stamps = _stamps(at)
        # Out of the event: its stay and the one in an area, if any, which lies within it.
        stays = _OnesStays(attendee, area=area)
        _, written = _close_visits(stays, by=by, station=station, source=source, **stamps)
        left = next((record for record in written if record.area_id == (area and area.pk)), None)
        if left is not None:
            _leave(written, event_id=attendee.event_id)
            in_event = any(record.area_id is None for record in written)
            _keep_figures(attendee.event_id, written=written, attendee_ids=[attendee.pk] if in_event else [])
    if left is not None:
        return left
    if area is not None:
        raise NotCheckedIn(gettext("Not in %(area)s: cannot check out of it.") % {"area": area.name})
    if mine.standing().in_event().exists():
        raise AlreadyCheckedOut()
    raise NotCheckedIn()


def bulk_check_out(
    *,
    attendees: QuerySet[Attendee],
    by: User | None,
    station: str = "",
    source: str = Source.API,
    area: Area | None = None,
) -> BulkResult:
    """Check out every attendee of `attendees` who is inside (in `area`, when given);
    skip the others. Leaving the event ends their stays in areas too.

    A constant number of queries whatever the number of attendees: a count, an UPDATE
    of the stays and an INSERT of their records (for the event and for its areas), and
    the numbers inside.
    """
    with transaction.atomic():
        events = _lock_events(attendees.order_by().values("event_id"))
        selected = attendees.order_by().count()
        theirs = Visit.objects.filter(attendee__in=attendees.order_by().values("pk"))
        # Out of the event: the stays in it and those in areas, which lie within them.
        stays = theirs.filter(area=area) if area is not None else theirs
        _, written = _close_visits(stays, by=by, station=station, source=source, events=events)
        done = sum(1 for record in written if record.area_id == (area and area.pk))
        _leave(written)
        _keep_figures_of(written)
    return BulkResult(done=done, skipped=selected - done)


def bulk_check_in(
    *, attendees: QuerySet[Attendee], by: User | None, station: str = "", source: str = Source.API
) -> BulkResult:
    """Check in every attendee of `attendees` who is not inside; skip those who are.

    Refused with `CapacityReached`, checking in nobody, when they would take an event
    over its capacity. A constant number of queries whatever the number of attendees: a
    count, one INSERT of the stays, the start-time fix-up, one INSERT of their records
    and the numbers inside, so an attendee checked in concurrently by someone else is
    skipped rather than failing the batch.
    """
    with transaction.atomic():
        events = _lock_events(attendees.order_by().values("event_id"))
        selected = attendees.order_by().count()
        done, written = _open_visits(attendees, by=by, station=station, source=source, events=events)
        _enter(written)
        _keep_figures_of(written)
    return BulkResult(done=done, skipped=selected - done)


def recount(*, events: QuerySet[Event] | None = None) -> None:
    """Set the counts of `events` (all by default) from what they hold: the numbers inside
    of the events and their areas from their open stays, the events' attendees
    (`registered`) and those with a standing stay (`arrived`), and the kept figures
    (`PlaceMinute`, `TimeInside`) from all their stays. For attendees and stays
    written around the services, e.g. bulk-loaded from elsewhere."""
    events = Event.objects.all() if events is None else events
    open_stays = Visit.objects.standing().open().order_by()
    in_event = open_stays.in_event().filter(attendee__event=OuterRef("pk")).values("attendee__event")
    in_area = open_stays.filter(area=OuterRef("pk")).values("area")
    theirs = Attendee.objects.filter(event=OuterRef("pk")).order_by().values("event")
    came = theirs.filter(Exists(Visit.objects.filter(attendee=OuterRef("pk")).standing().in_event()))
    with transaction.atomic():
        events.update(
            inside=Coalesce(Subquery(in_event.annotate(n=Count("pk")).values("n")), 0),
            registered=Coalesce(Subquery(theirs.annotate(n=Count("pk")).values("n")), 0),
            arrived=Coalesce(Subquery(came.annotate(n=Count("pk")).values("n")), 0),
        )
        Area.objects.filter(event__in=events.values("pk")).update(
            inside=Coalesce(Subquery(in_area.annotate(n=Count("pk")).values("n")), 0)
        )
        # And the kept figures, from all their stays.
        PlaceMinute.objects.filter(event__in=events.values("pk")).delete()
        alias = router.db_for_write(PlaceMinute)
        _run(alias, *_place_minutes_sql(alias, Visit.objects.filter(attendee__event__in=events.values("pk"))))
        _run(alias, *_times_sql(alias, Attendee.objects.filter(event__in=events.values("pk"))))


# The figures kept as the stays are written: `PlaceMinute` and `TimeInside`.

MINUTE = datetime.timedelta(minutes=1)


def _keep_figures(
    event_id: int,
    *,
    written: Iterable[Record] = (),
    voided: Iterable[datetime.datetime] = (),
    rebuilt: Iterable[datetime.datetime] = (),
    attendee_ids: Collection[int] = (),
) -> None:
    """Bring the kept figures of the event `event_id` up to date after a write of its
    stays: the `PlaceMinute`s of the records `written`, of the minutes of `voided` (when
    stays no longer begin or end) and of `rebuilt` (any other change), and the
    `TimeInside` of the attendees `attendee_ids` (whose stays in the event changed).

    The caller holds the event's row (see `_lock_events`) and read the clock after
    taking it, so the door's records come in time order: each is added to its minutes
    where they stand (`_ADD_TO_MINUTES`, one prepared statement, the stays not read).
    A record earlier than the latest of its minute and place (a door device's scan
    synced late, a correction, another server's clock), a void and a bulk write
    rebuild the minutes from their stays instead, one statement a minute, which counts
    every earlier write of the event, committed before the row was handed on. The
    times inside are rebuilt from the attendees' stays."""
    alias = router.db_for_write(PlaceMinute)
    gone = {_minute_of(moment) for moment in voided}
    again = gone | {_minute_of(moment) for moment in rebuilt}
    added: dict[tuple[int, datetime.datetime], list[tuple[datetime.datetime, int]]] = collections.defaultdict(list)
    for record in written:
        step = 1 if record.type == Record.Type.CHECK_IN else -1
        added[record.area_id or PlaceMinute.EVENT, _minute_of(record.at)].append((record.at, step))
    rows = []
    for (key, minute), moves in sorted(added.items()):
        if minute in again or len({at for at, _ in moves}) > 1:
            again.add(minute)
            continue
        ins = sum(step > 0 for _, step in moves)
        outs = len(moves) - ins
        # At one instant check-outs come first: the highest point is at the end, or the first check-out.
        rise = max(ins - outs if ins else -1, -1 if outs else ins)
        rows.append((key, minute, ins, outs, rise, moves[0][0]))
    if rows:
        values = {"event": event_id}
        for n, (key, minute, ins, outs, rise, at) in enumerate(rows):
            values.update({f"key{n}": key, f"minute{n}": minute, f"ins{n}": ins, f"outs{n}": outs})
            values.update({f"rise{n}": rise, f"at{n}": at})
        if _ADD_TO_MINUTES[len(rows)].execute(alias, **values)[0] != len(rows):
            # One came before the latest of its minute: rebuilt below.
            again |= {minute for _, minute, *_ in rows}
    if gone:
        # A minute may have no stay left in a place: its row would stay as it was.
        PlaceMinute.objects.using(alias).filter(event_id=event_id, minute__in=sorted(gone)).delete()
    for minute in sorted(again):
        _KEEP_A_MINUTE.execute(alias, event=event_id, start=minute, end=minute + MINUTE)
    if len(attendee_ids) == 1:
        (attendee_id,) = attendee_ids
        _KEEP_A_TIME.execute(alias, attendee=attendee_id)
    elif attendee_ids:
        _run(alias, *_times_sql(alias, Attendee.objects.filter(pk__in=attendee_ids)))


def _minute_of(moment: datetime.datetime) -> datetime.datetime:
    return moment.replace(second=0, microsecond=0)


def _adding_to_minutes(alias: str, count: int) -> tuple[str, list]:
    """`INSERT ... VALUES ... ON CONFLICT DO UPDATE` adding `count` groups of records
    (each of one place, one minute and one instant, `at{n}`) to their `PlaceMinute`s:
    the check-ins and check-outs added, the rise raised to the number inside before
    them plus theirs. Only where the group comes after the latest of its minute (at the
    same instant, only check-ins: check-outs would come first); the row count tells
    how many were added."""
    name = connections[alias].ops.quote_name
    table = name(PlaceMinute._meta.db_table)
    fields = {field: PlaceMinute._meta.get_field(field) for field in PLACE_MINUTE_COLUMNS}
    columns = dict(zip(fields, _columns(alias, PlaceMinute, PLACE_MINUTE_COLUMNS), strict=True))
    params: list = []
    rows = []
    for n in range(count):
        names = ["event", f"key{n}", f"minute{n}", f"ins{n}", f"outs{n}", f"rise{n}", f"at{n}"]
        params += [
            Param(param, fields[field] if field != "event" else Event._meta.pk)
            for param, field in zip(names, fields, strict=True)
        ]
        rows.append(f"({', '.join(['%s'] * len(names))})")
    ins, outs, rise, last = (columns[field] for field in ("check_ins", "check_outs", "rise", "last_at"))
    raised = f"{table}.{ins} - {table}.{outs} + EXCLUDED.{rise}"
    sql = (
        f"INSERT INTO {table} ({', '.join(columns.values())}) VALUES {', '.join(rows)} "
        f"ON CONFLICT ({', '.join(_columns(alias, PlaceMinute, PLACE_MINUTE_KEY))}) DO UPDATE SET "
        f"{ins} = {table}.{ins} + EXCLUDED.{ins}, {outs} = {table}.{outs} + EXCLUDED.{outs}, "
        f"{rise} = CASE WHEN {raised} > {table}.{rise} THEN {raised} ELSE {table}.{rise} END, "
        f"{last} = EXCLUDED.{last} "
        f"WHERE {table}.{last} < EXCLUDED.{last} OR ({table}.{last} = EXCLUDED.{last} AND EXCLUDED.{outs} = 0)"
    )
    return sql, params


# One write adds to at most three places: the event, the area left and the area entered.
_ADD_TO_MINUTES = {
    count: Prepared(lambda alias, count=count: _adding_to_minutes(alias, count)) for count in range(1, 4)
}


def _keep_figures_of(written: list[Written]) -> None:
    """`_keep_figures` after a bulk write of the records `written`, of any events: one
    query for their events' minutes, a statement a minute, and one for the times inside
    of their attendees (when a stay in an event was written)."""
    if not written:
        return
    records = Record.objects.filter(pk__in=[record.id for record in written])
    minutes = (
        records.annotate(minute=TruncMinute("at", tzinfo=datetime.UTC))
        .order_by("attendee__event", "minute")
        .values_list("attendee__event", "minute")
        .distinct()
    )
    by_event = collections.defaultdict(list)
    for event_id, minute in minutes:
        by_event[event_id].append(minute)
    for event_id, rebuilt in by_event.items():
        _keep_figures(event_id, rebuilt=rebuilt)
    if any(record.area_id is None for record in written):
        alias = router.db_for_write(TimeInside)
        stays_in_events = records.filter(area__isnull=True).values("attendee")
        _run(alias, *_times_sql(alias, Attendee.objects.filter(pk__in=stays_in_events)))


def _place_minutes_sql(
    alias: str, visits: QuerySet[Visit], *, start: Expression | None = None, end: Expression | None = None
) -> tuple[str, list]:
    """The `INSERT ... SELECT ... ON CONFLICT DO UPDATE` that sets the `PlaceMinute`s of
    the standing stays of `visits` (only of the minutes from `start` to `end`, if given),
    in every place: each begun stay a +1 and each ended one a -1 in its minute; `rise`
    is the highest running total within the minute, in time order, check-outs first at
    the same instant, as the peak is counted."""
    sides = []
    for field, step in (("checked_in_at", 1), ("checked_out_at", -1)):
        side = visits.standing().filter(**{f"{field}__isnull": False})
        if start is not None:
            side = side.filter(**{f"{field}__gte": start, f"{field}__lt": end})
        sides.append(
            side.order_by()
            .annotate(
                place_event=F("attendee__event"),
                place=Coalesce("area", Value(PlaceMinute.EVENT), output_field=IntegerField()),
                place_minute=TruncMinute(field, tzinfo=datetime.UTC),
                moment=F(field),
                step=Value(step),
                stay=F("pk"),
            )
            .values_list("place_event", "place", "place_minute", "moment", "step", "stay")
        )
    union = sides[0].union(sides[1], all=True)
    select, params = union.query.get_compiler(using=alias).as_sql()
    name = connections[alias].ops.quote_name
    columns = ", ".join(_columns(alias, PlaceMinute, PLACE_MINUTE_COLUMNS))
    key = "place_event, place, place_minute"
    sql = (
        f"INSERT INTO {name(PlaceMinute._meta.db_table)} ({columns}) "
        f"SELECT {key}, SUM(CASE WHEN step > 0 THEN 1 ELSE 0 END), SUM(CASE WHEN step < 0 THEN 1 ELSE 0 END), "
        f"MAX(running), MAX(moment) FROM (SELECT {key}, step, moment, "
        f"SUM(step) OVER (PARTITION BY {key} ORDER BY moment, step, stay) AS running FROM ({select}) moves) counted "
        # WHERE: SQLite would read the ON of ON CONFLICT as a join's.
        f"WHERE 1 = 1 GROUP BY {key}"
        + _on_conflict_update(alias, PlaceMinute, PLACE_MINUTE_KEY, PLACE_MINUTE_COLUMNS[len(PLACE_MINUTE_KEY) :])
    )
    return sql, list(params)


PLACE_MINUTE_KEY = ["event", "area_key", "minute"]
PLACE_MINUTE_COLUMNS = [*PLACE_MINUTE_KEY, "check_ins", "check_outs", "rise", "last_at"]


def _columns(alias: str, model: type[Model], fields: list[str]) -> list[str]:
    """The quoted columns of `fields` of `model`."""
    name = connections[alias].ops.quote_name
    return [name(model._meta.get_field(field).column) for field in fields]


def _on_conflict_update(alias: str, model: type[Model], key: list[str], updated: list[str]) -> str:
    """`ON CONFLICT (key) DO UPDATE SET` each of `updated` to the value proposed for it."""
    sets = ", ".join(f"{column} = EXCLUDED.{column}" for column in _columns(alias, model, updated))
    return f" ON CONFLICT ({', '.join(_columns(alias, model, key))}) DO UPDATE SET {sets}"


def _times_sql(alias: str, attendees: QuerySet[Attendee]) -> tuple[str, list]:
    """The `INSERT ... SELECT ... ON CONFLICT DO UPDATE` that sets the `TimeInside` of
    each of `attendees` from their standing stays in the event."""
    stay = Q(visits__voided_at__isnull=True, visits__area__isnull=True)
    open_stay = stay & Q(visits__checked_out_at__isnull=True)
    closed_stay = stay & Q(visits__checked_out_at__isnull=False)
    rows = (
        attendees.order_by()
        .annotate(
            kept_stays=Count("visits", filter=stay),
            kept_open=Count("visits", filter=open_stay),
            kept_microseconds=Coalesce(
                Sum(Microseconds(F("visits__checked_out_at") - F("visits__checked_in_at")), filter=closed_stay), 0
            )
            - Coalesce(Max(Microseconds(F("visits__checked_in_at") - Value(TimeInside.EPOCH)), filter=open_stay), 0),
        )
        .values_list("pk", "event_id", "kept_stays", "kept_open", "kept_microseconds")
    )
    sql, params = _insert_sql(connections[alias], TimeInside, TIME_INSIDE_COLUMNS, rows, on_conflict_do_nothing=False)
    return sql + _on_conflict_update(alias, TimeInside, ["attendee"], TIME_INSIDE_COLUMNS[1:]), list(params)


TIME_INSIDE_COLUMNS = ["attendee", "event", "stays", "open_stays", "microseconds"]


def _run(alias: str, sql: str, params: list) -> None:
    with connections[alias].cursor() as cursor:
        cursor.execute(sql, params)


# Planned for its values: a generic plan joined every attendee of the event to find the minute's stays by their times.
_KEEP_A_MINUTE = Prepared(
    lambda alias: _place_minutes_sql(
        alias,
        Visit.objects.filter(attendee__event=Param("event", Event._meta.pk)),
        start=Param("start", _DATETIME),
        end=Param("end", _DATETIME),
    ),
    plan_each_run=True,
)
_KEEP_A_TIME = Prepared(
    lambda alias: _times_sql(alias, Attendee.objects.filter(pk=Param("attendee", Attendee._meta.pk)))
)


def _stamps(at: datetime.datetime | None) -> dict:
    """When it happened, and when it is written: both now, unless a device kept the time."""
    now = timezone.now()
    if at is None:
        return {"now": now, "recorded_at": None}
    return {"now": min(at, now), "recorded_at": now}


def _lock_events(event_ids) -> list[int]:
    """Lock the events' rows, in id order, for the rest of the transaction.

    Every write of stays takes its event's row first (a check-in by the conditional
    UPDATE of its count, the others by this lock), so writers of one event take turns
    there and never wait on each other in opposite orders further on. A no-op on SQLite,
    whose writers take turns for the whole database. Returns the events' ids.
    """
    if isinstance(event_ids, list) and len(event_ids) == 1:
        (event_id,) = event_ids
        return [row["pk"] for row in _LOCK_AN_EVENT.rows(router.db_for_write(Event), event=event_id)]
    return list(Event.objects.filter(pk__in=event_ids).order_by("pk").select_for_update().values_list("pk", flat=True))


_LOCK_AN_EVENT = PreparedQuery(
    lambda: Event.objects.filter(pk=Param("event", Event._meta.pk)).select_for_update().values_list("pk")
)


# What `_admit` answers: there was room, or there was none and the capacity was overridden.
ADMITTED = "admitted"
OVERRIDDEN = "overridden"


def _taking_a_place(place: type[Event] | type[Area], *, if_room: bool) -> Prepared:
    """One more inside the event or area `pk`: if there is room, or regardless."""

    def build(alias: str) -> tuple[str, list]:
        places = place.objects.filter(pk=Param("pk", place._meta.pk))
        if if_room:
            places = places.filter(Q(capacity__isnull=True) | Q(inside__lt=F("capacity")))
        return update_sql(places, alias, inside=F("inside") + 1)

    return Prepared(build)


_TAKE_A_PLACE = {
    (place, if_room): _taking_a_place(place, if_room=if_room) for place in (Event, Area) for if_room in (True, False)
}


def _admit(place: type[Event] | type[Area], pk: int, *, override: bool) -> str | None:
    """Take one place inside the event or area `pk`: one conditional UPDATE, so of
    concurrent check-ins exactly as many as there is room for get one. None when full
    (and not `override`n)."""
    alias = router.db_for_write(place)
    if _TAKE_A_PLACE[place, True].execute(alias, pk=pk)[0]:
        return ADMITTED
    if override and _TAKE_A_PLACE[place, False].execute(alias, pk=pk)[0]:
        return OVERRIDDEN
    return None


def _counting_an_arrival(alias: str) -> tuple[str, list]:
    attendee = Param("attendee", Attendee._meta.pk)
    earlier = Visit.objects.filter(attendee=attendee).standing().in_event().closed()
    arrived = Event.objects.filter(pk=Param("event", Event._meta.pk)).exclude(Exists(earlier))
    return update_sql(arrived, alias, arrived=F("arrived") + 1)


_COUNT_AN_ARRIVAL = Prepared(_counting_an_arrival)


def _count_arrival(attendee: Attendee) -> None:
    """Count `attendee`, just checked in to the event, as arrived, unless an earlier
    standing stay (a closed one: they are inside now) counted them already. A statement
    of its own, run with the event's row held: it sees every stay committed before,
    where the UPDATE that took the row, having waited for it, would still judge by what
    it saw when it began."""
    _COUNT_AN_ARRIVAL.execute(router.db_for_write(Event), attendee=attendee.pk, event=attendee.event_id)


def _release(place: type[Event] | type[Area], pk: int) -> None:
    """Hand back a place taken inside the event or area `pk`."""
    _LEAVE_A_PLACE[place].execute(router.db_for_write(place), pk=pk, count=1)


def _full_or_inside(attendee: Attendee, place: Event | Area) -> AttendanceError:
    """Why a place was refused: already inside it (a concurrent check-in took the last
    place for this very attendee), or full."""
    place = type(place).objects.get(pk=place.pk)
    stays = Visit.objects.filter(attendee=attendee).standing().open()
    stays = stays.filter(area=place) if isinstance(place, Area) else stays.in_event()
    if stays.exists():
        return AlreadyCheckedIn()
    return CapacityReached(
        gettext("%(place)s is full: %(inside)s inside, capacity %(capacity)s.")
        % {"place": place, "inside": place.inside, "capacity": place.capacity}
    )


def _enter(written: list[Written]) -> None:
    """Count the check-ins of `written` (of stays in events, from bulk check-ins) into
    their events (inside, and arrived for a first stay), each as one conditional UPDATE;
    refused with `CapacityReached` when an event would go over its capacity (the
    caller's transaction then undoes it all)."""
    if not written:
        return
    records = Record.objects.filter(pk__in=[record.id for record in written], area__isnull=True)
    arriving = Subquery(
        records.filter(attendee__event=OuterRef("pk"))
        .order_by()
        .values("attendee__event")
        .annotate(n=Count("pk"))
        .values("n")
    )
    # Attendees whose first standing stay this is have arrived for the first time.
    other_stays = (
        Visit.objects.filter(attendee=OuterRef("attendee")).standing().in_event().exclude(pk=OuterRef("visit"))
    )
    first_time = Subquery(
        records.filter(attendee__event=OuterRef("pk"))
        .exclude(Exists(other_stays))
        .order_by()
        .values("attendee__event")
        .annotate(n=Count("pk"))
        .values("n")
    )
    events = Event.objects.filter(pk__in=records.values("attendee__event"))
    expected = events.count()
    room = Q(capacity__isnull=True) | Q(capacity__gte=F("inside") + arriving)
    counts = {"inside": F("inside") + arriving, "arrived": F("arrived") + Coalesce(first_time, 0)}
    if events.filter(room).update(**counts) != expected:
        raise CapacityReached(
            gettext("Checking them all in would take the event over its capacity; nobody was checked in.")
        )


def _leave(written: list[Written] | list[Record], *, event_id: int | None = None) -> None:
    """Count the check-outs of `written` out of their events and areas: one UPDATE for
    the events and, if any stay was in an area, one for the areas; or, when the caller
    knows the one event they are all of (`event_id`), one UPDATE for each place left."""
    if not written:
        return
    if event_id is not None:
        left = collections.Counter(record.area_id for record in written)
        for area_id, count in sorted(left.items(), key=lambda item: item[0] or 0):
            place = Event if area_id is None else Area
            _LEAVE_A_PLACE[place].execute(router.db_for_write(place), pk=area_id or event_id, count=count)
        return
    records = Record.objects.filter(pk__in=[record.id for record in written])
    in_events = records.filter(area__isnull=True)
    leaving = Subquery(
        in_events.filter(attendee__event=OuterRef("pk"))
        .order_by()
        .values("attendee__event")
        .annotate(n=Count("pk"))
        .values("n")
    )
    if any(record.area_id is None for record in written):
        Event.objects.filter(pk__in=in_events.values("attendee__event")).update(inside=F("inside") - leaving)
    if any(record.area_id is not None for record in written):
        from_area = Subquery(
            records.filter(area=OuterRef("pk")).order_by().values("area").annotate(n=Count("pk")).values("n")
        )
        Area.objects.filter(pk__in=records.values("area")).update(inside=F("inside") - from_area)


_LEAVE_A_PLACE = {
    place: Prepared(
        lambda alias, place=place: update_sql(
            place.objects.filter(pk=Param("pk", place._meta.pk)),
            alias,
            inside=F("inside") - Param("count", IntegerField()),
        )
    )
    for place in (Event, Area)
}


def _open_visits(
    attendees: QuerySet[Attendee] | Attendee,
    *,
    by: User | None,
    station: str,
    source: str,
    now: datetime.datetime | None = None,
    recorded_at: datetime.datetime | None = None,
    area: Area | None = None,
    capacity_override: bool = False,
    whole: bool = False,
    events: list[int] | None = None,
) -> tuple[int, list[Written] | list[Record]]:
    """Open a stay (in the event, or in `area`) for each of `attendees` who has no open
    stay there, and its record; return how many, and the records written (`whole`
    records, or only their ids and areas; always whole for one `Attendee`). `events`: see
    `_stays_to_record`.

    One `INSERT ... SELECT ... ON CONFLICT DO NOTHING`: the SELECT skips those inside,
    and the conflict clause skips those a concurrent transaction is checking in (the
    one-open-stay constraints). A stay never starts before the previous one ended: the
    caller holds the event's row (see `_lock_events`), so every check-out of the event's
    stays has committed before this statement reads the last one. For one attendee, the
    same statements, prepared (see `_OPEN_ONE`).
    """
    now = now or timezone.now()
    values = _Values.given(
        now=now,
        recorded_at=recorded_at,
        by=by,
        station=station,
        source=source,
        capacity_override=capacity_override,
        area=area,
    )
    written = []
    with transaction.atomic(savepoint=False):
        if isinstance(attendees, Attendee):
            alias = router.db_for_write(Visit)
            one = values.of_one(attendees)
            opened = _OPEN_ONE[area is not None].execute(alias, **one)[0]
            if opened:
                written = _records_returned(_RECORD_ONE["opened", area is not None], alias, one, by=by)
        else:
            selected = attendees.order_by().values("pk")
            scope = _scope(in_area=area is not None)
            rows = _opening(Q(pk__in=selected), values, scope)
            opened = _insert_from(Visit, VISIT_COLUMNS, rows, on_conflict_do_nothing=True)
            if opened:
                theirs = _stays_to_record(Visit.objects.filter(attendee__in=selected), events)
                # Every stay opened here starts at `now` or later; older open stays have their record.
                rows = _recording(
                    Record.Type.CHECK_IN, theirs.filter(scope).open().filter(checked_in_at__gte=values.now), values
                )
                written = _insert_records(rows, by=by, whole=whole)
        _announce(signals.checked_in, [record.id for record in written])
    return opened, written


def _scope(*, in_area: bool) -> Q:
    """Stays in the event itself, or in its areas."""
    return Q(area__isnull=not in_area)


def _opening(chosen: Q, values: "_Values", scope: Q) -> QuerySet:
    """The stays to open (in `scope`) for the attendees `chosen` who have none open there:
    rows of `VISIT_COLUMNS`. A stay starts at `values.now`, or when the last one there
    ended, if later."""
    return (
        Attendee.objects.filter(chosen)
        .exclude(Exists(Visit.objects.filter(scope, attendee=OuterRef("pk")).standing().open()))
        .order_by()
        .annotate(
            stamp=Greatest(values.now, Coalesce(_last_check_out("pk", scope), values.now)),
            recorder=values.by,
            stay_area=values.area,
        )
        .values_list("pk", "stamp", "recorder", "stay_area")
    )


VISIT_COLUMNS = ["attendee", "checked_in_at", "checked_in_by", "area"]


def _close_visits(
    visits: "QuerySet[Visit] | _OnesStays",
    *,
    by: User | None,
    station: str,
    source: str,
    now: datetime.datetime | None = None,
    recorded_at: datetime.datetime | None = None,
    whole: bool = False,
    events: list[int] | None = None,
) -> tuple[int, list[Written] | list[Record]]:
    """Close the open stays among `visits` (or one attendee's, `_OnesStays`) now and record
    each check-out; return how many, and the records written (`whole` records, or only
    their ids and areas; always whole for one attendee). `events`: see `_stays_to_record`.

    A conditional UPDATE: of concurrent closings of one stay, the database lets one match it.
    """
    now = now or timezone.now()
    values = _Values.given(now=now, recorded_at=recorded_at, by=by, station=station, source=source)
    written = []
    with transaction.atomic(savepoint=False):
        if isinstance(visits, _OnesStays):
            alias = router.db_for_write(Visit)
            one = {**values.of_one(visits.attendee), "area": visits.area.pk if visits.area else None}
            closed = _CLOSE_ONE[visits.which].execute(alias, **one)[0]
            if closed:
                written = _records_returned(_RECORD_ONE["closed", visits.which], alias, one, by=by)
        else:
            closed = visits.standing().open().update(**_closing(values))
            if closed:
                # A stay closed here ends at `now` or later (see `_closing_time`); one closed
                # earlier or elsewhere already has its record, committed with it.
                rows = _recording(
                    Record.Type.CHECK_OUT,
                    _stays_to_record(visits, events).filter(checked_out_at__gte=values.now),
                    values,
                )
                written = _insert_records(rows, by=by, whole=whole)
        _announce(signals.checked_out, [record.id for record in written])
    return closed, written


def _closing(values: "_Values") -> dict:
    """What closing a stay sets."""
    return {"checked_out_at": _closing_time(values.now), "checked_out_by": values.by}


@dataclasses.dataclass(frozen=True)
class _OnesStays:
    """One attendee's stays to close: all of them (`which` "all"), those in `area`
    ("area"), or those in any area ("areas")."""

    attendee: Attendee
    area: Area | None = None
    in_areas: bool = False

    @property
    def which(self) -> str:
        return "area" if self.area is not None else "areas" if self.in_areas else "all"


def _stays_to_record(visits: QuerySet[Visit], events: list[int] | None) -> QuerySet[Visit]:
    """Where the stays just opened or closed among `visits` are to be found again, to
    record them: `visits` itself, or, when the caller holds the rows of `events` (so
    nobody else is writing their stays), every stay of those events. The latter for a
    selection that the write itself changes, such as attendees filtered by their state:
    found again through it, the stays would no longer be in it."""
    return visits if events is None else Visit.objects.filter(attendee__event__in=events)


def _recording(type: str, visits: QuerySet[Visit], values: "_Values") -> QuerySet:
    """A `type` record for each standing stay of `visits` that has none yet: rows of
    `RECORD_COLUMNS`, at the stay's check-in or check-out time."""
    standing_record = Record.objects.filter(visit=OuterRef("pk"), type=type).standing()
    at = "checked_in_at" if type == Record.Type.CHECK_IN else "checked_out_at"
    return (
        visits.standing()
        .exclude(Exists(standing_record))
        .order_by()
        .annotate(
            record_type=Value(type),
            recorded_at=values.recorded_at,
            recorder=values.by,
            record_station=values.station,
            record_source=values.source,
            no_reason=Value(""),
            override=values.capacity_override,
        )
        .values_list(
            "attendee_id",
            "pk",
            "area_id",
            "record_type",
            at,
            "recorded_at",
            "recorder",
            "record_station",
            "record_source",
            "override",
            "no_reason",
            "no_reason",
        )
    )


RECORD_COLUMNS = [
    "attendee",
    "visit",
    "area",
    "type",
    "at",
    "recorded_at",
    "recorded_by",
    "station",
    "source",
    "capacity_override",
    "reason",
    "void_reason",
]


def _insert_records(rows: QuerySet, *, by: User | None, whole: bool) -> list[Written] | list[Record]:
    """Insert the records of `rows` (see `_recording`) in one statement; return them:
    `whole`, as the database returned them, or only their ids and areas (for many at once)."""
    if whole:
        return _insert_returning_records(RECORD_COLUMNS, rows, by)
    return [Written(*row) for row in _insert_returning(Record, RECORD_COLUMNS, rows, ["id", "area"])]


@dataclasses.dataclass(frozen=True)
class _Values:
    """What the statements that open and close stays and record them write, as
    expressions: constants (`given`), or the `Param`s of the prepared statements for one
    attendee (`PARAMS`), which `of_one` fills in."""

    now: Expression
    recorded_at: Expression
    by: Expression
    station: Expression
    source: Expression
    capacity_override: Expression
    area: Expression
    raw: dict = dataclasses.field(default_factory=dict, compare=False)

    @classmethod
    def given(
        cls,
        *,
        now: datetime.datetime,
        recorded_at: datetime.datetime | None,
        by: User | None,
        station: str,
        source: str,
        capacity_override: bool = False,
        area: Area | None = None,
    ) -> "_Values":
        raw = {
            "now": now,
            "recorded_at": recorded_at or now,
            "by": by.pk if by else None,
            "station": station,
            "source": source,
            "capacity_override": capacity_override,
            "area": area.pk if area else None,
        }
        return cls(
            now=Value(now, output_field=_DATETIME),
            recorded_at=Value(raw["recorded_at"], output_field=_DATETIME),
            by=Value(raw["by"], output_field=_USER_ID),
            station=Value(station, output_field=_TEXT),
            source=Value(source, output_field=_TEXT),
            capacity_override=Value(capacity_override, output_field=_BOOLEAN),
            area=Value(raw["area"], output_field=_AREA_ID),
            raw=raw,
        )

    def of_one(self, attendee: Attendee) -> dict:
        """The values of the `PARAMS` for `attendee`."""
        return {**self.raw, "attendee": attendee.pk}


_DATETIME = DateTimeField()
_TEXT = CharField()
_BOOLEAN = BooleanField()
_USER_ID = Visit._meta.get_field("checked_in_by").target_field
_AREA_ID = Visit._meta.get_field("area").target_field
_ATTENDEE = Param("attendee", Attendee._meta.pk)
PARAMS = _Values(
    now=Param("now", _DATETIME),
    recorded_at=Param("recorded_at", _DATETIME),
    by=Param("by", _USER_ID),
    station=Param("station", _TEXT),
    source=Param("source", _TEXT),
    capacity_override=Param("capacity_override", _BOOLEAN),
    area=Param("area", _AREA_ID),
)


def _ones_stays(which: str) -> QuerySet[Visit]:
    """The stays of the attendee `_ATTENDEE` that `_OnesStays.which` names."""
    theirs = Visit.objects.filter(attendee=_ATTENDEE)
    if which == "area":
        return theirs.filter(area=PARAMS.area)
    if which == "areas":
        return theirs.in_areas()
    return theirs


def _prepared_insert(model: type[Model], fields: list[str], rows: Callable[[], QuerySet], **options) -> Prepared:
    """`INSERT INTO model (fields) SELECT ...` of `rows()`, prepared; with `returning`,
    it returns every column of the rows it writes (see `_as_records`)."""
    returning = options.pop("returning", False)

    def build(alias: str) -> tuple[str, list]:
        connection = connections[alias]
        sql, params = _insert_sql(connection, model, fields, rows(), **options)
        if returning:
            columns = ", ".join(connection.ops.quote_name(field.column) for field in model._meta.concrete_fields)
            sql = f"{sql} RETURNING {columns}"
        return sql, params

    return Prepared(build)


# One attendee's writes, the path of every scan and check-in: the statements of many
# attendees' (the same functions build them), with `Param`s for their values.
_OPEN_ONE = {
    in_area: _prepared_insert(
        Visit,
        VISIT_COLUMNS,
        lambda in_area=in_area: _opening(Q(pk=_ATTENDEE), PARAMS, _scope(in_area=in_area)),
        on_conflict_do_nothing=True,
    )
    for in_area in (False, True)
}
_CLOSE_ONE = {
    which: Prepared(
        lambda alias, which=which: update_sql(_ones_stays(which).standing().open(), alias, **_closing(PARAMS))
    )
    for which in ("all", "area", "areas")
}
_RECORD_ONE = {
    **{
        ("opened", in_area): _prepared_insert(
            Record,
            RECORD_COLUMNS,
            lambda in_area=in_area: _recording(
                Record.Type.CHECK_IN,
                Visit.objects.filter(_scope(in_area=in_area), attendee=_ATTENDEE)
                .open()
                .filter(checked_in_at__gte=PARAMS.now),
                PARAMS,
            ),
            on_conflict_do_nothing=False,
            returning=True,
        )
        for in_area in (False, True)
    },
    **{
        ("closed", which): _prepared_insert(
            Record,
            RECORD_COLUMNS,
            lambda which=which: _recording(
                Record.Type.CHECK_OUT, _ones_stays(which).filter(checked_out_at__gte=PARAMS.now), PARAMS
            ),
            on_conflict_do_nothing=False,
            returning=True,
        )
        for which in ("all", "area", "areas")
    },
}


def _records_returned(statement: Prepared, alias: str, values: dict, *, by: User | None) -> list[Record]:
    """Run a prepared INSERT of records that returns them; the records, as `Record`s."""
    return _as_records(statement.execute(alias, **values)[1], connections[alias], by)


def _announce(signal: Signal, record_ids: list[int]) -> None:
    """Send `signal` for each of the records once the transaction commits; never if it
    rolls back. Costs nothing when no receiver is connected."""
    if not record_ids or not signal.has_listeners(Record):
        return

    def send() -> None:
        for record in Record.objects.filter(pk__in=record_ids).select_related("attendee").order_by("at", "id"):
            signal.send(sender=Record, record=record, attendee=record.attendee)

    transaction.on_commit(send)


def _insert_from(model: type[Model], fields: list[str], rows: QuerySet, *, on_conflict_do_nothing: bool = False) -> int:
    """`INSERT INTO model (fields) SELECT ...`, the SELECT being the ORM's SQL of `rows`; return how many rows."""
    connection = _connection_for(model)
    sql, params = _insert_sql(connection, model, fields, rows, on_conflict_do_nothing=on_conflict_do_nothing)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def _insert_returning(model: type[Model], fields: list[str], rows: QuerySet, returning: list[str]) -> list[tuple]:
    """`INSERT INTO model (fields) SELECT ... RETURNING returning`: what the database wrote."""
    connection = _connection_for(model)
    sql, params = _insert_sql(connection, model, fields, rows, on_conflict_do_nothing=False)
    columns = ", ".join(connection.ops.quote_name(model._meta.get_field(name).column) for name in returning)
    with connection.cursor() as cursor:
        cursor.execute(f"{sql} RETURNING {columns}", params)
        return cursor.fetchall()


def _insert_returning_records(fields: list[str], rows: QuerySet, by: User | None) -> list[Record]:
    """`INSERT INTO record (fields) SELECT ... RETURNING` every column, as `Record`s (the
    values converted as the ORM converts them), with who recorded them at hand."""
    returned = _insert_returning(Record, fields, rows, [field.name for field in Record._meta.concrete_fields])
    return _as_records(returned, _connection_for(Record), by)


def _as_records(rows: list[tuple], connection, by: User | None) -> list[Record]:
    """Rows of every column of the record table as `Record`s, the values converted as the
    ORM converts them, with who recorded them at hand."""
    fields_returned = Record._meta.concrete_fields
    columns = [field.get_col(Record._meta.db_table) for field in fields_returned]
    converters = [connection.ops.get_db_converters(column) + column.get_db_converters(connection) for column in columns]
    records = []
    for row in rows:
        values = list(row)
        for index, column in enumerate(columns):
            for converter in converters[index]:
                values[index] = converter(values[index], column, connection)
        record = Record.from_db(connection.alias, [field.attname for field in fields_returned], values)
        if by is not None:
            record.recorded_by = by
        records.append(record)
    return records


def _connection_for(model: type[Model]):
    """The connection the project's database routers choose for writing `model`."""
    return connections[router.db_for_write(model)]


def _insert_sql(connection, model: type[Model], fields: list[str], rows: QuerySet, *, on_conflict_do_nothing: bool):
    # The ORM has no INSERT ... SELECT.
    select_sql, params = rows.query.get_compiler(connection=connection).as_sql()
    table = connection.ops.quote_name(model._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(model._meta.get_field(name).column) for name in fields)
    conflict = " ON CONFLICT DO NOTHING" if on_conflict_do_nothing else ""
    return f"INSERT INTO {table} ({columns}) {select_sql}{conflict}", params


def _last_check_out(attendee_ref: str, scope: Q) -> Subquery:
    """The latest check-out time, among stays of `scope`, of the attendee `OuterRef(attendee_ref)` points at."""
    visits = Visit.objects.filter(scope, attendee=OuterRef(attendee_ref)).standing().closed()
    return Subquery(visits.order_by("-checked_out_at").values("checked_out_at")[:1])


def void_record(*, record: Record, by: User | None, reason: str) -> Record:
    """Void `record`, keeping it in the history with who, when and why.

    Voiding a check-in voids its whole stay (its check-out with it), and for a stay in
    the event the stays in areas within it: they leave the state, the times and the
    figures. Voiding a check-out reopens its stay, so it must be the attendee's latest
    there: refused with `NotLatestRecord` once they have checked in again (or, for an
    area, when they are no longer inside the event). Refused with `AlreadyVoided` the
    second time. The stay is locked first, so a concurrent scan of the same attendee
    waits and then sees the outcome. The numbers inside follow.
    """
    now = timezone.now()
    with transaction.atomic():
        (event_id,) = _lock_events(Attendee.objects.filter(pk=record.attendee_id).values("event_id"))
        visit = Visit.objects.select_for_update().get(pk=record.visit_id)
        record = Record.objects.select_for_update().get(pk=record.pk)
        if record.voided_at is not None:
            raise AlreadyVoided()
        voided = {"voided_at": now, "voided_by": by, "void_reason": reason}
        theirs = Visit.objects.filter(attendee_id=visit.attendee_id).standing()
        if record.type == Record.Type.CHECK_IN:
            stays = Visit.objects.filter(pk=visit.pk)
            if visit.area_id is None:
                within = theirs.in_areas().filter(checked_in_at__gte=visit.checked_in_at)
                if visit.checked_out_at is not None:
                    within = within.filter(checked_in_at__lte=visit.checked_out_at)
                stays = Visit.objects.filter(Q(pk=visit.pk) | Q(pk__in=within.values("pk")))
            still_open = list(stays.standing().open().values_list("attendee__event_id", "area_id"))
            voided_ids = list(
                Record.objects.filter(visit__in=stays.values("pk")).standing().values_list("pk", flat=True)
            )
            Visit.objects.filter(pk__in=stays.values("pk")).update(voided_at=now)
            Record.objects.filter(pk__in=voided_ids).update(**voided)
            for _, area_id in still_open:
                if area_id is None:
                    _release(Event, event_id)
                else:
                    _release(Area, area_id)
            if visit.area_id is None:
                # No standing stay left: they never arrived after all.
                came_still = Exists(theirs.in_event())
                Event.objects.filter(pk=event_id).update(
                    arrived=F("arrived") - Case(When(came_still, then=0), default=1)
                )
        else:
            if visit.area_id is None:
                # Later in the stays' own order (`Meta.ordering`): two stays may start at the same instant.
                later = theirs.in_event().filter(
                    Q(checked_in_at__gt=visit.checked_in_at) | Q(checked_in_at=visit.checked_in_at, pk__gt=visit.pk)
                )
                blocked = later.exists()
            else:
                # A stay in an area reopens only while the attendee is inside the event and
                # has been in no area since.
                later = theirs.in_areas().exclude(pk=visit.pk).filter(checked_in_at__gte=visit.checked_out_at)
                # Reopening needs the very stay in the event it lay within to be still open.
                blocked = (
                    later.exists()
                    or not theirs.in_event().open().filter(checked_in_at__lte=visit.checked_in_at).exists()
                )
            if blocked:
                raise NotLatestRecord()
            try:
                with transaction.atomic():
                    Visit.objects.filter(pk=visit.pk).update(checked_out_at=None, checked_out_by=None)
            except IntegrityError:
                # A check-in committed since the check above: reopening would make two open stays.
                raise NotLatestRecord() from None
            Record.objects.filter(pk=record.pk).update(**voided)
            voided_ids = [record.pk]
            # Back inside: counted again, whatever the capacity (a correction tells what happened).
            if visit.area_id is None:
                Event.objects.filter(attendees__pk=visit.attendee_id).update(inside=F("inside") + 1)
            else:
                Area.objects.filter(pk=visit.area_id).update(inside=F("inside") + 1)
        moments = Record.objects.filter(pk__in=voided_ids).values_list("at", flat=True)
        _keep_figures(event_id, voided=list(moments), attendee_ids=[visit.attendee_id])
        _announce(signals.record_voided, voided_ids)
        record.refresh_from_db()
    return record


def correct_check_out(*, attendee: Attendee, at: datetime.datetime, by: User | None, reason: str) -> Record:
    """Record a missed check-out of the attendee inside, at the past time `at`; their
    stay in an area, if any, ends then too.

    Refused with `TimeInTheFuture` for a time after now, `CheckOutBeforeCheckIn` for a
    time before the open stay's check-in (or their area's), and
    `NotCheckedIn`/`AlreadyCheckedOut` when the attendee is not inside. The open stay is
    locked, so a concurrent check-out of the same attendee either comes first (and this
    is refused) or waits and is refused.
    """
    now = timezone.now()
    if at > now:
        raise TimeInTheFuture()
    theirs = Visit.objects.filter(attendee=attendee).standing()
    with transaction.atomic():
        _lock_events([attendee.event_id])
        visit = theirs.in_event().open().select_for_update().first()
        if visit is None:
            if theirs.in_event().exists():
                raise AlreadyCheckedOut()
            raise NotCheckedIn()
        in_area = theirs.in_areas().open().select_related("area").first()
        for stay in (visit, in_area):
            if stay is not None and at < stay.checked_in_at:
                checked_in = stay.checked_in_at.isoformat().replace("+00:00", "Z")
                if stay.area is None:
                    message = gettext("A check-out cannot be earlier than the check-in it ends (%(time)s).")
                else:
                    message = gettext("A check-out cannot be earlier than the attendee entered %(area)s (%(time)s).")
                raise CheckOutBeforeCheckIn(message % {"area": stay.area, "time": checked_in})
        records = []
        for stay in (visit, in_area):
            if stay is None:
                continue
            Visit.objects.filter(pk=stay.pk).update(checked_out_at=at, checked_out_by=by)
            records.append(
                Record.objects.create(
                    attendee=attendee,
                    visit=stay,
                    area=stay.area,
                    type=Record.Type.CHECK_OUT,
                    at=at,
                    recorded_at=now,
                    recorded_by=by,
                    source=Source.CORRECTION,
                    reason=reason,
                )
            )
        _leave(records, event_id=attendee.event_id)
        _keep_figures(attendee.event_id, written=records, attendee_ids=[attendee.pk])
        _announce(signals.checked_out, [record.pk for record in records])
    return records[0]


UNDO_REASON = "undone at the door"

Direction = RefusedScan.Direction


@dataclasses.dataclass(frozen=True)
class Scan:
    """A recorded scan: the attendee scanned and the record it wrote."""

    attendee: Attendee
    record: Record
    direction: str


class ScanRefused(Exception):
    """A scan the rules refused, kept as a `RefusedScan`: `error` says why, `attendee`
    is whose ticket it was (None for an unknown code)."""

    def __init__(self, error: AttendanceError, attendee: Attendee | None):
        super().__init__(error.detail)
        self.error = error
        self.attendee = attendee


def scan_ticket(
    *,
    by: User | None,
    ticket_code: str | None = None,
    attendee_id: int | None = None,
    direction: str = Direction.AUTO,
    event_id: int | None = None,
    area: Area | None = None,
    station: str = "",
    override_capacity: bool = False,
    at: datetime.datetime | None = None,
) -> Scan:
    """Check in or out the attendee holding `ticket_code` (or, from a door device's list,
    the attendee `attendee_id`), of the event or of `area`, by the rules of `check_in`
    and `check_out`, recorded as source `scan`.

    `direction` "auto" checks in unless the attendee is inside (in `area`), else out;
    within `ATTENDEES["SCAN_SETTLE_SECONDS"]` of their latest record there it goes that
    record's way, so a double read is refused rather than reversing it. `event_id` is the
    event the door scans for (`UnknownEvent` when no event has it). A scan made offline
    carries `at`, the device's time (a later one counts as now): it is recorded as source
    `offline` at that time, refused `TooOld` when older than
    `ATTENDEES["OFFLINE_SCAN_MAX_AGE_DAYS"]` and `OutOfOrder` when earlier than the attendee's latest
    standing record; these time rules come before the attendance rules. Refused with
    `ScanRefused` (carrying `UnknownTicket`, `WrongEvent`, a time rule's or the
    attendance rule's error), and the refusal is kept as a `RefusedScan`.
    """
    now = timezone.now()
    happened = now if at is None else min(at, now)
    offline = at is not None
    attendee = None
    scanned_for = None
    resolved = direction
    try:
        if offline and now - happened > datetime.timedelta(days=app_settings.OFFLINE_SCAN_MAX_AGE_DAYS):
            raise TooOld()
        attendee = selectors.attendee_for_scan(
            ticket_code=ticket_code,
            attendee_id=attendee_id,
            area=area,
            auto=direction == Direction.AUTO,
            offline=offline,
        )
        if attendee is None:
            raise UnknownTicket() if ticket_code is not None else UnknownAttendee()
        if offline and attendee.last_record_at is not None and happened < attendee.last_record_at:
            raise OutOfOrder()
        if direction == Direction.AUTO:
            resolved = _auto_direction(attendee, happened, area)
        scanned_for = _event_scanned_for(event_id, attendee)
        for door_event in (scanned_for, area and area.event):
            if door_event is not None and attendee.event_id != door_event.pk:
                raise WrongEvent(
                    gettext("This ticket is for %(ticket_event)s, not %(event)s.")
                    % {"ticket_event": attendee.event.name, "event": door_event.name}
                )
        source = Source.OFFLINE if offline else Source.SCAN
        if resolved == Direction.IN:
            record = check_in(
                attendee=attendee,
                by=by,
                station=station,
                source=source,
                area=area,
                override_capacity=override_capacity,
                at=at,
            )
        else:
            record = check_out(attendee=attendee, by=by, station=station, source=source, area=area, at=at)
    except AttendanceError as error:
        if attendee is not None and not isinstance(error, WrongEvent | CapacityReached | TooOld | OutOfOrder):
            error = _explained(error, attendee, area)
        if scanned_for is None:
            scanned_for = _event_scanned_for(event_id, attendee)
        refused = RefusedScan.objects.create(
            at=happened,
            recorded_at=now,
            ticket_code=ticket_code or "",
            event=scanned_for or (area and area.event) or getattr(attendee, "event", None),
            attendee=attendee,
            area=area,
            direction=resolved,
            station=station,
            reason=error.code,
            recorded_by=by,
            offline=offline,
        )
        if signals.scan_refused.has_listeners(RefusedScan):
            transaction.on_commit(
                lambda: signals.scan_refused.send(sender=RefusedScan, record=refused, attendee=attendee)
            )
        raise ScanRefused(error, attendee) from None
    return Scan(attendee=attendee, record=record, direction=resolved)


class UnknownEvent(Exception):
    """A scan for an event id that no event has: bad input, not a refusal to keep."""

    def __init__(self, event_id: int):
        super().__init__(event_id)
        self.event_id = event_id


def _event_scanned_for(event_id: int | None, attendee: Attendee | None) -> Event | None:
    """The event of `event_id` when it is another than the attendee's (read now;
    `UnknownEvent` when no event has that id). None when none was sent or it is the
    attendee's own: nothing to check, so a scan that goes through reads no event."""
    if event_id is None or (attendee is not None and attendee.event_id == event_id):
        return None
    event = Event.objects.filter(pk=event_id).first()
    if event is None:
        raise UnknownEvent(event_id)
    return event


@dataclasses.dataclass(frozen=True)
class OfflineScanRequest:
    """One scan a door device made offline, as it sends it: `nonce` is the device's id
    for the scan; `invalid` says what was wrong with it, if anything (it is then refused
    alone)."""

    nonce: str
    at: datetime.datetime
    ticket_code: str | None = None
    attendee_id: int | None = None
    direction: str = Direction.AUTO
    event: Event | None = None
    area: Area | None = None
    station: str = ""
    invalid: dict | None = None


@dataclasses.dataclass(frozen=True)
class OfflineScanOutcome:
    nonce: str
    recorded: bool
    code: str | None = None
    record_id: int | None = None
    duplicate: bool = False
    errors: dict | None = None


def apply_offline_scans(*, scans: list[OfflineScanRequest], by: User) -> list[OfflineScanOutcome]:
    """Apply the scans a door device made offline, one by one in the order sent, each
    by `scan_ticket` with the device's time, and each in its own transaction: one refused
    scan never undoes another. Idempotent per user and nonce: a nonce seen before gets
    its first outcome again, marked `duplicate`, and records nothing.

    The nonces already kept are read once for the batch. A scan's nonce is kept with its
    outcome in the scan's own transaction, so it is kept exactly when the scan is. The
    same scan sent twice at once is applied by both; the second waits at the nonce's row
    (the database's unique constraint) until the first commits, then rolls back what it
    did and answers with the first's outcome.
    """
    kept = dict(
        OfflineScan.objects.filter(user=by, nonce__in={scan.nonce for scan in scans}).values_list("nonce", "result")
    )
    outcomes = []
    for scan in scans:
        first = kept.get(scan.nonce)
        if first is None:
            with transaction.atomic():
                outcome = _apply_offline_scan(scan, by)
                result = json.dumps(
                    {
                        "recorded": outcome.recorded,
                        "code": outcome.code,
                        "record_id": outcome.record_id,
                        "errors": outcome.errors,
                    }
                )
                if _keep_nonce(by, scan.nonce, result):
                    kept[scan.nonce] = result
                    outcomes.append(outcome)
                    continue
                # Kept meanwhile by the same scan sent at the same time: its outcome stands.
                transaction.set_rollback(True)
            first = OfflineScan.objects.filter(user=by, nonce=scan.nonce).values_list("result", flat=True).get()
            kept[scan.nonce] = first
        outcomes.append(OfflineScanOutcome(nonce=scan.nonce, duplicate=True, **json.loads(first)))
    return outcomes


def _keep_nonce(by: User, nonce: str, result: str) -> bool:
    """Write the row of `by`'s scan `nonce` with its `result`, unless one exists: one
    `INSERT ... ON CONFLICT DO NOTHING`, which waits for a concurrent transaction writing
    the same row and then skips it. True when this call wrote it."""
    connection = _connection_for(OfflineScan)
    table = connection.ops.quote_name(OfflineScan._meta.db_table)
    fields = ["user", "nonce", "result", "created_at"]
    columns = ", ".join(connection.ops.quote_name(OfflineScan._meta.get_field(name).column) for name in fields)
    values = [by.pk, nonce, result, connection.ops.adapt_datetimefield_value(timezone.now())]
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {table} ({columns}) VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING", values)
        return cursor.rowcount == 1


def _apply_offline_scan(scan: OfflineScanRequest, by: User) -> OfflineScanOutcome:
    if scan.invalid is not None:
        return OfflineScanOutcome(nonce=scan.nonce, recorded=False, code="invalid", errors=scan.invalid)
    try:
        done = scan_ticket(
            by=by,
            ticket_code=scan.ticket_code,
            attendee_id=scan.attendee_id,
            direction=scan.direction,
            event_id=scan.event.pk if scan.event else None,
            area=scan.area,
            station=scan.station,
            at=scan.at,
        )
    except ScanRefused as refused:
        return OfflineScanOutcome(nonce=scan.nonce, recorded=False, code=refused.error.code)
    return OfflineScanOutcome(nonce=scan.nonce, recorded=True, record_id=done.record.pk)


def _auto_direction(attendee: Attendee, now: datetime.datetime, area: Area | None) -> str:
    """In unless inside (in `area`), else out; but within the settle time of the latest
    record there, that record's way again, so a double read never reverses it."""
    inside = attendee.latest_stay_in is not None and attendee.latest_stay_out is None
    latest_at = attendee.latest_stay_in if inside else attendee.latest_stay_out
    if latest_at is not None and now - latest_at < datetime.timedelta(seconds=app_settings.SCAN_SETTLE_SECONDS):
        return Direction.IN if inside else Direction.OUT
    return Direction.OUT if inside else Direction.IN


def _explained(error: AttendanceError, attendee: Attendee, area: Area | None) -> AttendanceError:
    """The refusal in the words door staff need: since when and where, from the record
    the attendee's state follows now (read again: a concurrent scan may have written it)."""
    latest = selectors.latest_standing_record(attendee, area=area)
    if latest is None or (area is not None and latest.type == Record.Type.CHECK_OUT):
        if area is not None:
            return NotCheckedIn(gettext("Not in %(area)s, so cannot leave it.") % {"area": area.name})
        return NotCheckedIn(gettext("Not checked in yet: has not arrived, so cannot check out."))
    where = {
        "time": _door_time(latest.at, attendee.event.zone),
        "station": latest.station,
        "area": area.name if area is not None else "",
    }
    if isinstance(error, AlreadyCheckedIn):
        if area is None:
            if latest.station:
                return AlreadyCheckedIn(gettext("Already inside since %(time)s, %(station)s.") % where)
            return AlreadyCheckedIn(gettext("Already inside since %(time)s.") % where)
        if latest.station:
            return AlreadyCheckedIn(gettext("Already in %(area)s since %(time)s, %(station)s.") % where)
        return AlreadyCheckedIn(gettext("Already in %(area)s since %(time)s.") % where)
    if isinstance(error, AlreadyCheckedOut):
        if latest.station:
            return AlreadyCheckedOut(gettext("Already left at %(time)s, %(station)s.") % where)
        return AlreadyCheckedOut(gettext("Already left at %(time)s.") % where)
    return error


def _door_time(moment: datetime.datetime, zone: datetime.tzinfo) -> str:
    """A time as door staff read it: the event's local time with its zone's name, and
    the day when it is not today."""
    local = moment.astimezone(zone)
    name = local.tzname() or ""
    if local.date() == timezone.now().astimezone(zone).date():
        return f"{local:%H:%M} {name}".strip()
    # The month's name in the active language.
    return f"{dateformat.format(local, 'j M H:i')} {name}".strip()


def undo_record(*, record: Record, by: User) -> Record:
    """Take back a check-in or check-out the user `by` recorded themselves within
    `ATTENDEES["UNDO_SECONDS"]` (a mistaken scan at the door), by voiding it as a correction would.

    Refused with `NotYourRecord` for someone else's record, `UndoExpired` after
    that time, `NotLatestRecord` when anything was recorded for the attendee since,
    and `AlreadyVoided`.
    """
    if record.recorded_by_id is None or record.recorded_by_id != by.pk:
        raise NotYourRecord()
    if timezone.now() - record.recorded_at > datetime.timedelta(seconds=app_settings.UNDO_SECONDS):
        raise UndoExpired()
    if record.voided_at is not None:
        raise AlreadyVoided()
    with transaction.atomic():
        latest = selectors.latest_standing_record(record.attendee)
        if latest is not None and latest.pk != record.pk:
            raise NotLatestRecord(
                gettext("Something was recorded for this attendee since; ask for a correction instead.")
            )
        return void_record(record=record, by=by, reason=UNDO_REASON)


@dataclasses.dataclass(frozen=True)
class DueCheckOut:
    event: Event
    result: BulkResult
    next_at: datetime.datetime | None


def check_out_due(*, now: datetime.datetime | None = None) -> list[DueCheckOut]:
    """Check out everyone inside of every event whose `auto_checkout_at` has come (source
    `auto`), then move that time on by whole days past now while the event lasts, or
    clear it once it would pass the event's end.

    Each due time is claimed by one conditional UPDATE in the same transaction as the
    check-out, so cron running this twice, even at once, checks out each event once.
    """
    now = now or timezone.now()
    done = []
    for event in selectors.events_due_for_check_out(now):
        due = event.auto_checkout_at
        next_at = due + datetime.timedelta(days=(now - due).days + 1)
        if event.ends_at is not None and next_at > event.ends_at:
            next_at = None
        with transaction.atomic():
            if not Event.objects.filter(pk=event.pk, auto_checkout_at=due).update(auto_checkout_at=next_at):
                continue
            result = bulk_check_out(attendees=event.attendees.all(), by=None, source=Source.AUTO)
        done.append(DueCheckOut(event=event, result=result, next_at=next_at))
    return done


def save_attendee(
    *, attendee: Attendee, changes: dict[str, Any], record: str | None = None, by: User | None, station: str = ""
) -> Attendee:
    """Create or update the attendee with `changes` and, if `record` is "check_in" or
    "check_out", record that too: all or nothing, so a refused check-in or check-out
    leaves the attendee as it was (and a new one unsaved).
    """
    if "event" in changes:
        check_move(attendee=attendee, event=changes["event"])
    with transaction.atomic():
        for name, value in changes.items():
            setattr(attendee, name, value)
        if attendee._state.adding:
            attendee.save()
        elif changes:
            attendee.save(update_fields=list(changes))
        if record == "check_in":
            check_in(attendee=attendee, by=by, station=station)
        elif record == "check_out":
            check_out(attendee=attendee, by=by, station=station)
    return attendee


def check_move(*, attendee: Attendee, event: Event) -> None:
    """An attendee with attendance history stays in their event, whose counts and areas
    their stays belong to: moving them to another is refused with `HasHistory`."""
    stored = getattr(attendee, "stored_event_id", None)
    if attendee.pk is None or stored is None or stored == event.pk:
        return
    if Record.objects.filter(attendee=attendee).exists():
        raise HasHistory(gettext("Cannot move to another event: the attendance history stays with its event."))


def count_registered(sender, instance: Attendee, created: bool, raw: bool = False, **kwargs) -> None:
    """Count a new attendee into their event's `registered`, and a moved one out of the
    old event and into the new (connected to `post_save` of `Attendee`, so every way of
    saving one counts, the admin's, an import's and a project's own included)."""
    stored = getattr(instance, "stored_event_id", None)
    instance.stored_event_id = instance.event_id
    if raw or (not created and stored in (None, instance.event_id)):
        return
    if not created:
        Event.objects.filter(pk=stored).update(registered=F("registered") - 1)
    Event.objects.filter(pk=instance.event_id).update(registered=F("registered") + 1)


def uncount_registered(sender, instance: Attendee, origin=None, **kwargs) -> None:
    """Count a deleted attendee out of their event's `registered` (connected to
    `post_delete` of `Attendee`); not when their event is being deleted with them."""
    if isinstance(origin, Event) or (isinstance(origin, QuerySet) and origin.model is Event):
        return
    Event.objects.filter(pk=instance.event_id).update(registered=F("registered") - 1)


class UnreachableState(Exception):
    """A state asked for that no single check-in or check-out reaches from the attendee's state."""


def change_for_state(*, attendee: Attendee, inside: bool | None, left: bool | None) -> str | None:
    """What to record so that `attendee` is in the state asked for, as a full update
    (PUT) describes it with the two flags: nothing for the state they are in now,
    "check_out" for "left" while inside, "check_in" for "inside" while not inside. A flag
    not given keeps its value. Refused with `UnreachableState` for any other state."""
    state = selectors.attendees_with_state(Attendee.objects.filter(pk=attendee.pk)).values_list(
        "is_checked_in", "is_checked_out"
    )[0]
    asked = (state[0] if inside is None else inside, state[1] if left is None else left)
    if asked == state:
        return None
    if asked == (False, True) and state[0]:
        return "check_out"
    if asked == (True, False) and not state[0]:
        return "check_in"
    raise UnreachableState()


def delete_attendee(*, attendee: Attendee) -> None:
    """Delete an attendee who has no attendance history; refused with `HasHistory` otherwise."""
    _delete_keeping_history(attendee)


def delete_area(*, area: Area) -> None:
    """Delete an area nobody has been in; refused with `HasHistory` otherwise."""
    _delete_keeping_history(area)


def delete_event(*, event: Event) -> None:
    """Delete an event and its attendees, refused with `HasHistory` if any of them has a history."""
    _delete_keeping_history(event)


def _delete_keeping_history(instance: Area | Attendee | Event) -> None:
    try:
        with transaction.atomic():
            instance.delete()
    except ProtectedError:
        raise HasHistory() from None
