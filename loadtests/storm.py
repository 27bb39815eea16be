"""Storm the API with concurrent door scanners and show that nothing is lost or doubled.

    python -m loadtests.storm [--small] [--database-url postgres://postgres@127.0.0.1:5432/postgres]

It creates a fresh PostgreSQL database on the server of `--database-url`, migrates it,
creates a superuser and a door-staff user with API tokens, starts `gunicorn
eventsite.wsgi` with 4 workers on a free 127.0.0.1 port (production settings), creates
its own event and attendees through the API, and runs:

1. races: 50 simultaneous check-outs of one attendee who is inside, and 50
   simultaneous check-ins of one who has left: exactly one 201 each, the rest 409;
2. a storm: clients sending random check-ins, check-outs and bulk check-outs over 30
   attendees; every 201 (and every bulk `checked_out`) must be in the history, nothing
   else may be, and each history must alternate in, out, in, out in time order;
3. retries: 20 clients sending one request with the same `Idempotency-Key` at once:
   one record, every response the same;
4. bulk check-out racing with single check-outs of the same attendees: each visit is
   closed exactly once.

It prints a table and exits 1 on any lost or duplicated record, 5xx, unanswered
request or broken expectation. The server and the database are always removed.
`--small` runs the same checks with fewer clients and requests, for CI.
"""

from __future__ import annotations

import argparse
import dataclasses
import http.client
import json
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from itertools import pairwise
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432/postgres"
HOST = "127.0.0.1"
REQUEST_TIMEOUT = 30.0


@dataclasses.dataclass(frozen=True)
class Sizes:
    race_clients: int
    storm_clients: int
    storm_requests: int
    storm_attendees: int
    retry_clients: int
    bulk_race_attendees: int
    bulk_race_bulk_clients: int
    time_limit: float


FULL = Sizes(
    race_clients=50,
    storm_clients=8,
    storm_requests=150,
    storm_attendees=30,
    retry_clients=20,
    bulk_race_attendees=20,
    bulk_race_bulk_clients=4,
    time_limit=300,
)
SMALL = Sizes(
    race_clients=20,
    storm_clients=4,
    storm_requests=40,
    storm_attendees=10,
    retry_clients=10,
    bulk_race_attendees=8,
    bulk_race_bulk_clients=2,
    time_limit=45,
)

CHECKIN_CONFLICTS = {"already_checked_in"}
CHECKOUT_CONFLICTS = {"not_checked_in", "already_checked_out"}


class TimeLimitExceeded(Exception):
    pass


@dataclasses.dataclass(frozen=True)
class Reply:
    """An HTTP answer; status 0 means no answer at all (connection error or timeout)."""

    status: int
    body: Any

    @property
    def code(self) -> str | None:
        return self.body.get("code") if isinstance(self.body, dict) else None


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
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock, repr=False)

    def count(self, reply: Reply) -> None:
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


