"""Storm the API with concurrent door scanners and show that nothing is lost or doubled.

    python -m loadtests.storm [--small] [--database-url postgres://postgres@127.0.0.1:5432/postgres]

It creates a fresh PostgreSQL database on the server of `--database-url`, migrates it,
creates a superuser and a door-staff user with API tokens, starts `gunicorn
eventsite.wsgi` with 4 workers on a free 127.0.0.1 port (production settings), creates
its own event and attendees through the API, and runs:

1. races: 50 simultaneous check-outs of one attendee who is inside, and 50
   simultaneous check-ins of one who has left: exactly one 201 each, the rest 409;
   and 100 attendees outside checking in at once to an area of capacity 10: exactly
   ten 201s, ninety 409s `capacity_reached`, ten inside the area and ten more inside
   the event, ten check-ins recorded in each and nothing for the refused (the ten then
   leave by a bulk check-out, which empties the area);
2. a storm: clients sending random check-ins, check-outs and bulk check-outs over 30
   attendees while, at the same time, other clients move the same attendees between
   three areas of the event (one of them small: 5 places), take them out of areas and
   out of the event, by check-ins and check-outs with an `area`, scans and bulk
   check-outs, with the event itself limited to fewer places than there are attendees.
   Every request carries its own `station`, so each record in the history says which
   request wrote it: every 201 (and every bulk `checked_out`) must be there exactly
   once, at one instant per request, and nothing else. Each history must alternate in,
   out, in, out in time order, in the event and in every area; nobody may ever be in
   two areas at once, or in an area while outside the event. Throughout the storm the
   areas and the event are read again and again, and no place may ever show more
   inside than its capacity; afterwards the peaks from the records must not exceed the
   capacities either, the live counts must equal the open stays in the database, and
   the figures (check-ins and peaks, kept as the stays are written) must equal what all
   the stays give, counted afresh;
3. retries: 20 clients sending one request with the same `Idempotency-Key` at once:
   one record, every response the same;
4. bulk check-out racing with single check-outs of the same attendees: each visit is
   closed exactly once.

It prints a table and exits 1 on any lost or duplicated record, 5xx, unanswered
request or broken expectation. The server and the database are always removed.
`--small` runs the same checks with fewer clients and requests, for CI.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import signal
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path

from .harness import (
    REQUEST_TIMEOUT,
    Answer,
    Client,
    History,
    Site,
    TimeLimitExceeded,
    Written,
    arguments,
    figures_from_stays,
    print_log,
    running_site,
)


@dataclasses.dataclass(frozen=True)
class Sizes:
    """The sizes of a run; the defaults are the full run's."""

    race_clients: int = 50
    # The contract's race for a place: this many outside check in at once to an area of `capacity_race_places`.
    capacity_race_clients: int = 100
    capacity_race_places: int = 10
    storm_clients: int = 8
    storm_requests: int = 150
    storm_attendees: int = 30
    # Clients moving attendees between areas, beside the storm's own clients.
    area_clients: int = 8
    # The capacities of the storm's three areas, and the places of the event beyond those already taken.
    area_capacities: tuple[int | None, ...] = (5, 12, None)
    event_places: int = 16
    retry_clients: int = 20
    bulk_race_attendees: int = 20
    bulk_race_bulk_clients: int = 4
    time_limit: float = 300


FULL = Sizes()
SMALL = Sizes(
    race_clients=20,
    storm_clients=4,
    storm_requests=40,
    storm_attendees=10,
    area_clients=4,
    area_capacities=(3, 5, None),
    event_places=6,
    retry_clients=10,
    bulk_race_attendees=8,
    bulk_race_bulk_clients=2,
    time_limit=45,
)

CHECKIN_CONFLICTS = {"already_checked_in", "capacity_reached"}
CHECKOUT_CONFLICTS = {"not_checked_in", "already_checked_out"}
AREA_NAMES = ("Small room", "Hall", "Garden")
# How often the area clients pick each area: the small one most, to keep it under pressure.
AREA_WEIGHTS = (5, 3, 2)
# Pause between two readings of the numbers inside during the storm.
SAMPLE_PAUSE = 0.02


@dataclasses.dataclass
class Row:
    """One scenario's line of the table, and what went wrong in it."""

    scenario: str
    sent: int = 0
    ok: int = 0
    conflict: int = 0
    other_4xx: int = 0
    server_error: int = 0
    no_reply: int = 0
    lost: int = 0
    duplicated: int = 0
    problems: list[str] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)
    # A check made after a scenario rather than requests sent: what it found, shown in the table.
    figure: str | None = None
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock, repr=False)

    def count(self, reply: Answer) -> None:
        with self.lock:
            self.sent += 1
            if 200 <= reply.status < 300:
                self.ok += 1
            elif reply.status == 409:
                self.conflict += 1
            elif 400 <= reply.status < 500:
                self.other_4xx += 1
            elif reply.status >= 500:
                self.server_error += 1
            else:
                self.no_reply += 1

    def problem(self, text: str) -> None:
        with self.lock:
            self.problems.append(text)

    @property
    def failed(self) -> bool:
        return bool(self.server_error or self.no_reply or self.lost or self.duplicated or self.problems)


