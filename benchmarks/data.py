"""Fast, untimed set-up: events, attendees, their visits and records, and users, created
with `bulk_create` so that every field the models declare gets its default."""

import secrets
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.utils import timezone
from rest_framework.authtoken.models import Token

from attendees import services
from attendees.models import Attendee, Event, Record, Visit

BATCH_SIZE = 5_000
DOOR_STAFF_PERMISSIONS = ["view_event", "view_attendee", "record_attendance"]


def make_event(name: str, size: int) -> Event:
    """An event with `size` attendees who have never checked in."""
    event = Event.objects.create(name=name)
    Attendee.objects.bulk_create(
        (
            Attendee(event=event, first_name=f"First{n}", last_name=f"Last{n:07d}", email=f"person{n}@example.org")
            for n in range(size)
        ),
        batch_size=BATCH_SIZE,
    )
    return event


def attendee_ids(event: Event) -> list[int]:
    return list(Attendee.objects.filter(event=event).order_by("pk").values_list("pk", flat=True))


def tickets(event: Event) -> list[tuple[int, str]]:
    """The id and ticket code of each attendee of `event`, in id order."""
    return list(Attendee.objects.filter(event=event).order_by("pk").values_list("pk", "ticket_code"))


def add_visits(ids: list[int], *, closed: bool, at: datetime | None = None, by=None) -> None:
    """One visit for each attendee of `ids`, open (inside) or closed (left), with its records."""
    at = at or timezone.now() - timedelta(hours=1)
    _add_with_records(
        Visit(
            attendee_id=pk,
            checked_in_at=at,
            checked_in_by=by,
            checked_out_at=at + timedelta(minutes=30) if closed else None,
            checked_out_by=by if closed else None,
        )
        for pk in ids
    )


def count_inside(event: Event) -> None:
    """Set the event's live number inside from its open visits, which `add_visits` wrote
    around the services."""
    services.recount(events=Event.objects.filter(pk=event.pk))


def add_history(attendee: Attendee, visits: int) -> None:
    """`visits` earlier, closed visits of one attendee, a minute apart, ending an hour ago, with their records."""
    start = timezone.now() - timedelta(hours=1, minutes=visits)
    _add_with_records(
        Visit(
            attendee=attendee,
            checked_in_at=start + timedelta(minutes=n),
            checked_out_at=start + timedelta(minutes=n, seconds=30),
        )
        for n in range(visits)
    )


def _add_with_records(visits) -> None:
    """Insert `visits` and the check-in and check-out records the services would have written."""
    batch = []
    for visit in visits:
        batch.append(visit)
        if len(batch) == BATCH_SIZE:
            _insert_batch(batch)
            batch = []
    _insert_batch(batch)


def _insert_batch(visits: list[Visit]) -> None:
    Visit.objects.bulk_create(visits)
    records = []
    for visit in visits:
        stamps = [(Record.Type.CHECK_IN, visit.checked_in_at, visit.checked_in_by_id)]
        if visit.checked_out_at:
            stamps.append((Record.Type.CHECK_OUT, visit.checked_out_at, visit.checked_out_by_id))
        records += [
            Record(
                attendee_id=visit.attendee_id,
                visit_id=visit.pk,
                type=type,
                at=at,
                recorded_at=at,
                recorded_by_id=user_id,
                source=Record.Source.API,
            )
            for type, at, user_id in stamps
        ]
    Record.objects.bulk_create(records, batch_size=BATCH_SIZE)


def inside_event(name: str, size: int, by=None) -> Event:
    """An event whose `size` attendees are all inside."""
    event = make_event(name, size)
    add_visits(attendee_ids(event), closed=False, by=by)
    count_inside(event)
    analyze()
    return event


def analyze() -> None:
    """Refresh the planner's statistics after a bulk load, as autovacuum would in time."""
    with connection.cursor() as cursor:
        for model in (Attendee, Visit, Record):
            cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")


def make_superuser():
    return get_user_model().objects.create_superuser(username=f"admin-{secrets.token_hex(4)}", password=None)


def make_door_staff():
    """A user in a "Door staff" group, as `demo_data` sets it up."""
    group, _ = Group.objects.get_or_create(name="Door staff")
    group.permissions.add(
        *Permission.objects.filter(content_type__app_label="attendees", codename__in=DOOR_STAFF_PERMISSIONS)
    )
    user = get_user_model().objects.create_user(username=f"door-{secrets.token_hex(4)}", password=None)
    user.groups.add(group)
    return user


def token_for(user) -> str:
    return Token.objects.get_or_create(user=user)[0].key
