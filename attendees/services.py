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

import dataclasses
import datetime
import json
from collections.abc import Callable
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, F, Model, OuterRef, ProtectedError, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce, Greatest
from django.dispatch import Signal
from django.utils import timezone

from . import selectors, signals
from .exceptions import (
    AlreadyCheckedIn,
    AlreadyCheckedOut,
    AlreadyVoided,
    AttendanceError,
    CheckOutBeforeCheckIn,
    HasHistory,
    IdempotencyKeyReused,
    NotCheckedIn,
    NotLatestRecord,
    NotYourRecord,
    TimeInTheFuture,
    UndoExpired,
    UnknownTicket,
    WrongEvent,
)
from .models import Attendee, Event, IdempotentRequest, Record, RefusedScan, Visit

User = AbstractBaseUser
Source = Record.Source


@dataclasses.dataclass(frozen=True)
class BulkResult:
    done: int
    skipped: int


def _closing_time(now):
    # A check-out is never stamped before its check-in, even if app servers' clocks
    # drift apart; the database's check constraint relies on it.
    return Greatest(Value(now), F("checked_in_at"))


def check_in(*, attendee: Attendee, by: User | None, station: str = "", source: str = Source.API) -> int:
    """Open a visit for `attendee` now; return the id of its check-in record.

    Refused with `AlreadyCheckedIn` while the attendee is inside; re-entry after a
    check-out is allowed. One INSERT that yields to any open visit, including one a
    concurrent request is inserting, so of simultaneous check-ins exactly one succeeds.
    """
    opened, record_ids = _open_visits(Attendee.objects.filter(pk=attendee.pk), by=by, station=station, source=source)
    if not opened:
        raise AlreadyCheckedIn()
    return record_ids[0]


def check_out(*, attendee: Attendee, by: User | None, station: str = "", source: str = Source.API) -> int:
    """Close the attendee's open visit now; return the id of its check-out record.

    Refused with `NotCheckedIn` if the attendee never checked in, and with
    `AlreadyCheckedOut` if they have left. A single conditional UPDATE, so of any
    number of concurrent check-outs exactly one succeeds.
    """
    closed, record_ids = _close_visits(Visit.objects.filter(attendee=attendee), by=by, station=station, source=source)
    if closed:
        return record_ids[0]
    if _standing(Visit.objects.filter(attendee=attendee)).exists():
        raise AlreadyCheckedOut()
    raise NotCheckedIn()


def bulk_check_out(
    *, attendees: QuerySet[Attendee], by: User | None, station: str = "", source: str = Source.API
) -> BulkResult:
    """Check out every attendee of `attendees` who is inside; skip the others.

    Three queries whatever the number of attendees: a count, one UPDATE of the visits
    and one INSERT of their records.
    """
    with transaction.atomic():
        selected = attendees.order_by().count()
        visits = Visit.objects.filter(attendee__in=attendees.order_by().values("pk"))
        done, _ = _close_visits(visits, by=by, station=station, source=source)
    return BulkResult(done=done, skipped=selected - done)


def bulk_check_in(
    *, attendees: QuerySet[Attendee], by: User | None, station: str = "", source: str = Source.API
) -> BulkResult:
    """Check in every attendee of `attendees` who is not inside; skip those who are.

    A constant number of queries whatever the number of attendees: a count, one INSERT
    of the visits, the start-time fix-up and one INSERT of their records, so an attendee
    checked in concurrently by someone else is skipped rather than failing the batch.
    """
    with transaction.atomic():
        selected = attendees.order_by().count()
        done, _ = _open_visits(attendees, by=by, station=station, source=source)
    return BulkResult(done=done, skipped=selected - done)


def _standing(visits: QuerySet[Visit]) -> QuerySet[Visit]:
    """The visits whose check-in has not been voided."""
    return visits.filter(voided_at__isnull=True)