def run_together(count: int, work: Callable[[int, Client], None], site: Site, row: Row) -> None:
    """Run `work(index, client)` in `count` threads, each with its own connection, all
    released at the same moment by a barrier."""
    barrier = threading.Barrier(count)

    def thread_main(index: int) -> None:
        client = site.door_client()
        try:
            client.connect()
            barrier.wait(timeout=REQUEST_TIMEOUT)
            work(index, client)
        except threading.BrokenBarrierError:
            row.problem("the clients could not all be started together")
        except TimeLimitExceeded as error:
            row.problem(str(error))
        except Exception as error:
            barrier.abort()
            row.problem(f"client {index} failed: {error!r}")
        finally:
            client.close()

    threads = [threading.Thread(target=thread_main, args=(index,), daemon=True) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=max(0.0, site.deadline - time.monotonic()) + REQUEST_TIMEOUT)
    if any(thread.is_alive() for thread in threads):
        row.problem("some clients did not finish in time")


def count_records(row: Row, *, expected: int, recorded: int) -> None:
    row.lost += max(0, expected - recorded)
    row.duplicated += max(0, recorded - expected)


def check_conflict(row: Row, reply: Answer, codes: set[str]) -> None:
    if reply.status == 409 and reply.code not in codes:
        row.problem(f"409 with code {reply.code!r}, expected one of {sorted(codes)}")
    elif reply.status not in {201, 409}:
        row.problem(f"unexpected answer {reply.status}: {reply.body!r}"[:300])


def race(site: Site, sizes: Sizes, *, action: str, start_state: str, conflict: str) -> Row:
    """Everyone sends `action` for one attendee at once: exactly one may succeed."""
    row = Row(f"race: {sizes.race_clients} x {action}")
    (pk,) = site.create_attendees(1, f"race{action}", start_state)
    before = site.history(pk)
    replies: list[Answer] = []

    def work(index: int, client: Client) -> None:
        reply = client.send("POST", f"/api/attendees/{pk}/{action}/")
        row.count(reply)
        with row.lock:
            replies.append(reply)

    run_together(sizes.race_clients, work, site, row)
    statuses = Counter(reply.status for reply in replies)
    if statuses[201] != 1:
        row.problem(f"expected exactly one 201, got {statuses[201]}")
    for reply in replies:
        check_conflict(row, reply, {conflict})
    after = site.history(pk)
    row.notes.append(
        f"history went from {len(before.ins)} check-ins and {len(before.outs)} check-outs "
        f"to {len(after.ins)} and {len(after.outs)}"
    )
    if action == "checkout":
        count_records(row, expected=len(before.outs) + statuses[201], recorded=len(after.outs))
        count_records(row, expected=len(before.ins), recorded=len(after.ins))
    else:
        count_records(row, expected=len(before.ins) + statuses[201], recorded=len(after.ins))
        count_records(row, expected=len(before.outs), recorded=len(after.outs))
    for text in after.problems():
        row.problem(f"attendee {pk}: {text}")
    return row


@dataclasses.dataclass(frozen=True)
class Sent:
    """A request of the storm that may record something, known by its own station."""

    station: str
    action: str  # "checkin", "checkout", "scan" or "bulk"
    pks: tuple[int, ...]
    area: int | None
    reply: Answer

    @property
    def recorded(self) -> bool:
        return self.reply.status == (200 if self.action == "bulk" else 201)

    @property
    def enters(self) -> bool:
        if self.action == "scan":
            return self.reply.body["result"] == "checked_in"
        return self.action == "checkin"


