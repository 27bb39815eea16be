"""2. One check-out, and one detail GET, against the length of the attendee's history."""

import datetime
import json

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from attendees import services
from attendees.models import Attendee, Event, Record, Visit

from . import data
from .client import api_client, expect
from .report import Section, Target, figure, ms
from .timing import Clock, captured_queries, median, ratio, rotated, statements

MAX_GROWTH = 1.2


def floor_check_out(*, attendee_id: int, by_id: int | None) -> None:
    """The stay's UPDATE, the record's INSERT and the event's number inside, by hand, in
    one transaction (the attendee is never in an area)."""
    greatest = "GREATEST" if connection.vendor == "postgresql" else "MAX"
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE attendees_visit SET checked_out_at = {greatest}(%s, checked_in_at), checked_out_by_id = %s "
            "WHERE attendee_id = %s AND checked_out_at IS NULL AND voided_at IS NULL AND area_id IS NULL",
            [now, by_id, attendee_id],
        )
        closed = cursor.rowcount
        cursor.execute(
            "INSERT INTO attendees_record (attendee_id, visit_id, area_id, type, at, recorded_at, recorded_by_id, "
            "station, source, capacity_override, reason, void_reason) "
            "SELECT attendee_id, id, NULL, 'check_out', checked_out_at, %s, checked_out_by_id, '', 'api', %s, '', '' "
            "FROM attendees_visit WHERE attendee_id = %s AND checked_out_at >= %s AND voided_at IS NULL",
            [now, False, attendee_id, now],
        )
        cursor.execute(
            "UPDATE attendees_event SET inside = inside - %s "
            "WHERE id = (SELECT event_id FROM attendees_attendee WHERE id = %s)",
            [closed, attendee_id],
        )


def naive_check_out(*, attendee: Attendee, by) -> None:
    """Load the whole history and close the open visit in Python, then add its record and
    count the attendee out of the event."""
    visits = list(attendee.visits.all())
    open_visit = next(visit for visit in visits if visit.checked_out_at is None and visit.voided_at is None)
    now = timezone.now()
    with transaction.atomic():
        open_visit.checked_out_at = now
        open_visit.checked_out_by = by
        open_visit.save(update_fields=["checked_out_at", "checked_out_by"])
        Record.objects.create(
            attendee=attendee,
            visit=open_visit,
            type=Record.Type.CHECK_OUT,
            at=now,
            recorded_at=now,
            recorded_by=by,
            source=Record.Source.API,
        )
        Event.objects.filter(pk=attendee.event_id).update(inside=F("inside") - 1)


def floor_detail(attendee_id: int) -> bytes:
    """The detail's body from two hand-written SELECTs and json.dumps, without the HTTP stack."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, event_id, first_name, last_name, email FROM attendees_attendee WHERE id = %s", [attendee_id]
        )
        pk, event_id, first_name, last_name, email = cursor.fetchone()
        cursor.execute(
            "SELECT checked_in_at, checked_out_at FROM attendees_visit WHERE attendee_id = %s AND voided_at IS NULL "
            "ORDER BY checked_in_at, id",
            [attendee_id],
        )
        visits = cursor.fetchall()
    return json.dumps(attendee_body(pk, event_id, first_name, last_name, email, visits)).encode()


def attendee_body(pk, event_id, first_name, last_name, email, visits) -> dict:
    """The API's attendee JSON from (checked_in_at, checked_out_at) pairs, oldest first."""
    inside = any(out is None for _, out in visits)
    return {
        "id": pk,
        "event": event_id,
        "first_name": first_name,
        "last_name": last_name,
        "email": email,
        "is_checked_in": inside,
        "is_checked_out": bool(visits) and not inside,
        "checkin_times": [utc_text(at) for at, _ in visits],
        "checkout_times": [utc_text(out) for _, out in visits if out is not None],
    }


def utc_text(value) -> str:
    if isinstance(value, str):  # SQLite hands back text
        value = datetime.datetime.fromisoformat(value).replace(tzinfo=datetime.UTC)
    return value.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z")