def _open_visits(attendees: QuerySet[Attendee], *, by: User | None, station: str, source: str) -> tuple[int, list[int]]:
    """Insert a visit for each of `attendees` who is not inside, and its record; return how
    many, and the ids of the records.

    One `INSERT ... SELECT ... ON CONFLICT DO NOTHING`: the SELECT skips those inside,
    and the conflict clause skips those a concurrent transaction is checking in (the
    one-open-visit constraint).
    """
    selected = attendees.order_by().values("pk")
    now = timezone.now()
    rows = (
        Attendee.objects.filter(pk__in=selected)
        .exclude(Exists(_standing(Visit.objects.filter(attendee=OuterRef("pk"), checked_out_at__isnull=True))))
        .order_by()
        .annotate(stamp=Greatest(Value(now), Coalesce(_last_check_out("pk"), Value(now))), recorder=_user_value(by))
        .values_list("pk", "stamp", "recorder")
    )
    record_ids = []
    with transaction.atomic(savepoint=False):
        opened = _insert_from(Visit, ["attendee", "checked_in_at", "checked_in_by"], rows, on_conflict_do_nothing=True)
        if opened:
            # The INSERT read the last check-out from its snapshot, taken before it
            # waited on the constraint: a check-out committed meanwhile (with a later
            # time) was not in it. Read again, now that it is committed, so a visit
            # never starts before the previous one ended.
            last_out = _last_check_out("attendee")
            _standing(Visit.objects.filter(attendee__in=selected, checked_out_at__isnull=True)).filter(
                checked_in_at__lt=last_out
            ).update(checked_in_at=last_out)
            # Every visit opened here starts at `now` or later; older open visits have their record.
            opened_now = Visit.objects.filter(
                attendee__in=selected, checked_out_at__isnull=True, checked_in_at__gte=now
            )
            record_ids = _record(
                Record.Type.CHECK_IN, opened_now, at="checked_in_at", now=now, by=by, station=station, source=source
            )
    return opened, record_ids


def _close_visits(visits: QuerySet[Visit], *, by: User | None, station: str, source: str) -> tuple[int, list[int]]:
    """Close the open visits among `visits` now and record each check-out; return how many,
    and the ids of the records.

    A conditional UPDATE: of concurrent closings of one visit, the database lets one match it.
    """
    now = timezone.now()
    record_ids = []
    with transaction.atomic(savepoint=False):
        closed = _standing(visits.filter(checked_out_at__isnull=True)).update(
            checked_out_at=_closing_time(now), checked_out_by=by
        )
        if closed:
            # A visit closed here ends at `now` or later (see `_closing_time`); one closed
            # earlier or elsewhere already has its record, committed with it.
            closed_now = visits.filter(checked_out_at__gte=now)
            record_ids = _record(
                Record.Type.CHECK_OUT, closed_now, at="checked_out_at", now=now, by=by, station=station, source=source
            )
    return closed, record_ids


def _record(
    type: str, visits: QuerySet[Visit], *, at: str, now: datetime.datetime, by: User | None, station: str, source: str
) -> list[int]:
    """Insert a `type` record for each standing visit of `visits` that has none yet, in one
    statement; return the new records' ids."""
    standing_record = Record.objects.filter(visit=OuterRef("pk"), type=type, voided_at__isnull=True)
    rows = (
        _standing(visits)
        .exclude(Exists(standing_record))
        .order_by()
        .annotate(
            record_type=Value(type),
            recorded_at=Value(now),
            recorder=_user_value(by),
            record_station=Value(station),
            record_source=Value(source),
            no_reason=Value(""),
        )
        .values_list(
            "attendee_id",
            "pk",
            "record_type",
            at,
            "recorded_at",
            "recorder",
            "record_station",
            "record_source",
            "no_reason",
            "no_reason",
        )
    )
    columns = [
        "attendee",
        "visit",
        "type",
        "at",
        "recorded_at",
        "recorded_by",
        "station",
        "source",
        "reason",
        "void_reason",
    ]
    record_ids = _insert_returning_ids(Record, columns, rows)
    _announce(signals.checked_in if type == Record.Type.CHECK_IN else signals.checked_out, record_ids)
    return record_ids