@dataclasses.dataclass
class Places:
    """The storm's areas and event: their capacities and what was seen inside them."""

    event_capacity: int
    areas: dict[int, tuple[str, int | None]]
    most_seen: Counter[int | None] = dataclasses.field(default_factory=Counter)
    samples: int = 0
    over: list[str] = dataclasses.field(default_factory=list)

    def name(self, area: int | None) -> str:
        return "event" if area is None else self.areas[area][0]

    def capacity(self, area: int | None) -> int | None:
        return self.event_capacity if area is None else self.areas[area][1]

    def read(self, site: Site, client: Client) -> dict[int | None, int]:
        """The numbers inside the event and its areas, as any door reads them."""
        areas = client.get(f"/api/areas/?event={site.event_id}&page_size=100")["results"]
        event = client.get(f"/api/events/{site.event_id}/")
        return {None: event["inside"], **{area["id"]: area["inside"] for area in areas if area["id"] in self.areas}}

    def look(self, site: Site, client: Client) -> None:
        """Read the numbers inside, keep the most seen, and note any place above its capacity."""
        seen = self.read(site, client)
        self.samples += 1
        for area, inside in seen.items():
            self.most_seen[area] = max(self.most_seen[area], inside)
            capacity = self.capacity(area)
            if capacity is not None and inside > capacity:
                self.over.append(f"{self.name(area)} showed {inside} inside, capacity {capacity}")

    def figure(self, values: dict[int | None, int]) -> str:
        def limit(area: int | None) -> str:
            capacity = self.capacity(area)
            return "-" if capacity is None else str(capacity)

        return ", ".join(f"{self.name(area)} {values.get(area, 0)}/{limit(area)}" for area in [None, *self.areas])


def storm(site: Site, sizes: Sizes, seed: int) -> list[Row]:
    """Random check-ins, check-outs and bulk check-outs from many clients at once, while
    others move the same attendees between areas, and the numbers inside are watched."""
    row = Row(f"storm: {sizes.storm_clients} clients x {sizes.storm_requests}")
    moves = Row(f"areas: {sizes.area_clients} clients x {sizes.storm_requests}")
    pks = site.create_attendees(sizes.storm_attendees, "storm")
    codes = site.ticket_codes(pks)
    areas = [site.create_area(name, capacity) for name, capacity in zip(AREA_NAMES, sizes.area_capacities, strict=True)]
    places = Places(
        event_capacity=site.event()["inside"] + sizes.event_places,
        areas=dict(zip(areas, zip(AREA_NAMES, sizes.area_capacities, strict=True), strict=True)),
    )
    site.limit_event(places.event_capacity)
    sent: list[Sent] = []
    sent_lock = threading.Lock()
    senders = sizes.storm_clients + sizes.area_clients

    def send(client: Client, row: Row, path: str, body: dict, action: str, pks: tuple[int, ...], area: int | None):
        reply = client.send("POST", path, body)
        row.count(reply)
        with sent_lock:
            sent.append(Sent(body["station"], action, pks, area, reply))
        return reply

    def door(index: int, client: Client) -> None:
        rng = random.Random(seed * 1000 + index)
        for number in range(sizes.storm_requests):
            station = f"door {index}.{number}"
            roll = rng.random()
            if roll < 0.8:
                action, pk = ("checkin" if roll < 0.4 else "checkout"), rng.choice(pks)
                reply = send(client, row, f"/api/attendees/{pk}/{action}/", {"station": station}, action, (pk,), None)
                check_conflict(row, reply, CHECKIN_CONFLICTS if action == "checkin" else CHECKOUT_CONFLICTS)
            else:
                ids = rng.sample(pks, rng.randint(1, 4))
                body = {"ids": ids, "station": station}
                reply = send(client, row, "/api/attendees/bulk-checkout/", body, "bulk", tuple(ids), None)
                check_bulk(row, reply, ids)

    def mover(index: int, client: Client) -> None:
        rng = random.Random(seed * 1000 + 500 + index)
        for number in range(sizes.storm_requests):
            station = f"areas {index}.{number}"
            roll, pk = rng.random(), rng.choice(pks)
            area = rng.choices(areas, weights=AREA_WEIGHTS)[0]
            body = {"area": area, "station": station}
            if roll < 0.4:
                reply = send(client, moves, f"/api/attendees/{pk}/checkin/", body, "checkin", (pk,), area)
                check_conflict(moves, reply, CHECKIN_CONFLICTS)
            elif roll < 0.55:
                body.update(ticket_code=codes[pk], direction=rng.choice(["in", "out", "auto"]))
                reply = send(client, moves, "/api/scans/", body, "scan", (pk,), area)
                check_conflict(moves, reply, CHECKIN_CONFLICTS | CHECKOUT_CONFLICTS)
            elif roll < 0.75:
                reply = send(client, moves, f"/api/attendees/{pk}/checkout/", body, "checkout", (pk,), area)
                check_conflict(moves, reply, {"not_checked_in"})
            elif roll < 0.9:
                body = {"station": station}
                reply = send(client, moves, f"/api/attendees/{pk}/checkout/", body, "checkout", (pk,), None)
                check_conflict(moves, reply, CHECKOUT_CONFLICTS)
            else:
                ids = rng.sample(pks, rng.randint(1, 4))
                body.update(ids=ids)
                reply = send(client, moves, "/api/attendees/bulk-checkout/", body, "bulk", tuple(ids), area)
                check_bulk(moves, reply, ids)

    senders_done = threading.Event()
    remaining = senders

    def work(index: int, client: Client) -> None:
        nonlocal remaining
        if index == senders:
            # The watcher: reads the numbers inside, again and again, until every sender is done.
            while not senders_done.wait(SAMPLE_PAUSE):
                places.look(site, client)
            return
        try:
            (door if index < sizes.storm_clients else mover)(index, client)
        finally:
            with sent_lock:
                remaining -= 1
                if remaining == 0:
                    senders_done.set()

    run_together(senders + 1, work, site, row)
    histories = site.histories(pks)
    checks = place_checks(site, places, histories)
    site.limit_event(None)
    account(sent, histories, {"door": row, "areas": moves})
    for pk, history in histories.items():
        for text in history.problems():
            row.problem(f"attendee {pk}: {text}")
    return [row, moves, *checks]


