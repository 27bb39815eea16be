"""6. Places: the door counts, an area's `inside`, the attendance figures and the admin
event page of an event with history, each beside a hand-written SQL floor; and a scan
into an area beside a scan without one."""

import datetime
import json
import random

from django.conf import settings
from django.db import connection
from django.test import Client, override_settings
from django.utils import timezone

from attendees import selectors, services
from attendees.models import Area, Attendee, Event, TimeInside, Visit

from . import data
from .client import api_client, expect
from .report import Section, Target, figure, ms
from .timing import Clock, captured_queries, median, ratio, rotated

COUNTS_MS = 5.0
FIGURES_MS = 50.0
EVENT_PAGE_MS = 100.0
MAX_AREA_SCAN_RATIO = 1.3
AREAS = ("Hall", "Workshop", "Lounge")
DAY = datetime.timedelta(hours=8)
MINUTE = datetime.timedelta(minutes=1)
MICROSECOND = datetime.timedelta(microseconds=1)


# Set-up


def make_event_with_history(size: int, *, now: datetime.datetime) -> Event:
    """An event under way with `size` attendees, three areas and a day of history: half
    of the attendees inside (most of them in an area, some having moved between areas,
    some back for a second stay), two fifths gone after one or two stays (some by way of
    an area), a tenth never arrived, and now and then a stay voided by a correction."""
    start = now - DAY
    event = Event.objects.create(name=f"places {size}", starts_at=start, ends_at=now + datetime.timedelta(hours=4))
    areas = Area.objects.bulk_create(Area(event=event, name=name) for name in AREAS)
    Attendee.objects.bulk_create(
        (
            Attendee(event=event, first_name=f"First{n}", last_name=f"Last{n:07d}", email=f"person{n}@example.org")
            for n in range(size)
        ),
        batch_size=data.BATCH_SIZE,
    )
    chance = random.Random(size)
    batch = []
    for n, pk in enumerate(data.attendee_ids(event)):
        batch += _stays(n, pk, areas, start=start, now=now, chance=chance)
        if len(batch) >= data.BATCH_SIZE:
            Visit.objects.bulk_create(batch)
            batch = []
    Visit.objects.bulk_create(batch)
    _add_records(event)
    services.recount(events=Event.objects.filter(pk=event.pk))
    return Event.objects.get(pk=event.pk)


def _stays(n: int, pk: int, areas: list[Area], *, start, now, chance: random.Random) -> list[Visit]:
    def between(earliest, latest):
        return earliest + (latest - earliest) * chance.random()

    latest = now - MINUTE
    stays = []
    if n % 10 == 9:
        return stays
    if n % 2 == 0:
        # Inside now; one in four was here before.
        if n % 4 == 0:
            came = between(start, start + DAY / 2)
            left = between(came + 10 * MINUTE, came + 90 * MINUTE)
            stays.append(Visit(attendee_id=pk, checked_in_at=came, checked_out_at=left))
            came = between(left + 5 * MINUTE, latest)
        else:
            came = between(start, latest)
        stays.append(Visit(attendee_id=pk, checked_in_at=came))
        kind = n % 5
        if kind:
            entered = between(came, latest)
            area = areas[kind % len(areas)]
            if kind == 4:
                # A move: out of one area and into another at the same instant.
                moved = between(entered, latest)
                stays.append(Visit(attendee_id=pk, area=areas[0], checked_in_at=entered, checked_out_at=moved))
                entered = moved
            stays.append(Visit(attendee_id=pk, area=area, checked_in_at=entered))
    else:
        # Gone, after one stay or, for one in three, two.
        came = between(start, start + DAY - 30 * MINUTE)
        left = between(came + 10 * MINUTE, min(came + 2 * DAY / 8, latest))
        stays.append(Visit(attendee_id=pk, checked_in_at=came, checked_out_at=left))
        if n % 4 == 1:
            entered = between(came, left)
            stays.append(
                Visit(
                    attendee_id=pk,
                    area=areas[n % len(areas)],
                    checked_in_at=entered,
                    checked_out_at=between(entered, left),
                )
            )
        if n % 3 == 1 and left < latest - 20 * MINUTE:
            again = between(left, latest - 10 * MINUTE)
            stays.append(Visit(attendee_id=pk, checked_in_at=again, checked_out_at=between(again, latest)))
    if n % 50 == 1:
        # A check-in voided by a correction: the stay stands no more.
        voided_in = between(start, latest)
        stays.append(Visit(attendee_id=pk, checked_in_at=voided_in, checked_out_at=voided_in, voided_at=now))
    return stays