def _announce(signal: Signal, record_ids: list[int]) -> None:
    """Send `signal` for each of the records once the transaction commits; never if it
    rolls back. Costs nothing when no receiver is connected."""
    if not record_ids or not signal.has_listeners(Record):
        return

    def send() -> None:
        for record in Record.objects.filter(pk__in=record_ids).select_related("attendee").order_by("at", "id"):
            signal.send(sender=Record, record=record, attendee=record.attendee)

    transaction.on_commit(send)


def _user_value(by: User | None) -> Value:
    return Value(by.pk if by else None, output_field=Visit._meta.get_field("checked_in_by").target_field)


def _insert_from(model: type[Model], fields: list[str], rows: QuerySet, *, on_conflict_do_nothing: bool = False) -> int:
    """`INSERT INTO model (fields) SELECT ...`, the SELECT being the ORM's SQL of `rows`; return how many rows."""
    sql, params = _insert_sql(model, fields, rows, on_conflict_do_nothing=on_conflict_do_nothing)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def _insert_returning_ids(model: type[Model], fields: list[str], rows: QuerySet) -> list[int]:
    """`INSERT INTO model (fields) SELECT ... RETURNING id`: the ids of the rows written."""
    sql, params = _insert_sql(model, fields, rows, on_conflict_do_nothing=False)
    pk = connection.ops.quote_name(model._meta.pk.column)
    with connection.cursor() as cursor:
        cursor.execute(f"{sql} RETURNING {pk}", params)
        return [row[0] for row in cursor.fetchall()]


def _insert_sql(model: type[Model], fields: list[str], rows: QuerySet, *, on_conflict_do_nothing: bool):
    # The ORM has no INSERT ... SELECT.
    select_sql, params = rows.query.sql_with_params()
    table = connection.ops.quote_name(model._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(model._meta.get_field(name).column) for name in fields)
    conflict = " ON CONFLICT DO NOTHING" if on_conflict_do_nothing else ""
    return f"INSERT INTO {table} ({columns}) {select_sql}{conflict}", params


def _last_check_out(attendee_ref: str) -> Subquery:
    """The latest check-out time of the attendee `OuterRef(attendee_ref)` points at."""
    visits = _standing(Visit.objects.filter(attendee=OuterRef(attendee_ref), checked_out_at__isnull=False))
    return Subquery(visits.order_by("-checked_out_at").values("checked_out_at")[:1])


def void_record(*, record: Record, by: User | None, reason: str) -> Record:
    """Void `record`, keeping it in the history with who, when and why.

    Voiding a check-in voids its whole visit (its check-out with it): the stay leaves
    the state, the times and the figures. Voiding a check-out reopens its visit, so it
    must be the attendee's latest: refused with `NotLatestRecord` once they have
    checked in again. Refused with `AlreadyVoided` the second time. The visit is locked
    first, so a concurrent scan of the same attendee waits and then sees the outcome.
    """
    now = timezone.now()
    with transaction.atomic():
        visit = Visit.objects.select_for_update().get(pk=record.visit_id)
        record = Record.objects.select_for_update().get(pk=record.pk)
        if record.voided_at is not None:
            raise AlreadyVoided()
        voided = {"voided_at": now, "voided_by": by, "void_reason": reason}
        if record.type == Record.Type.CHECK_IN:
            Visit.objects.filter(pk=visit.pk).update(voided_at=now)
            voided_ids = list(Record.objects.filter(visit=visit, voided_at__isnull=True).values_list("pk", flat=True))
            Record.objects.filter(pk__in=voided_ids).update(**voided)
        else:
            # Later in the visits' own order (`Meta.ordering`): two stays may start at the same instant.
            later = _standing(Visit.objects.filter(attendee_id=visit.attendee_id)).filter(
                Q(checked_in_at__gt=visit.checked_in_at) | Q(checked_in_at=visit.checked_in_at, pk__gt=visit.pk)
            )
            if later.exists():
                raise NotLatestRecord()
            try:
                with transaction.atomic():
                    Visit.objects.filter(pk=visit.pk).update(checked_out_at=None, checked_out_by=None)
            except IntegrityError:
                # A check-in committed since the check above: reopening would make two open visits.
                raise NotLatestRecord() from None
            Record.objects.filter(pk=record.pk).update(**voided)
            voided_ids = [record.pk]
        _announce(signals.record_voided, voided_ids)
        record.refresh_from_db()
    return record