def account(sent: list[Sent], histories: dict[int, History], rows: dict[str, Row]) -> None:
    """Every standing record of the histories must be one that a request's answer
    accounts for, and every record an answer accounts for must be there, exactly once."""
    by_station: dict[str, list[Written]] = {}
    for history in histories.values():
        for record in history.records:
            by_station.setdefault(record.station, []).append(record)
    asked = {request.station for request in sent}
    for station, records in by_station.items():
        if station not in asked:
            rows["areas"].duplicated += len(records)
            rows["areas"].problem(f"{len(records)} records with station {station!r}, which no request sent")
    answers: Counter[str] = Counter()
    records: Counter[str] = Counter()
    for request in sent:
        prefix = request.station.split()[0]
        row, found = rows[prefix], by_station.get(request.station, [])
        if request.reply.status == 0:
            # Unanswered: the client cannot know what happened, and the row fails for it already.
            continue
        if not request.recorded:
            if found:
                row.duplicated += len(found)
                row.problem(f"{request.station}: refused with {request.reply.status} but {len(found)} records")
            continue
        lost, extra, problems = check_records(request, found)
        row.lost += lost
        row.duplicated += extra
        for text in problems:
            row.problem(f"{request.station} ({request.action}): {text}")
        answers[prefix] += 1
        records[prefix] += len(found)
    for prefix, row in rows.items():
        row.notes.append(
            f"{answers[prefix]} answers recorded something and the histories hold the {records[prefix]} records with "
            "their stations: what each asked for, and what came with it at the same instant"
        )


def check_records(request: Sent, found: list[Written]) -> tuple[int, int, list[str]]:
    """(lost, extra, problems): the records with the station of a request that answered
    201 (200 for a bulk check-out) against what it asked for. Each attendee it recorded
    has one record of the kind asked for (a check-in or check-out of the area asked, or
    of the event), and at most one that came with it at the same instant: entering the
    event with an area, leaving the area one moved out of, or leaving an area with the event."""
    kind = ("check_in" if request.enters else "check_out", request.area)
    expected = request.reply.body["checked_out"] if request.action == "bulk" else 1
    problems: list[str] = []
    extra = recorded = 0
    main_ids = set()
    for pk in sorted({record.attendee for record in found}):
        theirs = [record for record in found if record.attendee == pk]
        if pk not in request.pks:
            extra += len(theirs)
            problems.append(f"{len(theirs)} records of attendee {pk}, whom it was not for")
            continue
        main = [record for record in theirs if (record.type, record.area) == kind]
        others = [record for record in theirs if (record.type, record.area) != kind]
        main_ids.update(record.id for record in main)
        recorded += min(1, len(main))
        extra += max(0, len(main) - 1)
        if others and not (main and came_with(request, others)):
            extra += len(others)
            problems.append(f"attendee {pk}: unexpected records {[(r.type, r.area) for r in others]}")
        if len({record.at for record in theirs}) > 1:
            problems.append(
                f"attendee {pk}: not at one instant: {[(r.type, r.area, r.at.isoformat()) for r in theirs]}"
            )
    lost = max(0, expected - recorded)
    extra += max(0, recorded - expected)
    if lost or recorded > expected:
        problems.append(f"the answer accounts for {expected} {kind}, the history has {recorded}")
    if request.action == "scan" and request.reply.body["record"]["id"] not in main_ids:
        problems.append(f"the scan answered record {request.reply.body['record']['id']}, not in the history as {kind}")
    return lost, extra, problems


def came_with(request: Sent, others: list[Written]) -> bool:
    """Whether `others` may come with the record a request asked for, for one attendee."""
    if len(others) > 1:
        return False
    (other,) = others
    if request.area is None:
        return not request.enters and other.type == "check_out" and other.area is not None
    if not request.enters:
        return False
    return (other.type, other.area) == ("check_in", None) or (
        other.type == "check_out" and other.area not in {None, request.area}
    )


