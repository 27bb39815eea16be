"""4. The list endpoint: a page of 100 attendees with their times, for small and large events."""

import json

from django.db import connection

from attendees.models import Attendee

from . import data
from .client import api_client, expect
from .history import attendee_body
from .report import Section, Target, ms
from .timing import Clock, captured_queries, median, rotated, statements

PAGE_SIZE = 100


def floor_page(event_id: int) -> bytes:
    """The page's body from three hand-written SELECTs and json.dumps, without the HTTP stack."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM attendees_attendee WHERE event_id = %s", [event_id])
        count = cursor.fetchone()[0]
        cursor.execute(
            "SELECT id, event_id, first_name, last_name, email FROM attendees_attendee WHERE event_id = %s "
            "ORDER BY last_name, first_name, id LIMIT %s",
            [event_id, PAGE_SIZE],
        )
        attendees = cursor.fetchall()
        ids = [row[0] for row in attendees]
        cursor.execute(
            "SELECT attendee_id, checked_in_at, checked_out_at FROM attendees_visit "
            f"WHERE attendee_id IN ({', '.join(['%s'] * len(ids))}) AND voided_at IS NULL ORDER BY checked_in_at, id",
            ids,
        )
        visits = {pk: [] for pk in ids}
        for attendee_id, checked_in_at, checked_out_at in cursor.fetchall():
            visits[attendee_id].append((checked_in_at, checked_out_at))
    results = [attendee_body(*row, visits[row[0]]) for row in attendees]
    return json.dumps({"count": count, "next": None, "previous": None, "results": results}).encode()


def naive_page(event_id: int) -> bytes:
    """The same body through the ORM without a prefetch: one query per attendee for the times."""
    attendees = Attendee.objects.filter(event_id=event_id).order_by("last_name", "first_name", "id")
    count = attendees.count()
    results = []
    for attendee in attendees[:PAGE_SIZE]:
        visits = [(visit.checked_in_at, visit.checked_out_at) for visit in attendee.visits.order_by("checked_in_at")]
        fields = (attendee.pk, attendee.event_id, attendee.first_name, attendee.last_name, attendee.email)
        results.append(attendee_body(*fields, visits))
    return json.dumps({"count": count, "next": None, "previous": None, "results": results}).encode()


def run(*, sizes: list[int], repeat: int, reader) -> Section:
    section = Section(
        key="list",
        title=f"4. List endpoint: a page of {PAGE_SIZE} attendees with their times",
        columns=["attendees", "GET ms", "queries", "in SQL ms", "bytes", "floor ms", "floor q", "naive ms", "naive q"],
    )
    events = {}
    for size in sizes:
        event = data.make_event(f"list {size}", size)
        ids = data.attendee_ids(event)
        # Everyone has left once; every other attendee is back inside.
        data.add_visits(ids, closed=True)
        data.add_visits(ids[::2], closed=False)
        data.count_inside(event)
        events[size] = event
    data.analyze()
    client = api_client(reader)
    variants = {
        "get": lambda event: expect(client.get(_path(event)), 200).content,
        "floor": lambda event: floor_page(event.pk),
        "naive": lambda event: naive_page(event.pk),
    }
    facts = {size: {} for size in sizes}
    for size, event in events.items():
        for variant, fetch in variants.items():
            fetch(event)
            with captured_queries() as queries:
                body = fetch(event)
            facts[size][f"{variant}_queries"] = len(queries)
            facts[size][f"{variant}_bytes"] = len(body)
            if variant == "get":
                facts[size]["get_sql"] = statements(queries, token=data.token_for(reader))
                facts[size]["get_sql_seconds"] = [float(query["time"]) for query in queries.captured_queries]
    timings = {size: {variant: [] for variant in variants} for size in sizes}
    for rep in range(repeat):
        for size, event in rotated(events, rep):
            for variant, fetch in variants.items():
                with Clock() as clock:
                    fetch(event)
                timings[size][variant].append(clock.seconds)
    results = []
    for size in sizes:
        medians = {variant: median(values) for variant, values in timings[size].items()}
        results.append(
            {
                "attendees": size,
                "repetitions": repeat,
                **facts[size],
                **{f"{variant}_median_seconds": value for variant, value in medians.items()},
                "seconds": timings[size],
            }
        )
        section.rows.append(
            [
                f"{size:,}",
                ms(medians["get"]),
                facts[size]["get_queries"],
                ms(sum(facts[size]["get_sql_seconds"])),
                f"{facts[size]['get_bytes']:,}",
                ms(medians["floor"]),
                facts[size]["floor_queries"],
                ms(medians["naive"]),
                facts[size]["naive_queries"],
            ]
        )
    section.data = {"results": results}
    section.notes.append(
        f"GET /api/attendees/?event=ID&page_size={PAGE_SIZE} through the test client with a superuser's token; "
        f"medians of {repeat} requests; in SQL: the time its statements took in the database, in one request "
        "(per statement in the JSON)"
    )
    section.notes.append(
        "floor: count, page and visits in three hand-written SELECTs plus json.dumps, no HTTP stack; "
        "naive: the ORM without a prefetch, one query per attendee"
    )
    counts = sorted({result["get_queries"] for result in results})
    section.targets.append(
        Target(
            "same query count for every event size",
            len(counts) == 1 if len(results) > 1 else None,
            ", ".join(f"{result['get_queries']} queries at {result['attendees']:,}" for result in results),
        )
    )
    return section


def _path(event) -> str:
    return f"/api/attendees/?event={event.pk}&page_size={PAGE_SIZE}"