def correct_check_out(*, attendee: Attendee, at: datetime.datetime, by: User | None, reason: str) -> Record:
    """Record a missed check-out of the attendee inside, at the past time `at`.

    Refused with `TimeInTheFuture` for a time after now, `CheckOutBeforeCheckIn` for a
    time before the open visit's check-in, and `NotCheckedIn`/`AlreadyCheckedOut` when
    the attendee is not inside. The open visit is locked, so a concurrent check-out of
    the same attendee either comes first (and this is refused) or waits and is refused.
    """
    now = timezone.now()
    if at > now:
        raise TimeInTheFuture()
    with transaction.atomic():
        visit = (
            _standing(Visit.objects.filter(attendee=attendee, checked_out_at__isnull=True)).select_for_update().first()
        )
        if visit is None:
            if _standing(Visit.objects.filter(attendee=attendee)).exists():
                raise AlreadyCheckedOut()
            raise NotCheckedIn()
        if at < visit.checked_in_at:
            checked_in = visit.checked_in_at.isoformat().replace("+00:00", "Z")
            raise CheckOutBeforeCheckIn(f"A check-out cannot be earlier than the check-in it ends ({checked_in}).")
        Visit.objects.filter(pk=visit.pk).update(checked_out_at=at, checked_out_by=by)
        record = Record.objects.create(
            attendee=attendee,
            visit=visit,
            type=Record.Type.CHECK_OUT,
            at=at,
            recorded_at=now,
            recorded_by=by,
            source=Source.CORRECTION,
            reason=reason,
        )
        _announce(signals.checked_out, [record.pk])
    return record


# Within this time of an attendee's latest record, an `auto` scan goes the same way as
# that record: a ticket read twice (two scanners, a double tap) is never taken back out.
SCAN_SETTLE_TIME = datetime.timedelta(seconds=2)
# The one who scanned may undo a check-in or check-out for this long; then corrections.
UNDO_TIME = datetime.timedelta(minutes=2)
UNDO_REASON = "undone at the door"

Direction = RefusedScan.Direction


@dataclasses.dataclass(frozen=True)
class Scan:
    """A recorded scan: the attendee scanned and the id of the record it wrote."""

    attendee: Attendee
    record_id: int
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
    ticket_code: str,
    by: User | None,
    direction: str = Direction.AUTO,
    event: Event | None = None,
    station: str = "",
) -> Scan:
    """Check in or out the attendee holding `ticket_code`, by the rules of `check_in` and
    `check_out`, recorded as source `scan`.

    `direction` "auto" checks in unless the attendee is inside, else out; within
    `SCAN_SETTLE_TIME` of their latest record it goes that record's way, so a double
    read is refused rather than reversing it. `event` is the event the door scans for.
    Refused with `ScanRefused` (carrying `UnknownTicket`, `WrongEvent` or the rule's
    error), and the refusal is kept as a `RefusedScan`.
    """
    now = timezone.now()
    attendee = selectors.attendee_by_ticket_code(ticket_code)
    resolved = direction
    try:
        if attendee is None:
            raise UnknownTicket()
        if direction == Direction.AUTO:
            resolved = _auto_direction(attendee, now)
        if event is not None and attendee.event_id != event.pk:
            raise WrongEvent(f"This ticket is for {attendee.event.name}, not {event.name}.")
        record = check_in if resolved == Direction.IN else check_out
        record_id = record(attendee=attendee, by=by, station=station, source=Source.SCAN)
    except AttendanceError as error:
        if attendee is not None and not isinstance(error, WrongEvent):
            error = _explained(error, attendee)
        refused = RefusedScan.objects.create(
            at=now,
            recorded_at=now,
            ticket_code=ticket_code,
            event=event if event is not None else getattr(attendee, "event", None),
            attendee=attendee,
            direction=resolved,
            station=station,
            reason=error.code,
            recorded_by=by,
        )
        if signals.scan_refused.has_listeners(RefusedScan):
            transaction.on_commit(
                lambda: signals.scan_refused.send(sender=RefusedScan, record=refused, attendee=attendee)
            )
        raise ScanRefused(error, attendee) from None
    return Scan(attendee=attendee, record_id=record_id, direction=resolved)