def _add_records(event: Event) -> None:
    """The check-in and check-out records of the event's stays, as the services write
    them (a voided stay's check-in voided with it), in two INSERT ... SELECTs."""
    columns = (
        "attendee_id, visit_id, area_id, type, at, recorded_at, recorded_by_id, station, source, "
        "capacity_override, reason, voided_at, void_reason"
    )
    of_event = "attendee_id IN (SELECT id FROM attendees_attendee WHERE event_id = %s)"
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO attendees_record ({columns}) "
            "SELECT attendee_id, id, area_id, 'check_in', checked_in_at, checked_in_at, NULL, '', 'api', %s, '', "
            f"voided_at, '' FROM attendees_visit WHERE {of_event}",
            [False, event.pk],
        )
        cursor.execute(
            f"INSERT INTO attendees_record ({columns}) "
            "SELECT attendee_id, id, area_id, 'check_out', checked_out_at, checked_out_at, NULL, '', 'api', %s, '', "
            f"NULL, '' FROM attendees_visit WHERE checked_out_at IS NOT NULL AND voided_at IS NULL AND {of_event}",
            [False, event.pk],
        )


TABLES = (
    "attendees_event",
    "attendees_area",
    "attendees_attendee",
    "attendees_visit",
    "attendees_record",
    "attendees_placeminute",
    "attendees_timeinside",
)


def vacuum_analyze() -> None:
    """After the bulk load: the planner's statistics and, on PostgreSQL, the visibility
    map that index-only scans need, as autovacuum would leave them in time."""
    if connection.vendor != "postgresql":
        data.analyze()
        return
    with connection.cursor() as cursor:
        for table in TABLES:
            cursor.execute(f"VACUUM ANALYZE {table}")


# The floors: the same answers from hand-written SQL, without the HTTP stack.


def _seconds_between(later: str, earlier: str) -> str:
    if connection.vendor == "postgresql":
        return f"EXTRACT(EPOCH FROM {later} - {earlier})"
    return f"(julianday({later}) - julianday({earlier})) * 86400.0"


def floor_counts(event_id: int) -> bytes:
    """The door counts: the event's row with its live counts."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT name, capacity, inside, registered, arrived FROM attendees_event WHERE id = %s", [event_id]
        )
        name, capacity, inside, registered, arrived = cursor.fetchone()
    body = {
        "event": event_id,
        "registered": registered,
        "inside": inside,
        "left": arrived - inside,
        "never_arrived": registered - arrived,
        "capacity": capacity,
        "place": {"area": None, "name": name, "inside": inside, "capacity": capacity},
    }
    return json.dumps(body).encode()


def counts_from_history(event_id: int) -> tuple[int, int, int]:
    """(registered, inside, left) counted from the attendees and their stays, to check
    the live counts against."""
    of_event = "visit.attendee_id IN (SELECT id FROM attendees_attendee WHERE event_id = %s)"
    standing = "visit.voided_at IS NULL AND visit.area_id IS NULL"
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM attendees_attendee WHERE event_id = %s", [event_id])
        (registered,) = cursor.fetchone()
        cursor.execute(
            f"SELECT COUNT(DISTINCT attendee_id) FROM attendees_visit visit WHERE {of_event} AND {standing}", [event_id]
        )
        (came,) = cursor.fetchone()
        cursor.execute(
            f"SELECT COUNT(*) FROM attendees_visit visit WHERE {of_event} AND {standing} AND checked_out_at IS NULL",
            [event_id],
        )
        (inside,) = cursor.fetchone()
    return registered, inside, came - inside


def history_area(area_id: int) -> bytes:
    """An area's JSON with its number inside counted from its open stays."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT area.id, area.event_id, area.name, area.capacity, COUNT(visit.id) FROM attendees_area area "
            "LEFT JOIN attendees_visit visit ON visit.area_id = area.id AND visit.voided_at IS NULL "
            "AND visit.checked_out_at IS NULL WHERE area.id = %s "
            "GROUP BY area.id, area.event_id, area.name, area.capacity",
            [area_id],
        )
        pk, event_id, name, capacity, inside = cursor.fetchone()
    return json.dumps({"id": pk, "event": event_id, "name": name, "capacity": capacity, "inside": inside}).encode()