def place_checks(site: Site, places: Places, histories: dict[int, History]) -> list[Row]:
    """What the storm left behind and what was seen during it, against the capacities."""
    seen = Row(
        "areas: most seen inside / capacity", figure=f"{places.figure(places.most_seen)}; {places.samples} readings"
    )
    for text in places.over:
        seen.problem(text)
    if not places.samples:
        seen.problem("the numbers inside were never read during the storm")

    figures = site.admin.get(f"/api/events/{site.event_id}/attendance/")
    peaks = {None: figures["peak_inside"], **{area["id"]: area["peak_inside"] for area in figures["areas"]}}
    peak = Row("areas: peak in records / capacity", figure=places.figure(peaks))
    for area, value in peaks.items():
        capacity = places.capacity(area)
        if capacity is not None and value > capacity:
            peak.problem(f"the records put {value} at once in {places.name(area)}, capacity {capacity}")
            if area is not None:
                peak.problem(over_capacity_in_the_records(histories, area, capacity))

    database = stays_in_database(site.event_id)
    overlaps = [f"attendee {pk}: {text}" for pk, h in histories.items() for text in h.overlapping_area_stays()]
    two = Row(
        "nobody in two areas",
        figure=f"now {database.in_two_areas} in two; in the histories {len(overlaps)} overlapping stays",
    )
    for text in overlaps:
        two.problem(text)
    if database.in_two_areas:
        two.problem(f"{database.in_two_areas} attendees have open stays in two areas")
    outside = [f"attendee {pk}: {text}" for pk, h in histories.items() for text in h.area_stays_outside_the_event()]
    out = Row(
        "nobody in an area outside event",
        figure=f"now {database.outside}; in the histories {len(outside)} stays outside one in the event",
    )
    for text in outside:
        out.problem(text)
    if database.outside:
        out.problem(f"{database.outside} attendees are in an area while outside the event")

    read = places.read(site, site.admin)
    counts = Row(
        "counts equal open stays",
        figure=", ".join(
            f"{places.name(area)} {read[area]}={database.open_stays.get(area, 0)}" for area in [None, *places.areas]
        ),
    )
    for area in [None, *places.areas]:
        live, stays = database.live.get(area), database.open_stays.get(area, 0)
        if live != stays or read[area] != stays:
            counts.problem(f"{places.name(area)}: {live} inside ({read[area]} shown), {stays} open stays")
    people = Row(
        "registered and arrived equal attendees and stays",
        figure="live {}/{}, from the stays {}/{}".format(*database.live_people, *database.people),
    )
    if database.live_people != database.people:
        people.problem(f"live registered and arrived {database.live_people}, attendees and stays {database.people}")
    full = Row("no place above capacity at the end", figure=places.figure(database.open_stays))
    for area in [None, *places.areas]:
        stays, capacity = database.open_stays.get(area, 0), places.capacity(area)
        if capacity is not None and stays > capacity:
            full.problem(f"{places.name(area)}: {stays} open stays, capacity {capacity}")
    shown = {
        None: (figures["check_ins"], figures["peak_inside"]),
        **{area["id"]: (area["check_ins"], area["peak_inside"]) for area in figures["areas"]},
    }
    counted = figures_from_stays(site.event_id)
    kept = Row(
        "figures: check-ins/peak = stays'",
        figure=", ".join(
            "{} {}/{}".format(places.name(area), *shown.get(area, ("-", "-"))) for area in [None, *places.areas]
        ),
    )
    for area in [None, *places.areas]:
        if shown.get(area) != counted.get(area, (0, 0)):
            kept.problem(
                f"{places.name(area)}: the figures show check-ins and peak {shown.get(area)}, "
                f"the stays give {counted.get(area, (0, 0))}"
            )
    return [seen, peak, full, counts, people, kept, two, out]


def over_capacity_in_the_records(histories: dict[int, History], area: int, capacity: int) -> str:
    """Why the records of `area` put more than `capacity` inside at once: the most inside
    in the order the records were written (their ids) against the order of their times,
    and the records stamped earlier than one written before them."""
    records = [record for history in histories.values() for record in history.records if record.area == area]

    def most_inside(ordered: list[Written]) -> int:
        inside = most = 0
        for record in ordered:
            inside += 1 if record.type == "check_in" else -1
            most = max(most, inside)
        return most

    by_time = sorted(records, key=lambda record: (record.at, record.type == "check_in", record.id))
    by_id = sorted(records, key=lambda record: record.id)
    late = [
        f"#{later.id} {later.type} at {later.at.time().isoformat()} ({later.station}) after "
        f"#{earlier.id} {earlier.type} at {earlier.at.time().isoformat()} ({earlier.station})"
        for earlier, later in pairwise(by_id)
        if later.at < earlier.at
    ]
    return (
        f"most inside by record id {most_inside(by_id)}, by time {most_inside(by_time)}; "
        f"records stamped before the one written just before them: {'; '.join(late[:5]) or 'none'}"
    )