def _auto_direction(attendee: Attendee, now: datetime.datetime) -> str:
    latest_type, latest_at = attendee.latest_record_type, attendee.latest_record_at
    if latest_at is not None and now - latest_at < SCAN_SETTLE_TIME:
        return Direction.IN if latest_type == Record.Type.CHECK_IN else Direction.OUT
    return Direction.OUT if attendee.is_checked_in else Direction.IN


def _explained(error: AttendanceError, attendee: Attendee) -> AttendanceError:
    """The refusal in the words door staff need: since when and where, from the record
    the attendee's state follows now (read again: a concurrent scan may have written it)."""
    latest = selectors.latest_standing_record(attendee)
    if latest is None:
        return NotCheckedIn("Not checked in yet: has not arrived, so cannot check out.")
    where = f", {latest.station}" if latest.station else ""
    when = _door_time(latest.at)
    if isinstance(error, AlreadyCheckedIn):
        return AlreadyCheckedIn(f"Already inside since {when}{where}.")
    if isinstance(error, AlreadyCheckedOut):
        return AlreadyCheckedOut(f"Already left at {when}{where}.")
    return error


def _door_time(moment: datetime.datetime) -> str:
    local = timezone.localtime(moment)
    zone = local.tzname() or ""
    if local.date() == timezone.localdate():
        return f"{local:%H:%M} {zone}".strip()
    return f"{local:%d %b %H:%M} {zone}".strip()


def undo_record(*, record: Record, by: User) -> Record:
    """Take back a check-in or check-out the user `by` recorded themselves within
    `UNDO_TIME` (a mistaken scan at the door), by voiding it as a correction would.

    Refused with `NotYourRecord` for someone else's record, `UndoExpired` after
    `UNDO_TIME`, `NotLatestRecord` when anything was recorded for the attendee since,
    and `AlreadyVoided`.
    """
    if record.recorded_by_id is None or record.recorded_by_id != by.pk:
        raise NotYourRecord()
    if timezone.now() - record.recorded_at > UNDO_TIME:
        raise UndoExpired()
    if record.voided_at is not None:
        raise AlreadyVoided()
    with transaction.atomic():
        latest = selectors.latest_standing_record(record.attendee)
        if latest is not None and latest.pk != record.pk:
            raise NotLatestRecord("Something was recorded for this attendee since; ask for a correction instead.")
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


def delete_attendee(*, attendee: Attendee) -> None:
    """Delete an attendee who has no attendance history; refused with `HasHistory` otherwise."""
    _delete_keeping_history(attendee)


def delete_event(*, event: Event) -> None:
    """Delete an event and its attendees, refused with `HasHistory` if any of them has a history."""
    _delete_keeping_history(event)


def _delete_keeping_history(instance: Attendee | Event) -> None:
    try:
        with transaction.atomic():
            instance.delete()
    except ProtectedError:
        raise HasHistory() from None


def run_once(*, user: User, key: str, fingerprint: str, operation: Callable[[], tuple[int, Any]]) -> tuple[int, Any]:
    """Run `operation` once per (user, key) and return its (status, body); a retry gets
    the first response again without running anything.

    The key's row is inserted before the operation runs, in the same transaction, so
    concurrent retries wait on it and then replay. Refused with `IdempotencyKeyReused`
    when the key comes back with a different request `fingerprint`.
    """
    with transaction.atomic():
        entry, created = IdempotentRequest.objects.get_or_create(
            user=user, key=key, defaults={"fingerprint": fingerprint}
        )
        if not created:
            if entry.fingerprint != fingerprint:
                raise IdempotencyKeyReused()
            return entry.status_code, json.loads(entry.body)
        status_code, body = operation()
        entry.status_code, entry.body = status_code, json.dumps(body)
        entry.save(update_fields=["status_code", "body"])
    return status_code, body