class Client:
    """One door scanner: its own keep-alive HTTP connection to the server, and a token."""

    def __init__(self, port: int, token: str, deadline: float):
        self.connection = http.client.HTTPConnection(HOST, port, timeout=REQUEST_TIMEOUT)
        self.token = token
        self.deadline = deadline

    def connect(self) -> None:
        self.connection.connect()

    def close(self) -> None:
        self.connection.close()

    def send(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Reply:
        if time.monotonic() > self.deadline:
            raise TimeLimitExceeded(f"time limit reached before {method} {path}")
        payload = None if body is None else json.dumps(body).encode()
        sent_headers = {"Authorization": f"Token {self.token}", "Accept": "application/json"}
        if payload is not None:
            sent_headers["Content-Type"] = "application/json"
        sent_headers.update(headers or {})
        try:
            self.connection.request(method, path, body=payload, headers=sent_headers)
            response = self.connection.getresponse()
            raw = response.read()
        except (OSError, http.client.HTTPException):
            # Never resend: the server may have recorded the request. It counts as unanswered.
            self.connection.close()
            return Reply(0, None)
        try:
            data = json.loads(raw) if raw else None
        except ValueError:
            data = raw.decode(errors="replace")
        return Reply(response.status, data)

    def get(self, path: str) -> Any:
        reply = self.send("GET", path)
        if reply.status != 200:
            raise RuntimeError(f"GET {path} answered {reply.status}: {reply.body!r}")
        return reply.body


@dataclasses.dataclass(frozen=True)
class History:
    """An attendee as the API shows it: state flags and times."""

    is_checked_in: bool
    is_checked_out: bool
    ins: list[datetime]
    outs: list[datetime]
    # The standing records of /history/: (type, at), oldest first.
    records: list[tuple[str, datetime]]

    @classmethod
    def from_json(cls, data: dict, records: list[dict]) -> History:
        return cls(
            is_checked_in=data["is_checked_in"],
            is_checked_out=data["is_checked_out"],
            ins=[datetime.fromisoformat(time) for time in data["checkin_times"]],
            outs=[datetime.fromisoformat(time) for time in data["checkout_times"]],
            records=[
                (record["type"], datetime.fromisoformat(record["at"])) for record in records if not record["voided"]
            ],
        )

    def problems(self) -> list[str]:
        """How this history breaks the rules: in, out, in, out ... in time order, with
        flags that follow it."""
        found = []
        if len(self.outs) not in {len(self.ins), len(self.ins) - 1}:
            found.append(f"{len(self.ins)} check-ins but {len(self.outs)} check-outs")
        alternating = [t for pair in zip(self.ins, [*self.outs, None], strict=False) for t in pair if t is not None]
        for earlier, later in pairwise(alternating):
            if later < earlier:
                found.append(f"not in time order: {earlier.isoformat()} is followed by {later.isoformat()}")
                break
        recorded_ins = sorted(at for kind, at in self.records if kind == "check_in")
        recorded_outs = sorted(at for kind, at in self.records if kind == "check_out")
        if (recorded_ins, recorded_outs) != (sorted(self.ins), sorted(self.outs)):
            found.append(
                f"the history's records ({len(recorded_ins)} in, {len(recorded_outs)} out) differ from the times "
                f"({len(self.ins)} in, {len(self.outs)} out)"
            )
        inside = len(self.ins) == len(self.outs) + 1
        left = bool(self.ins) and len(self.ins) == len(self.outs)
        if (self.is_checked_in, self.is_checked_out) != (inside, left):
            found.append(f"flags {self.is_checked_in}/{self.is_checked_out} disagree with the history")
        return found


class Site:
    """The running site: the API as the superuser (to set up data) and as door staff."""

    def __init__(self, port: int, admin_token: str, door_token: str, deadline: float):
        self.port = port
        self.admin_token = admin_token
        self.door_token = door_token
        self.deadline = deadline
        self.admin = Client(port, admin_token, deadline)
        self.event_id: int | None = None

    def door_client(self) -> Client:
        return Client(self.port, self.door_token, self.deadline)

    def create_event(self, name: str) -> None:
        reply = self.admin.send("POST", "/api/events/", {"name": name})
        if reply.status != 201:
            raise RuntimeError(f"creating the event answered {reply.status}: {reply.body!r}")
        self.event_id = reply.body["id"]

    def create_attendees(self, count: int, label: str, state: str = "never") -> list[int]:
        """`count` new attendees of the event, put in `state` ("never", "inside", "left")
        through the API."""
        pks = []
        for n in range(count):
            body = {
                "event": self.event_id,
                "first_name": label,
                "last_name": f"No{n}",
                "email": f"{label}{n}@example.org",
            }
            reply = self.admin.send("POST", "/api/attendees/", body)
            if reply.status != 201:
                raise RuntimeError(f"creating an attendee answered {reply.status}: {reply.body!r}")
            pks.append(reply.body["id"])
        steps = {"never": [], "inside": ["checkin"], "left": ["checkin", "checkout"]}[state]
        for pk in pks:
            for step in steps:
                reply = self.admin.send("POST", f"/api/attendees/{pk}/{step}/")
                if reply.status != 201:
                    raise RuntimeError(f"{step} of attendee {pk} answered {reply.status}: {reply.body!r}")
        return pks

    def history(self, pk: int) -> History:
        return History.from_json(self.admin.get(f"/api/attendees/{pk}/"), self.records(pk))

    def records(self, pk: int) -> list[dict]:
        return self.admin.get(f"/api/attendees/{pk}/history/")

    def histories(self, pks: list[int]) -> dict[int, History]:
        wanted = set(pks)
        found: dict[int, History] = {}
        page = self.admin.get(f"/api/attendees/?event={self.event_id}&page_size=500&ordering=id")
        for data in page["results"]:
            if data["id"] in wanted:
                found[data["id"]] = History.from_json(data, self.records(data["id"]))
        missing = wanted - set(found)
        for pk in missing:
            found[pk] = self.history(pk)
        return found


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


def check_conflict(row: Row, reply: Reply, codes: set[str]) -> None:
    if reply.status == 409 and reply.code not in codes:
        row.problem(f"409 with code {reply.code!r}, expected one of {sorted(codes)}")
    elif reply.status not in {201, 409}:
        row.problem(f"unexpected answer {reply.status}: {reply.body!r}"[:300])


def race(site: Site, sizes: Sizes, *, action: str, start_state: str, conflict: str) -> Row:
    """Everyone sends `action` for one attendee at once: exactly one may succeed."""
    row = Row(f"race: {sizes.race_clients} x {action}")
    (pk,) = site.create_attendees(1, f"race{action}", start_state)
    before = site.history(pk)
    replies: list[Reply] = []

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


def storm(site: Site, sizes: Sizes, seed: int) -> Row:
    """Random check-ins, check-outs and bulk check-outs from many clients at once."""
    row = Row(f"storm: {sizes.storm_clients} clients x {sizes.storm_requests}")
    pks = site.create_attendees(sizes.storm_attendees, "storm")
    check_ins: Counter[int] = Counter()
    check_outs: Counter[int] = Counter()
    bulk_checked_out = 0

    def work(index: int, client: Client) -> None:
        nonlocal bulk_checked_out
        rng = random.Random(seed * 1000 + index)
        ins: Counter[int] = Counter()
        outs: Counter[int] = Counter()
        bulk = 0
        for _ in range(sizes.storm_requests):
            roll = rng.random()
            if roll < 0.8:
                action, pk = ("checkin" if roll < 0.4 else "checkout"), rng.choice(pks)
                reply = client.send("POST", f"/api/attendees/{pk}/{action}/")
                row.count(reply)
                check_conflict(row, reply, CHECKIN_CONFLICTS if action == "checkin" else CHECKOUT_CONFLICTS)
                if reply.status == 201:
                    (ins if action == "checkin" else outs)[pk] += 1
            else:
                ids = rng.sample(pks, rng.randint(1, 4))
                reply = client.send("POST", "/api/attendees/bulk-checkout/", {"ids": ids})
                row.count(reply)
                body = reply.body if isinstance(reply.body, dict) else {}
                if reply.status != 200 or body.get("checked_out", 0) + body.get("skipped", 0) != len(ids):
                    row.problem(f"bulk check-out of {len(ids)} answered {reply.status}: {reply.body!r}"[:300])
                if reply.status == 200:
                    bulk += body.get("checked_out", 0)
        with row.lock:
            check_ins.update(ins)
            check_outs.update(outs)
            bulk_checked_out += bulk

    run_together(sizes.storm_clients, work, site, row)
    # A bulk answer only gives counts: the check-outs it made are the ones no single
    # 201 explains, and together they must add up to the bulk answers' `checked_out`.
    explained_by_bulk = 0
    for pk, history in site.histories(pks).items():
        count_records(row, expected=check_ins[pk], recorded=len(history.ins))
        unexplained = len(history.outs) - check_outs[pk]
        row.lost += max(0, -unexplained)
        explained_by_bulk += max(0, unexplained)
        for text in history.problems():
            row.problem(f"attendee {pk}: {text}")
    count_records(row, expected=bulk_checked_out, recorded=explained_by_bulk)
    row.notes.append(
        f"{check_ins.total()} check-ins and {check_outs.total()} check-outs answered 201, "
        f"{bulk_checked_out} checked out by bulk; {explained_by_bulk} check-outs in the history beyond the 201s"
    )
    return row


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
    replies: list[Reply] = []

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
    def line(values: list[str]) -> str:
        cells = [
            value.ljust(width) if index == 0 else value.rjust(width)
            for index, (value, (_, _, width)) in enumerate(zip(values, COLUMNS, strict=True))
        ]
        return "| " + " | ".join(cells) + " |"

    header = line([title for _, title, _ in COLUMNS])
    rule = "|" + "|".join("-" * (width + 2) for _, _, width in COLUMNS) + "|"
    body = [line([str(getattr(row, name)) for name, _, _ in COLUMNS]) for row in rows]
    return "\n".join([header, rule, *body])


def database_url(server_url: str, name: str) -> str:
    parts = urlsplit(server_url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@contextmanager
def fresh_database(server_url: str, name: str) -> Iterator[str]:
    """A new, empty database on the server of `server_url`, dropped afterwards."""
    import psycopg2
    from psycopg2 import sql

    def run(statement: sql.Composed) -> None:
        connection = psycopg2.connect(server_url, connect_timeout=10)
        try:
            connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute(statement)
        finally:
            connection.close()

    run(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield database_url(server_url, name)
    finally:
        run(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def prepare(environment: dict[str, str]) -> tuple[str, str]:
    """Migrate the new database and create a superuser and a door-staff user; returns
    their API tokens. Runs Django in this process, then lets go of the database."""
    os.environ.update(environment)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "eventsite.settings")
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission
    from django.core.management import call_command
    from django.db import connections
    from rest_framework.authtoken.models import Token

    try:
        call_command("migrate", interactive=False, verbosity=0)
        users = get_user_model().objects
        admin = users.create_superuser(username="storm-admin", email="admin@example.org", password=None)
        door = users.create_user(username="storm-door", password=None)
        door.user_permissions.add(
            *Permission.objects.filter(
                content_type__app_label="attendees",
                codename__in=["view_event", "view_attendee", "record_attendance"],
            )
        )
        return Token.objects.create(user=admin).key, Token.objects.create(user=door).key
    finally:
        connections.close_all()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


@contextmanager
def gunicorn(environment: dict[str, str], workers: int, log: Path) -> Iterator[int]:
    """`gunicorn eventsite.wsgi` on a free local port, stopped afterwards whatever happens."""
    with gunicorn_server(environment, workers, log) as (_, port):
        yield port


@contextmanager
def gunicorn_server(environment: dict[str, str], workers: int, log: Path) -> Iterator[tuple[subprocess.Popen, int]]:
    """As `gunicorn`, also giving the master process."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "eventsite.wsgi",
        "--bind",
        f"{HOST}:{port}",
        "--workers",
        str(workers),
        "--timeout",
        str(int(REQUEST_TIMEOUT)),
        "--log-level",
        "warning",
    ]
    with log.open("wb") as output:
        server = subprocess.Popen(
            command, cwd=ROOT, env={**os.environ, **environment}, stdout=output, stderr=subprocess.STDOUT
        )
        try:
            wait_until_serving(server, port)
            yield server, port
        finally:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=15)


def wait_until_serving(server: subprocess.Popen, port: int, timeout: float = 30) -> None:
    give_up = time.monotonic() + timeout
    while time.monotonic() < give_up:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited with status {server.returncode}")
        connection = http.client.HTTPConnection(HOST, port, timeout=2)
        try:
            connection.request("GET", "/api/schema/")
            if connection.getresponse().status == 200:
                return
        except (OSError, http.client.HTTPException):
            pass
        finally:
            connection.close()
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer on port {port} within {timeout:.0f} s")


def run_scenarios(site: Site, sizes: Sizes, seed: int) -> list[Row]:
    site.create_event(f"Storm {os.getpid()}")
    scenarios: list[tuple[str, Callable[[], Row]]] = [
        (
            "race checkout",
            lambda: race(site, sizes, action="checkout", start_state="inside", conflict="already_checked_out"),
        ),
        (
            "race checkin",
            lambda: race(site, sizes, action="checkin", start_state="left", conflict="already_checked_in"),
        ),
        ("storm", lambda: storm(site, sizes, seed)),
        ("retries checkin", lambda: retries(site, sizes, action="checkin")),
        ("retries checkout", lambda: retries(site, sizes, action="checkout")),
        ("retries bulk", lambda: retries(site, sizes, action="bulk-checkout")),
        ("bulk race", lambda: bulk_race(site, sizes, seed)),
    ]
    rows = []
    for name, scenario in scenarios:
        try:
            rows.append(scenario())
        except TimeLimitExceeded as error:
            rows.append(Row(name, problems=[str(error)]))
            break
        except RuntimeError as error:
            rows.append(Row(name, problems=[f"could not run: {error}"]))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtests.storm", description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", action="store_true", help="fewer clients and requests, same checks (for CI)")
    parser.add_argument(
        "--database-url",
        default=DEFAULT_SERVER,
        help=f"a PostgreSQL server to create the scratch database on (default: {DEFAULT_SERVER})",
    )
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (default: 4)")
    parser.add_argument("--seed", type=int, default=None, help="random seed of the storm (default: random)")
    args = parser.parse_args(argv)
    sizes = SMALL if args.small else FULL
    seed = args.seed if args.seed is not None else random.randrange(1_000_000)
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
            with fresh_database(args.database_url, name) as url:
                environment = {
                    "DATABASE_URL": url,
                    "DJANGO_DEBUG": "0",
                    "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
                    "DJANGO_ALLOWED_HOSTS": HOST,
                }
                admin_token, door_token = prepare(environment)
                with gunicorn(environment, args.workers, log) as port:
                    site = Site(port, admin_token, door_token, deadline=time.monotonic() + sizes.time_limit)
                    try:
                        rows = run_scenarios(site, sizes, seed)
                    finally:
                        site.admin.close()
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


def print_log(log: Path, lines: int = 60) -> None:
    """The end of gunicorn's log, without the warnings Django logs for every 4xx."""
    if not log.exists():
        return
    routine = ("Conflict: ", "Bad Request: ", "Not Found: ", "Forbidden: ", "Unauthorized: ", "Unprocessable ")
    kept = [line for line in log.read_text(errors="replace").splitlines() if not line.startswith(routine)]
    if kept:
        print("gunicorn log (last lines):", *kept[-lines:], sep="\n", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