@dataclasses.dataclass(frozen=True)
class Stays:
    """Open stays as the database holds them, beside the live counts."""

    live: dict[int | None, int]
    open_stays: dict[int | None, int]
    in_two_areas: int
    outside: int
    # The event's live (registered, arrived), and its attendees and those with a standing stay.
    live_people: tuple[int, int]
    people: tuple[int, int]


def stays_in_database(event_id: int) -> Stays:
    """Read the open stays of the event and its areas straight from the database
    (Django is set up in this process by `prepare`)."""
    from django.db import connections
    from django.db.models import Count

    from attendees.models import Area, Attendee, Event, Visit

    try:
        open_stays = Visit.objects.filter(attendee__event=event_id).standing().open().order_by()
        in_areas = open_stays.in_areas()
        in_event = open_stays.in_event()
        event = Event.objects.get(pk=event_id)
        stayed = Visit.objects.filter(attendee__event=event_id).standing().in_event().order_by()
        return Stays(
            live_people=(event.registered, event.arrived),
            people=(Attendee.objects.filter(event=event_id).count(), stayed.values("attendee").distinct().count()),
            live={
                None: event.inside,
                **dict(Area.objects.filter(event=event_id).values_list("pk", "inside")),
            },
            open_stays={
                None: in_event.count(),
                **dict(in_areas.values("area").annotate(n=Count("pk")).values_list("area", "n")),
            },
            in_two_areas=in_areas.values("attendee").annotate(n=Count("pk")).filter(n__gt=1).count(),
            outside=in_areas.exclude(attendee__in=in_event.values("attendee")).values("attendee").distinct().count(),
        )
    finally:
        connections.close_all()


def capacity_race(site: Site, sizes: Sizes) -> Row:
    """Everyone outside checks in to one area at once: exactly its capacity is admitted,
    to the area and the event; the refused record nothing. In an event of its own, which
    the other scenarios' checks of every area and attendee leave alone."""
    storm_event = site.event_id
    site.create_event(f"Capacity race {os.getpid()}")
    try:
        return _capacity_race(site, sizes)
    finally:
        site.event_id = storm_event


def _capacity_race(site: Site, sizes: Sizes) -> Row:
    clients, places = sizes.capacity_race_clients, sizes.capacity_race_places
    row = Row(f"capacity race: {clients} x checkin, area of {places}")
    pks = site.create_attendees(clients, "capacityrace")
    area = site.create_area("Capacity race room", places)
    event_inside = site.event()["inside"]
    replies: dict[int, Answer] = {}

    def work(index: int, client: Client) -> None:
        reply = client.send("POST", f"/api/attendees/{pks[index]}/checkin/", {"area": area})
        row.count(reply)
        with row.lock:
            replies[pks[index]] = reply

    run_together(clients, work, site, row)
    for reply in replies.values():
        check_conflict(row, reply, {"capacity_reached"})
    admitted = sorted(pk for pk, reply in replies.items() if reply.status == 201)
    if len(admitted) != places:
        row.problem(f"expected exactly {places} 201s, got {len(admitted)}")
    in_area = site.admin.get(f"/api/areas/{area}/")["inside"]
    entered = site.event()["inside"] - event_inside
    histories = site.histories(pks)
    area_ins = sum(r.area == area and r.type == "check_in" for h in histories.values() for r in h.records)
    count_records(row, expected=len(admitted), recorded=sum(len(h.ins) for h in histories.values()))
    count_records(row, expected=len(admitted), recorded=area_ins)
    for pk, history in histories.items():
        if (pk in admitted) != (history.area == area and history.is_checked_in):
            answered = replies[pk].status if pk in replies else "nothing"
            row.problem(f"attendee {pk} answered {answered} but is shown in area {history.area}")
        for text in history.problems():
            row.problem(f"attendee {pk}: {text}")
    if in_area != places or entered != places:
        row.problem(f"{in_area} inside the area and {entered} more inside the event, expected {places} each")
    reply = site.admin.send("POST", "/api/attendees/bulk-checkout/", {"ids": admitted})
    check_bulk(row, reply, admitted)
    emptied = site.admin.get(f"/api/areas/{area}/")["inside"]
    if emptied:
        row.problem(f"{emptied} still inside the area after the bulk check-out")
    row.notes.append(
        f"{len(admitted)} admitted; area {in_area}/{places}, event +{entered}; {area_ins} check-ins recorded in the "
        f"area; {emptied} in the area after the bulk check-out of the admitted"
    )
    return row