def floor_area(area_id: int) -> bytes:
    """An area's JSON: one row, its live number inside included."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, event_id, name, capacity, inside FROM attendees_area WHERE id = %s", [area_id])
        pk, event_id, name, capacity, inside = cursor.fetchone()
    return json.dumps({"id": pk, "event": event_id, "name": name, "capacity": capacity, "inside": inside}).encode()


def history_figures(event_id: int, now: datetime.datetime) -> dict:
    """The attendance figures from the whole history, as they were computed before they
    were kept: the event's row, the attendees, the standing stays in the event, the
    middle of the sorted times inside, the peaks (a running sum over the standing
    records) and the areas."""
    stamp = connection.ops.adapt_datetimefield_value(now)
    of_event = "attendee_id IN (SELECT id FROM attendees_attendee WHERE event_id = %s)"
    with connection.cursor() as cursor:
        cursor.execute("SELECT capacity, inside FROM attendees_event WHERE id = %s", [event_id])
        capacity, inside = cursor.fetchone()
        cursor.execute("SELECT COUNT(*) FROM attendees_attendee WHERE event_id = %s", [event_id])
        (registered,) = cursor.fetchone()
        cursor.execute(
            "SELECT COUNT(*), COUNT(checked_out_at), COUNT(DISTINCT attendee_id) FROM attendees_visit "
            f"WHERE voided_at IS NULL AND area_id IS NULL AND {of_event}",
            [event_id],
        )
        check_ins, check_outs, came = cursor.fetchone()
        median = None
        if came:
            seconds = _seconds_between(f"COALESCE(checked_out_at, {'%s'})", "checked_in_at")
            cursor.execute(
                f"SELECT SUM({seconds}) AS inside_for FROM attendees_visit "
                f"WHERE voided_at IS NULL AND area_id IS NULL AND {of_event} "
                "GROUP BY attendee_id ORDER BY inside_for LIMIT %s OFFSET %s",
                [stamp, event_id, 2 - came % 2, (came - 1) // 2],
            )
            middle = [float(value) for (value,) in cursor.fetchall()]
            median = sum(middle) / len(middle)
        cursor.execute(
            "SELECT area_id, MAX(running) FROM ("
            "SELECT area_id, SUM(CASE WHEN type = 'check_in' THEN 1 ELSE -1 END) OVER ("
            "PARTITION BY area_id ORDER BY at, CASE WHEN type = 'check_in' THEN 1 ELSE -1 END, id) AS running "
            f"FROM attendees_record WHERE voided_at IS NULL AND {of_event}) running GROUP BY area_id",
            [event_id],
        )
        peaks = dict(cursor.fetchall())
        cursor.execute(
            "SELECT area.id, area.name, area.capacity, area.inside, COUNT(visit.id) FROM attendees_area area "
            "LEFT JOIN attendees_visit visit ON visit.area_id = area.id AND visit.voided_at IS NULL "
            "WHERE area.event_id = %s GROUP BY area.id, area.name, area.capacity, area.inside "
            "ORDER BY area.name, area.id",
            [event_id],
        )
        areas = [
            {
                "id": pk,
                "name": name,
                "capacity": area_capacity,
                "inside": area_inside,
                "peak_inside": peaks.get(pk, 0),
                "check_ins": area_check_ins,
            }
            for pk, name, area_capacity, area_inside, area_check_ins in cursor.fetchall()
        ]
    return {
        "registered": registered,
        "inside": inside,
        "left": came - inside,
        "never_arrived": registered - came,
        "check_ins": check_ins,
        "check_outs": check_outs,
        "median_seconds_inside": median,
        "capacity": capacity,
        "peak_inside": peaks.get(None, 0),
        "areas": areas,
    }


def history_event_page(event_id: int, now: datetime.datetime) -> dict:
    """What the event page shows, without the page, from the whole history: the
    figures, and the check-ins and check-outs per minute of the event and of each area
    that the chart is drawn from."""
    figures = history_figures(event_id, now)
    minute = (
        "date_trunc('minute', {field} AT TIME ZONE 'UTC')"
        if connection.vendor == "postgresql"
        else "strftime('%%Y-%%m-%%d %%H:%%M', {field})"
    )
    per_minute = {}
    with connection.cursor() as cursor:
        for field, closed in (("checked_in_at", ""), ("checked_out_at", "AND visit.checked_out_at IS NOT NULL ")):
            cursor.execute(
                f"SELECT visit.area_id, {minute.format(field=f'visit.{field}')} AS minute, COUNT(*) "
                "FROM attendees_visit visit JOIN attendees_attendee attendee ON attendee.id = visit.attendee_id "
                f"WHERE attendee.event_id = %s AND visit.voided_at IS NULL {closed}"
                "GROUP BY visit.area_id, minute",
                [event_id],
            )
            per_minute[field] = cursor.fetchall()
    return {"figures": figures, "per_minute": per_minute}


def floor_figures(event_id: int, now: datetime.datetime) -> dict:
    """The attendance figures from the kept rows, as the app reads them: the event's row
    with its live counts, the minutes of every place added up (the peak: the running
    total before each minute plus its rise, at its highest), the middle of the sorted
    times inside, and the areas."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT capacity, inside, registered, arrived FROM attendees_event WHERE id = %s", [event_id])
        capacity, inside, registered, arrived = cursor.fetchone()
        cursor.execute(
            "SELECT area_key, SUM(check_ins), SUM(check_outs), MAX(before + rise) FROM ("
            "SELECT area_key, check_ins, check_outs, rise, SUM(check_ins - check_outs) OVER ("
            "PARTITION BY area_key ORDER BY minute) - (check_ins - check_outs) AS before "
            "FROM attendees_placeminute WHERE event_id = %s) minutes GROUP BY area_key",
            [event_id],
        )
        places = {key: (ins, outs, max(peak, 0)) for key, ins, outs, peak in cursor.fetchall()}
        median = None
        if arrived:
            cursor.execute(
                "SELECT microseconds + open_stays * %s AS total FROM attendees_timeinside "
                "WHERE event_id = %s AND stays > 0 ORDER BY total LIMIT %s OFFSET %s",
                [(now - TimeInside.EPOCH) // MICROSECOND, event_id, 2 - arrived % 2, (arrived - 1) // 2],
            )
            middle = [value for (value,) in cursor.fetchall()]
            median = sum(middle) / len(middle) / 1_000_000
        cursor.execute(
            "SELECT id, name, capacity, inside FROM attendees_area WHERE event_id = %s ORDER BY name, id", [event_id]
        )
        areas = [
            {
                "id": pk,
                "name": name,
                "capacity": area_capacity,
                "inside": area_inside,
                "peak_inside": places.get(pk, (0, 0, 0))[2],
                "check_ins": places.get(pk, (0, 0, 0))[0],
            }
            for pk, name, area_capacity, area_inside in cursor.fetchall()
        ]
    check_ins, check_outs, peak = places.get(0, (0, 0, 0))
    return {
        "registered": registered,
        "inside": inside,
        "left": arrived - inside,
        "never_arrived": registered - arrived,
        "check_ins": check_ins,
        "check_outs": check_outs,
        "median_seconds_inside": median,
        "capacity": capacity,
        "peak_inside": peak,
        "areas": areas,
    }


def floor_event_page(event_id: int, now: datetime.datetime) -> dict:
    """What the event page shows, without the page, from the kept rows: the figures, and
    how many were inside each place at the chart's moments, from the kept minutes'
    check-ins less check-outs summed per step."""
    figures = floor_figures(event_id, now)
    with connection.cursor() as cursor:
        cursor.execute("SELECT starts_at, ends_at FROM attendees_event WHERE id = %s", [event_id])
        starts, ends = (moment.replace(tzinfo=datetime.UTC) for moment in cursor.fetchone())
        end = max(min(ends, now), starts)
        step = CHART_STEP
        while (end - starts) / step > selectors.MAX_STEPS:
            step *= 2
        since = CHART_ORIGIN + (starts - CHART_ORIGIN) // step * step
        moments = [since + n * step for n in range(-(-(end - since) // step))] + [end]
        if connection.vendor == "postgresql":
            step_of = "CASE WHEN minute < %s THEN -1 ELSE FLOOR(EXTRACT(EPOCH FROM minute - %s) / %s)::bigint END"
            times = [since, since]
        else:
            step_of = (
                "CASE WHEN julianday(minute) < julianday(%s) THEN -1 "
                "ELSE CAST(ROUND((julianday(minute) - julianday(%s)) * 86400) AS INTEGER) / %s END"
            )
            times = [f"{since:%Y-%m-%d %H:%M:%S}"] * 2
        cursor.execute(
            f"SELECT area_key, {step_of} AS step, SUM(check_ins - check_outs) FROM attendees_placeminute "
            "WHERE event_id = %s AND minute <= %s GROUP BY area_key, step",
            [
                *times,
                step // datetime.timedelta(seconds=1),
                event_id,
                end if connection.vendor == "postgresql" else f"{end:%Y-%m-%d %H:%M:%S.%f}",
            ],
        )
        changes = {}
        for key, number, change in cursor.fetchall():
            changes.setdefault(key, {})[number] = change
    lines = {}
    for key, steps in changes.items():
        counts = [steps.get(-1, 0)]
        for number in range(len(moments) - 2):
            counts.append(counts[-1] + steps.get(number, 0))
        lines[key] = [*counts[: len(moments) - 1], sum(steps.values())]
    return {"figures": figures, "moments": moments, "lines": lines}


CHART_STEP = datetime.timedelta(minutes=15)
CHART_ORIGIN = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)


# The measure


def run(*, sizes: list[int], repeat: int, scans: int, door_staff, superuser) -> Section:
    # The admin's pages name static files; the run has no collected ones, so their URLs
    # come from the plain storage rather than from a manifest.
    plain = {**settings.STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
    with override_settings(STORAGES=plain):
        return _measure(sizes=sizes, repeat=repeat, scans=scans, door_staff=door_staff, superuser=superuser)


def _measure(*, sizes: list[int], repeat: int, scans: int, door_staff, superuser) -> Section:
    section = Section(
        key="places",
        title="6. Places: door counts, an area's inside, attendance figures and the admin event page",
        columns=["attendees", "request", "ms", "queries", "in SQL ms", "floor ms", "floor q", "/floor", "history ms"],
    )
    now = timezone.now()
    events = {}
    setup_seconds = {}
    for size in sizes:
        with Clock() as clock:
            events[size] = make_event_with_history(size, now=now)
        setup_seconds[size] = clock.seconds
    vacuum_analyze()
    door = Client(HTTP_HOST="127.0.0.1")
    door.force_login(door_staff)
    admin = Client(HTTP_HOST="127.0.0.1")
    admin.force_login(superuser)
    reader = api_client(superuser)
    areas = {size: Area.objects.filter(event=event).order_by("name", "pk").first() for size, event in events.items()}
    requests = {
        "door counts": (
            lambda size: expect(door.get("/door/counts/", {"event": events[size].pk}), 200).content,
            lambda size: floor_counts(events[size].pk),
            lambda size: counts_from_history(events[size].pk),
            repeat * 4,
        ),
        "area inside": (
            lambda size: expect(reader.get(f"/api/areas/{areas[size].pk}/"), 200).content,
            lambda size: floor_area(areas[size].pk),
            lambda size: history_area(areas[size].pk),
            repeat * 4,
        ),
        "figures": (
            lambda size: expect(reader.get(f"/api/events/{events[size].pk}/attendance/"), 200).content,
            lambda size: floor_figures(events[size].pk, timezone.now()),
            lambda size: history_figures(events[size].pk, timezone.now()),
            repeat,
        ),
        "event page": (
            lambda size: expect(admin.get(f"/admin/attendees/event/{events[size].pk}/change/"), 200).content,
            lambda size: floor_event_page(events[size].pk, timezone.now()),
            lambda size: history_event_page(events[size].pk, timezone.now()),
            repeat,
        ),
    }
    facts = {size: {} for size in sizes}
    for size in sizes:
        _check_floors(events[size], areas[size], reader)
        for name, (fetch, floor, _, _) in requests.items():
            fetch(size)
            with captured_queries() as queries:
                fetch(size)
            facts[size][name] = {
                "queries": len(queries),
                "sql_seconds": [float(query["time"]) for query in queries.captured_queries],
            }
            floor(size)
            with captured_queries() as queries:
                floor(size)
            facts[size][name]["floor_queries"] = len(queries)
    timings = {size: {name: {"request": [], "floor": [], "history": []} for name in requests} for size in sizes}
    # The whole-history versions are timed in passes of their own: a request timed just
    # after one (some 50 to 700 ms of work at 100,000) took a millisecond or two longer
    # than after the cheap floor, whose time it would then be compared with.
    for variants in ((("request", 0), ("floor", 1)), (("history", 2),)):
        for name, (*calls, runs) in requests.items():
            for rep in range(runs):
                # Round-robin over the sizes, so that drift on a busy machine spreads evenly.
                for size, _ in rotated(events, rep):
                    for variant, which in variants:
                        with Clock() as clock:
                            calls[which](size)
                        timings[size][name][variant].append(clock.seconds)
    results = []
    for size in sizes:
        for name in requests:
            fact = facts[size][name]
            request_median = median(timings[size][name]["request"])
            floor_median = median(timings[size][name]["floor"])
            history_median = median(timings[size][name]["history"])
            results.append(
                {
                    "attendees": size,
                    "request": name,
                    "median_seconds": request_median,
                    "floor_median_seconds": floor_median,
                    "history_median_seconds": history_median,
                    **fact,
                    "seconds": timings[size][name],
                }
            )
            section.rows.append(
                [
                    f"{size:,}",
                    name,
                    ms(request_median),
                    fact["queries"],
                    ms(sum(fact["sql_seconds"])),
                    ms(floor_median),
                    fact["floor_queries"],
                    f"{figure(ratio(request_median, floor_median))}x",
                    ms(history_median),
                ]
            )
    scan_results = _time_scans(events[sizes[-1]], areas[sizes[-1]], scans=scans, user=door_staff)
    for name in ("event", "area"):
        section.rows.append(
            [
                f"{sizes[-1]:,}",
                f"scan {'into an area' if name == 'area' else 'without an area'}",
                ms(scan_results[f"{name}_median_seconds"]),
                scan_results[f"{name}_queries"],
                None,
                None,
                None,
                None,
                None,
            ]
        )
    section.data = {
        "results": results,
        "scans": scan_results,
        "setup_seconds": setup_seconds,
        "rows": {size: _table_sizes(events[size]) for size in sizes},
    }
    section.notes += [
        "each event is under way, 8 hours in: half of its attendees inside (4 in 5 of them in one of 3 areas, "
        "some moved between areas), 2 in 5 gone after one or two stays, 1 in 10 never arrived, 1 in 50 with a "
        "voided stay; rows per size in the JSON; set up in "
        + ", ".join(f"{figure(seconds)} s at {size:,}" for size, seconds in setup_seconds.items()),
        f"medians of {repeat * 4} requests (counts, area) or {repeat} (figures, event page), interleaved over "
        "the sizes, each request beside its floor, the whole-history versions in a pass of their own; "
        "queries counted with CaptureQueriesContext (session, user and permissions included); "
        "in SQL: the time the statements took in the database, in one request",
        "door counts: GET /door/counts/?event=ID as door staff (session); area inside: GET /api/areas/ID/; "
        "figures: GET /api/events/ID/attendance/ (token); event page: GET of the admin's change page with "
        "its figures and chart, as a superuser",
        "floor: the same answer from hand-written SQL reading the same rows as the app (the live numbers "
        "inside, the kept minutes and times inside), without the HTTP stack; for the event page, the figures "
        "and the check-ins and check-outs per minute that the chart is drawn from, without drawing it",
        "history: the same answer from hand-written SQL over the whole history (the stays and the records), "
        "as the app computed it before the numbers and figures were kept",
        f"scans: POST /api/scans/ in-process as door staff, {scans} in and {scans} out per kind, alternated; "
        "into an area: for attendees inside the event, in and out of an area; without one: in and out of the "
        "event; queries per scan (in and out alike) counted on one check-in",
    ]
    section.targets += _targets(results, scan_results)
    return section


def _check_floors(event: Event, area: Area, reader) -> None:
    """The floors give the same answers as the app: otherwise they measure something else."""
    counts = json.loads(floor_counts(event.pk))
    event.refresh_from_db()
    served = selectors.event_counts(event)
    history = counts_from_history(event.pk)
    if (counts["registered"], counts["inside"], counts["left"]) != history or (
        served["registered"],
        served["inside"],
        served["left"],
    ) != history:
        raise RuntimeError(f"the floor's counts {counts} and the app's {served} differ from the history's {history}")
    now = timezone.now()
    app = selectors.attendance_figures(event, now)
    app_median = app.pop("median_seconds_inside")
    for name, answer in (("floor", floor_figures(event.pk, now)), ("history", history_figures(event.pk, now))):
        median_found = answer.pop("median_seconds_inside")
        if answer != app or abs((median_found or 0) - (app_median or 0)) > 0.01:
            raise RuntimeError(f"the {name}'s figures {answer} differ from the app's {app}")
    page = floor_event_page(event.pk, now)
    points, by_area = selectors.occupancy_by_area(event, now=now)
    drawn = {0: [count for _, count in points]} | {
        place.pk: [count for _, count in line] for place, line in by_area if place.pk in page["lines"]
    }
    if page["moments"] != [at for at, _ in points] or page["lines"] != drawn:
        raise RuntimeError(f"the floor's chart {page['lines']} differs from the app's {drawn}")
    served_area = expect(reader.get(f"/api/areas/{area.pk}/"), 200).json()
    if json.loads(floor_area(area.pk)) != served_area or json.loads(history_area(area.pk)) != served_area:
        raise RuntimeError("the floor's or the history's area differs from the API's")


def _time_scans(event: Event, area: Area, *, scans: int, user) -> dict:
    """In-process scans by ticket code, in and out, of the event and of an area."""
    # Attendees who never arrived, so that the figures above saw the history as made.
    outside = list(
        Attendee.objects.filter(event=event)
        .exclude(visits__isnull=False)
        .order_by("pk")
        .values_list("pk", "ticket_code")[: 2 * scans]
    )
    if len(outside) < 2 * scans:
        raise RuntimeError(f"{2 * scans} attendees who never arrived are needed for the scans, not {len(outside)}")
    pools = {"event": outside[:scans], "area": outside[scans:]}
    for pk, _ in pools["area"]:
        services.check_in(attendee=Attendee.objects.get(pk=pk), by=user)
    client = api_client(user)
    place = {"event": {"event": event.pk}, "area": {"event": event.pk, "area": area.pk}}

    def scan(kind: str, code: str, direction: str):
        body = {"ticket_code": code, "direction": direction, **place[kind]}
        return expect(client.post("/api/scans/", body, format="json"), 201)

    facts = {}
    for kind, pool in pools.items():
        _, code = pool[0]
        with captured_queries() as queries:
            scan(kind, code, "in")
        facts[f"{kind}_queries"] = len(queries)
        scan(kind, code, "out")
    seconds = {"event": [], "area": []}
    for turn in range(scans):
        for kind in ("event", "area") if turn % 2 == 0 else ("area", "event"):
            _, code = pools[kind][turn]
            for direction in ("in", "out"):
                with Clock() as clock:
                    scan(kind, code, direction)
                seconds[kind].append(clock.seconds)
    for pk, _ in pools["area"]:
        services.check_out(attendee=Attendee.objects.get(pk=pk), by=user)
    return {
        **facts,
        "scans_per_kind": 2 * scans,
        "event_median_seconds": median(seconds["event"]),
        "area_median_seconds": median(seconds["area"]),
        "seconds": seconds,
    }


def _table_sizes(event: Event) -> dict:
    with connection.cursor() as cursor:
        of_event = "attendee_id IN (SELECT id FROM attendees_attendee WHERE event_id = %s)"
        counts = {}
        for table in ("attendees_visit", "attendees_record"):
            cursor.execute(f"SELECT COUNT(*) FROM {table} WHERE {of_event}", [event.pk])
            counts[table.removeprefix("attendees_") + "s"] = cursor.fetchone()[0]
        cursor.execute("SELECT COUNT(*) FROM attendees_placeminute WHERE event_id = %s", [event.pk])
        counts["place_minutes"] = cursor.fetchone()[0]
    return {"attendees": Attendee.objects.filter(event=event).count(), **counts}


def _targets(results: list[dict], scans: dict) -> list[Target]:
    def at_every_size(request: str, limit_ms: float, label: str) -> Target:
        mine = [result for result in results if result["request"] == request]
        return Target(
            f"{label} within {figure(limit_ms)} ms at every size",
            all(ms(result["median_seconds"]) <= limit_ms for result in mine),
            ", ".join(
                f"{figure(ms(result['median_seconds']))} ms at {result['attendees']:,} "
                f"(floor {figure(ms(result['floor_median_seconds']))} ms)"
                for result in mine
            ),
        )

    area_ratio = ratio(scans["area_median_seconds"], scans["event_median_seconds"])
    return [
        at_every_size("door counts", COUNTS_MS, "door counts"),
        at_every_size("area inside", COUNTS_MS, "an area's inside"),
        at_every_size("figures", FIGURES_MS, "attendance figures"),
        at_every_size("event page", EVENT_PAGE_MS, "the admin event page with its chart"),
        Target(
            f"a scan into an area at most {MAX_AREA_SCAN_RATIO}x a scan without one",
            area_ratio <= MAX_AREA_SCAN_RATIO,
            f"{figure(area_ratio)}x ({figure(ms(scans['area_median_seconds']))} ms against "
            f"{figure(ms(scans['event_median_seconds']))} ms, {scans['area_queries']} queries against "
            f"{scans['event_queries']})",
        ),
    ]
