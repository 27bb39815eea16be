"""Every write and every rule of attendance lives here.

Check-in opens a `Visit`, check-out closes the open one. The database enforces the
rules, so they hold with any number of app servers and door scanners at once:

- a check-in inserts a visit unless one is open; the partial unique constraint "one
  open visit per attendee" makes a concurrent second check-in insert nothing, which
  becomes `AlreadyCheckedIn`;
- a check-out is one conditional `UPDATE ... WHERE checked_out_at IS NULL`; of two
  concurrent check-outs the database lets exactly one match a row.

Times always come from the server's clock (`timezone.now()`), never from a client.
"""

import dataclasses
import json
from collections.abc import Callable
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef, ProtectedError, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from .exceptions import (
    AlreadyCheckedIn,
    AlreadyCheckedOut,
    HasHistory,
    IdempotencyKeyReused,
    NotCheckedIn,
)
from .models import Attendee, Event, IdempotentRequest, Visit

User = AbstractBaseUser


@dataclasses.dataclass(frozen=True)
class BulkResult:
    done: int
    skipped: int


def _closing_time(now):
    # A check-out is never stamped before its check-in, even if app servers' clocks
    # drift apart; the database's check constraint relies on it.
    return Greatest(Value(now), F("checked_in_at"))


def check_in(*, attendee: Attendee, by: User | None) -> None:
    """Open a visit for `attendee` now.

    Refused with `AlreadyCheckedIn` while the attendee is inside; re-entry after a
    check-out is allowed. One INSERT that yields to any open visit, including one a
    concurrent request is inserting, so of simultaneous check-ins exactly one succeeds.
    """
    if not _open_visits(Attendee.objects.filter(pk=attendee.pk), by=by):
        raise AlreadyCheckedIn()


def check_out(*, attendee: Attendee, by: User | None) -> None:
    """Close the attendee's open visit now.

    Refused with `NotCheckedIn` if the attendee never checked in, and with
    `AlreadyCheckedOut` if they have left. A single conditional UPDATE, so of any
    number of concurrent check-outs exactly one succeeds.
    """
    now = timezone.now()
    closed = Visit.objects.filter(attendee=attendee, checked_out_at__isnull=True).update(
        checked_out_at=_closing_time(now), checked_out_by=by
    )
    if closed:
        return
    if Visit.objects.filter(attendee=attendee).exists():
        raise AlreadyCheckedOut()
    raise NotCheckedIn()


def bulk_check_out(*, attendees: QuerySet[Attendee], by: User | None) -> BulkResult:
    """Check out every attendee of `attendees` who is inside; skip the others.

    Two queries whatever the number of attendees: a count and one UPDATE.
    """
    now = timezone.now()
    with transaction.atomic():
        selected = attendees.order_by().count()
        done = Visit.objects.filter(attendee__in=attendees.order_by().values("pk"), checked_out_at__isnull=True).update(
            checked_out_at=_closing_time(now), checked_out_by=by
        )
    return BulkResult(done=done, skipped=selected - done)


def bulk_check_in(*, attendees: QuerySet[Attendee], by: User | None) -> BulkResult:
    """Check in every attendee of `attendees` who is not inside; skip those who are.

    Two queries whatever the number of attendees: a count and one INSERT, so an
    attendee checked in concurrently by someone else is skipped rather than failing
    the whole batch.
    """
    with transaction.atomic():
        selected = attendees.order_by().count()
        done = _open_visits(attendees, by=by)
    return BulkResult(done=done, skipped=selected - done)


def _open_visits(attendees: QuerySet[Attendee], *, by: User | None) -> int:
    """Insert a visit for each of `attendees` who is not inside; return how many.

    One `INSERT ... SELECT ... ON CONFLICT DO NOTHING`: the SELECT skips those inside,
    and the conflict clause skips those a concurrent transaction is checking in (the
    one-open-visit constraint).
    """
    selected = attendees.order_by().values("pk")
    now = Value(timezone.now())
    rows = (
        Attendee.objects.filter(pk__in=selected)
        .exclude(Exists(Visit.objects.filter(attendee=OuterRef("pk"), checked_out_at__isnull=True)))
        .order_by()
        .annotate(
            stamp=Greatest(now, Coalesce(_last_check_out("pk"), now)),
            recorder=Value(by.pk if by else None, output_field=Visit._meta.get_field("checked_in_by").target_field),
        )
        .values_list("pk", "stamp", "recorder")
    )
    select_sql, params = rows.query.sql_with_params()
    table = connection.ops.quote_name(Visit._meta.db_table)
    columns = ", ".join(
        connection.ops.quote_name(Visit._meta.get_field(name).column)
        for name in ("attendee", "checked_in_at", "checked_in_by")
    )
    with transaction.atomic(savepoint=False):
        # The ORM has no INSERT ... SELECT; the SELECT itself is the ORM's own SQL.
        with connection.cursor() as cursor:
            cursor.execute(f"INSERT INTO {table} ({columns}) {select_sql} ON CONFLICT DO NOTHING", params)
            opened = cursor.rowcount
        if opened:
            # The INSERT read the last check-out from its snapshot, taken before it
            # waited on the constraint: a check-out committed meanwhile (with a later
            # time) was not in it. Read again, now that it is committed, so a visit
            # never starts before the previous one ended.
            last_out = _last_check_out("attendee")
            Visit.objects.filter(attendee__in=selected, checked_out_at__isnull=True, checked_in_at__lt=last_out).update(
                checked_in_at=last_out
            )
    return opened


def _last_check_out(attendee_ref: str) -> Subquery:
    """The latest check-out time of the attendee `OuterRef(attendee_ref)` points at."""
    visits = Visit.objects.filter(attendee=OuterRef(attendee_ref), checked_out_at__isnull=False)
    return Subquery(visits.order_by("-checked_out_at").values("checked_out_at")[:1])


def save_attendee(
    *, attendee: Attendee, changes: dict[str, Any], record: str | None = None, by: User | None
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
            check_in(attendee=attendee, by=by)
        elif record == "check_out":
            check_out(attendee=attendee, by=by)
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