def check_bulk(row: Row, reply: Answer, ids: list[int]) -> None:
    body = reply.body if isinstance(reply.body, dict) else {}
    if reply.status != 200 or body.get("checked_out", 0) + body.get("skipped", 0) != len(ids):
        row.problem(f"bulk check-out of {len(ids)} answered {reply.status}: {reply.body!r}"[:300])


def retries(site: Site, sizes: Sizes, *, action: str) -> Row:
    """Every client sends the same request with the same Idempotency-Key at once, as a
    phone does when it retries after a timeout: one record, one answer for all."""
    row = Row(f"retries: {sizes.retry_clients} x {action}")
    count = 3 if action == "bulk-checkout" else 1
    start_state = "never" if action == "checkin" else "inside"
    pks = site.create_attendees(count, f"retry{action.replace('-', '')}", start_state)
    before = site.histories(pks)
    if action == "bulk-checkout":
        path, body = "/api/attendees/bulk-checkout/", {"ids": pks}
    else:
        path, body = f"/api/attendees/{pks[0]}/{action}/", None
    headers = {"Idempotency-Key": f"storm-{uuid.uuid4()}"}
    replies: list[Answer] = []

    def work(index: int, client: Client) -> None:
        reply = client.send("POST", path, body, headers)
        row.count(reply)
        with row.lock:
            replies.append(reply)

    run_together(sizes.retry_clients, work, site, row)
    # One more, after all of them: a late retry gets the same answer too.
    late = site.door_client()
    try:
        reply = late.send("POST", path, body, headers)
    finally:
        late.close()
    row.count(reply)
    replies.append(reply)
    answers = Counter(json.dumps([reply.status, reply.body], sort_keys=True) for reply in replies)
    if len(answers) != 1:
        row.problem(f"{len(answers)} different answers: {sorted(answers.values(), reverse=True)}")
    expected_status = 200 if action == "bulk-checkout" else 201
    recorded_once = replies[0].status == expected_status
    if not recorded_once:
        row.problem(f"the first answer was {replies[0].status}, expected {expected_status}: {replies[0].body!r}")
    after = site.histories(pks)
    row.notes.append(f"{len(replies)} answers, {len(answers)} distinct: {replies[0].status}")
    for pk in pks:
        added_ins = 1 if action == "checkin" and recorded_once else 0
        added_outs = 1 if action != "checkin" and recorded_once else 0
        count_records(row, expected=len(before[pk].ins) + added_ins, recorded=len(after[pk].ins))
        count_records(row, expected=len(before[pk].outs) + added_outs, recorded=len(after[pk].outs))
        for text in after[pk].problems():
            row.problem(f"attendee {pk}: {text}")
    return row


def bulk_race(site: Site, sizes: Sizes, seed: int) -> Row:
    """Bulk check-outs of a group race with single check-outs of each of its members."""
    bulk_clients, attendees = sizes.bulk_race_bulk_clients, sizes.bulk_race_attendees
    row = Row(f"bulk race: {bulk_clients} bulk + {2 * attendees} single")
    pks = site.create_attendees(attendees, "bulkrace", "inside")
    # Two single check-outs per attendee, and the bulk ones spread among them.
    targets: list[int | None] = [None] * bulk_clients + pks * 2
    random.Random(seed).shuffle(targets)
    singles: Counter[int] = Counter()
    bulk_checked_out = 0

    def work(index: int, client: Client) -> None:
        nonlocal bulk_checked_out
        pk = targets[index]
        if pk is None:
            reply = client.send("POST", "/api/attendees/bulk-checkout/", {"ids": pks})
            row.count(reply)
            body = reply.body if isinstance(reply.body, dict) else {}
            if reply.status != 200 or body.get("checked_out", 0) + body.get("skipped", 0) != len(pks):
                row.problem(f"bulk check-out answered {reply.status}: {reply.body!r}"[:300])
            with row.lock:
                bulk_checked_out += body.get("checked_out", 0) if reply.status == 200 else 0
            return
        reply = client.send("POST", f"/api/attendees/{pk}/checkout/")
        row.count(reply)
        check_conflict(row, reply, {"already_checked_out"})
        if reply.status == 201:
            with row.lock:
                singles[pk] += 1

    run_together(len(targets), work, site, row)
    claimed = bulk_checked_out + sum(singles.values())
    if claimed != attendees:
        row.problem(f"{claimed} check-outs answered for {attendees} attendees inside")
    closed = 0
    for pk, history in site.histories(pks).items():
        # Each attendee had one open visit: it must be closed, and only once.
        if len(history.outs) != 1:
            row.problem(f"attendee {pk} has {len(history.outs)} check-outs for one visit")
        row.duplicated += max(0, len(history.outs) - 1)
        closed += min(1, len(history.outs))
        for text in history.problems():
            row.problem(f"attendee {pk}: {text}")
    row.lost += max(0, claimed - closed)
    row.notes.append(
        f"{attendees} inside: {bulk_checked_out} checked out by bulk, {singles.total()} by single 201s; "
        f"{closed} visits closed"
    )
    return row