def run(*, sizes: list[int], repeat: int, user, reader) -> Section:
    section = Section(
        key="history",
        title="2. One check-out and one detail GET against history length",
        columns=[
            "earlier visits",
            "check-out ms",
            "queries",
            "floor ms",
            "naive ms",
            "GET ms",
            "GET queries",
            "floor GET ms",
            "GET bytes",
        ],
    )
    attendees = {}
    for size in sizes:
        event = data.make_event(f"history {size}", 1)
        attendees[size] = attendee = Attendee.objects.get(event=event)
        data.add_history(attendee, size)
    data.analyze()
    client = api_client(reader)
    timings = {size: {"service": [], "floor": [], "naive": [], "get": [], "floor_get": []} for size in sizes}
    facts = {}
    # The detail first, while the history is exactly `size` visits long; the check-outs add to it.
    for size, attendee in attendees.items():
        path = f"/api/attendees/{attendee.pk}/"
        expect(client.get(path), 200)
        floor_detail(attendee.pk)
        with captured_queries() as queries:
            response = expect(client.get(path), 200)
        facts[size] = {"get_queries": len(queries), "get_bytes": len(response.content)}
    for rep in range(repeat):
        # Round-robin over the lengths, so that drift on a busy machine spreads evenly.
        for size, attendee in rotated(attendees, rep):
            path = f"/api/attendees/{attendee.pk}/"
            with Clock() as clock:
                expect(client.get(path), 200)
            timings[size]["get"].append(clock.seconds)
            with Clock() as clock:
                floor_detail(attendee.pk)
            timings[size]["floor_get"].append(clock.seconds)
    for size, attendee in attendees.items():
        services.check_in(attendee=attendee, by=user)
        with captured_queries() as queries:
            services.check_out(attendee=attendee, by=user)
        facts[size]["check_out_queries"] = len(queries)
        facts[size]["check_out_sql"] = statements(queries)
    for rep in range(repeat):
        for size, attendee in rotated(attendees, rep):
            for variant in ("service", "floor", "naive"):
                services.check_in(attendee=attendee, by=user)
                with Clock() as clock:
                    if variant == "service":
                        services.check_out(attendee=attendee, by=user)
                    elif variant == "floor":
                        floor_check_out(attendee_id=attendee.pk, by_id=user.pk)
                    else:
                        naive_check_out(attendee=attendee, by=user)
                timings[size][variant].append(clock.seconds)
    results = []
    for size, attendee in attendees.items():
        if Visit.objects.filter(attendee=attendee, checked_out_at__isnull=True).exists():
            raise RuntimeError(f"the attendee with {size} earlier visits was left inside")
        medians = {variant: median(values) for variant, values in timings[size].items()}
        result = {"earlier_visits": size, "repetitions": repeat, **facts[size]}
        result.update({f"{variant}_median_seconds": value for variant, value in medians.items()})
        result["seconds"] = timings[size]
        results.append(result)
        section.rows.append(
            [
                f"{size:,}",
                ms(medians["service"]),
                facts[size]["check_out_queries"],
                ms(medians["floor"]),
                ms(medians["naive"]),
                ms(medians["get"]),
                facts[size]["get_queries"],
                ms(medians["floor_get"]),
                f"{facts[size]['get_bytes']:,}",
            ]
        )
    section.data = {"results": results}
    section.notes.append(
        f"medians of {repeat} runs, interleaved over the lengths in turn; the attendee is checked in again, untimed, "
        "before each check-out, so the history grows by 3 visits a run after the GETs are measured"
    )
    section.notes.append(
        "check-out: services.check_out; floor: the hand-written UPDATE, INSERT of the record and UPDATE of the "
        "event's number inside; naive: load the whole history and close the open visit in Python"
    )
    section.notes.append(
        "GET: /api/attendees/{id}/ through the test client with a superuser's token; "
        "floor GET: two hand-written SELECTs and json.dumps of the same body, no HTTP stack"
    )
    first, last = results[0], results[-1]
    growth = ratio(last["service_median_seconds"], first["service_median_seconds"])
    section.targets.append(
        Target(
            f"check-out with {last['earlier_visits']:,} earlier visits within {MAX_GROWTH}x of "
            f"{first['earlier_visits']:,}",
            growth <= MAX_GROWTH if len(results) > 1 else None,
            f"{figure(growth)}x ({figure(ms(last['service_median_seconds']))} ms against "
            f"{figure(ms(first['service_median_seconds']))} ms); the detail GET is "
            f"{last['get_bytes']:,} bytes at {last['earlier_visits']:,}",
        )
    )
    return section
