"""Every write and every rule of attendance lives here.

Check-in opens a `Visit`, check-out closes the open one. The database enforces the
rules, so they hold with any number of app servers and door scanners at once:

- a check-in inserts a visit; the partial unique constraint "one open visit per
  attendee" turns a concurrent second check-in into an integrity error, which
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
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, F, OuterRef, ProtectedError, QuerySet, Value
from django.db.models.functions import Greatest
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


def check_in(*, attendee: Attendee, by: User | None) -> Visit:
    """Open a visit for `attendee` now.

    Refused with `AlreadyCheckedIn` while the attendee is inside; re-entry after a
    check-out is allowed.
    """
    try:
        with transaction.atomic():
            return Visit.objects.create(attendee=attendee, checked_in_at=timezone.now(), checked_in_by=by)
    except IntegrityError:
        if Visit.objects.filter(attendee=attendee, checked_out_at__isnull=True).exists():
            raise AlreadyCheckedIn() from None
        raise


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

    Two queries whatever the number of attendees: a count and one
    `INSERT ... SELECT ... ON CONFLICT DO NOTHING`, so an attendee checked in
    concurrently by someone else is skipped rather than failing the whole batch.
    """
    now = timezone.now()
    rows = (
        Attendee.objects.filter(pk__in=attendees.order_by().values("pk"))
        .exclude(Exists(Visit.objects.filter(attendee=OuterRef("pk"), checked_out_at__isnull=True)))
        .order_by()
        .annotate(
            stamp=Value(now),
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
    # The ORM has no INSERT ... SELECT; the SELECT itself is the ORM's own SQL.
    insert_sql = f"INSERT INTO {table} ({columns}) {select_sql} ON CONFLICT DO NOTHING"
    with transaction.atomic():
        selected = attendees.order_by().count()
        with connection.cursor() as cursor:
            cursor.execute(insert_sql, params)
            done = cursor.rowcount
    return BulkResult(done=done, skipped=selected - done)


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