COLUMNS = [
    ("scenario", "scenario", 34),
    ("sent", "requests", 8),
    ("ok", "201/200", 7),
    ("conflict", "409", 5),
    ("other_4xx", "other 4xx", 9),
    ("server_error", "5xx", 4),
    ("no_reply", "no reply", 8),
    ("lost", "lost", 5),
    ("duplicated", "duplicated", 10),
]


def table(rows: list[Row]) -> str:
    # The scenarios' column as wide as the longest name.
    widths = [max([COLUMNS[0][2], *(len(row.scenario) for row in rows)]), *(width for _, _, width in COLUMNS[1:])]

    def line(values: list[str]) -> str:
        cells = [
            value.ljust(width) if index == 0 else value.rjust(width)
            for index, (value, width) in enumerate(zip(values, widths, strict=True))
        ]
        return "| " + " | ".join(cells) + " |"

    def check(row: Row) -> str:
        # A check spans the figures' columns: what it found, and whether that holds.
        span = sum(width + 3 for width in widths[1:]) - 3
        verdict = "FAILED" if row.failed else "ok"
        return f"| {row.scenario.ljust(widths[0])} | {row.figure} {verdict.rjust(span - len(row.figure) - 1)} |"

    header = line([title for _, title, _ in COLUMNS])
    rule = "|" + "|".join("-" * (width + 2) for width in widths) + "|"
    body = [
        check(row) if row.figure is not None else line([str(getattr(row, name)) for name, _, _ in COLUMNS])
        for row in rows
    ]
    return "\n".join([header, rule, *body])


def run_scenarios(site: Site, sizes: Sizes, seed: int) -> list[Row]:
    site.create_event(f"Storm {os.getpid()}")
    scenarios: list[tuple[str, Callable[[], Row | list[Row]]]] = [
        (
            "race checkout",
            lambda: race(site, sizes, action="checkout", start_state="inside", conflict="already_checked_out"),
        ),
        (
            "race checkin",
            lambda: race(site, sizes, action="checkin", start_state="left", conflict="already_checked_in"),
        ),
        ("capacity race", lambda: capacity_race(site, sizes)),
        ("storm", lambda: storm(site, sizes, seed)),
        ("retries checkin", lambda: retries(site, sizes, action="checkin")),
        ("retries checkout", lambda: retries(site, sizes, action="checkout")),
        ("retries bulk", lambda: retries(site, sizes, action="bulk-checkout")),
        ("bulk race", lambda: bulk_race(site, sizes, seed)),
    ]
    rows = []
    for name, scenario in scenarios:
        try:
            outcome = scenario()
            rows.extend(outcome if isinstance(outcome, list) else [outcome])
        except TimeLimitExceeded as error:
            rows.append(Row(name, problems=[str(error)]))
            break
        except RuntimeError as error:
            rows.append(Row(name, problems=[f"could not run: {error}"]))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = arguments(
        "python -m loadtests.storm",
        __doc__.split("\n\n")[0],
        small="fewer clients and requests, same checks (for CI)",
        server="a PostgreSQL server",
        seed="random seed of the storm",
    )
    args = parser.parse_args(argv)
    sizes = SMALL if args.small else FULL
    seed = args.seed
    name = f"storm_{os.getpid()}"
    # Stopped by a signal, still stop the server and drop the database.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    print(
        f"storm: database {name}, {args.workers} gunicorn workers, seed {seed}, {'small' if args.small else 'full'} run"
    )
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="storm-") as scratch:
        log = Path(scratch) / "gunicorn.log"
        rows: list[Row] = []
        try:
            with running_site(args.database_url, name, args.workers, log, sizes.time_limit) as (site, _):
                rows = run_scenarios(site, sizes, seed)
        except Exception as error:
            print(f"storm: could not run: {error}", file=sys.stderr)
            print_log(log)
            return 2
        print(table(rows))
        for row in rows:
            for text in row.notes:
                print(f"  {row.scenario}: {text}")
        failed = [row for row in rows if row.failed]
        for row in failed:
            for text in row.problems[:10]:
                print(f"  {row.scenario}: {text}")
            if len(row.problems) > 10:
                print(f"  {row.scenario}: ... and {len(row.problems) - 10} more")
        print(f"storm: {time.monotonic() - started:.1f} s, {'FAILED' if failed else 'nothing lost, nothing doubled'}")
        if failed:
            print_log(log)
        return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
