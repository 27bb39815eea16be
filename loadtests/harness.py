"""What both load tests stand on: a scratch PostgreSQL database, the site served on it
by gunicorn as in production, the API as a door's client sees it, and the rules every
attendee's history must follow afterwards."""

from __future__ import annotations

import argparse
import collections
import dataclasses
import http.client
import json
import math
import os
import random
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
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


class TimeLimitExceeded(Exception):
    """A client was about to send a request after the run's time limit."""


@dataclasses.dataclass(frozen=True)
class Answer:
    """An HTTP answer; status 0 means none at all (connection refused or dropped, timeout,
    or not waited for)."""

    status: int
    body: Any
    content_type: str = ""
    retry_after: str | None = None

    @property
    def code(self) -> str | None:
        return self.body.get("code") if isinstance(self.body, dict) else None


class Client:
    """One door scanner: its own keep-alive HTTP connection to the server, and a token.
    After an error the connection is closed; the next request opens a new one."""

    def __init__(self, port: int, token: str, deadline: float = math.inf, timeout: float = REQUEST_TIMEOUT):
        self.connection = http.client.HTTPConnection(HOST, port, timeout=timeout)
        self.token = token
        self.deadline = deadline

    def connect(self) -> None:
        self.connection.connect()

    def close(self) -> None:
        self.connection.close()

    def send(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None, *, wait: bool = True
    ) -> Answer:
        """The answer, whatever it is; never sent again by this method. With `wait` false the
        request is sent and the connection closed without reading the answer, as a phone
        that gave up waiting does."""
        if time.monotonic() > self.deadline:
            raise TimeLimitExceeded(f"time limit reached before {method} {path}")
        payload = None if body is None else json.dumps(body).encode()
        sent_headers = {"Authorization": f"Token {self.token}", "Accept": "application/json"}
        if payload is not None:
            sent_headers["Content-Type"] = "application/json"
        sent_headers.update(headers or {})
        try:
            self.connection.request(method, path, body=payload, headers=sent_headers)
            if not wait:
                self.connection.close()
                return Answer(0, None)
            response = self.connection.getresponse()
            raw = response.read()
        except (OSError, http.client.HTTPException):
            # The server may have recorded the request: it counts as unanswered.
            self.connection.close()
            return Answer(0, None)
        try:
            data = json.loads(raw) if raw else None
        except ValueError:
            data = raw.decode(errors="replace")
        return Answer(response.status, data, response.getheader("Content-Type", ""), response.getheader("Retry-After"))

    def call(self, method: str, path: str, body: Any = None, *, expected: int = 200) -> Any:
        """The body of the answer, which must have the status `expected`."""
        answer = self.send(method, path, body)
        if answer.status != expected:
            raise RuntimeError(f"{method} {path} answered {answer.status}: {answer.body!r}")
        return answer.body

    def get(self, path: str) -> Any:
        return self.call("GET", path)


@dataclasses.dataclass(frozen=True)
class Written:
    """A standing record as /history/ shows it."""

    id: int
    attendee: int
    type: str
    area: int | None
    at: datetime
    station: str

    @classmethod
    def from_json(cls, attendee: int, data: dict) -> Written:
        return cls(
            data["id"], attendee, data["type"], data["area"], datetime.fromisoformat(data["at"]), data["station"]
        )


@dataclasses.dataclass(frozen=True)
class AreaStay:
    area: int
    start: datetime
    end: datetime | None


@dataclasses.dataclass(frozen=True)
class History:
    """An attendee as the API shows it: state flags, current area and times."""

    is_checked_in: bool
    is_checked_out: bool
    area: int | None
    ins: list[datetime]
    outs: list[datetime]
    # The standing records of /history/, oldest first, in the event and in its areas.
    records: list[Written]

    @classmethod
    def from_json(cls, data: dict, records: list[dict]) -> History:
        return cls(
            is_checked_in=data["is_checked_in"],
            is_checked_out=data["is_checked_out"],
            area=data.get("area"),
            ins=[datetime.fromisoformat(time) for time in data["checkin_times"]],
            outs=[datetime.fromisoformat(time) for time in data["checkout_times"]],
            records=[Written.from_json(data["id"], record) for record in records if not record["voided"]],
        )

    def problems(self) -> list[str]:
        """How this history breaks the rules: in, out, in, out ... in time order, in the
        event and in each area, with flags and a current area that follow it."""
        found = []
        if len(self.outs) not in {len(self.ins), len(self.ins) - 1}:
            found.append(f"{len(self.ins)} check-ins but {len(self.outs)} check-outs")
        alternating = [t for pair in zip(self.ins, [*self.outs, None], strict=False) for t in pair if t is not None]
        for earlier, later in pairwise(alternating):
            if later < earlier:
                found.append(f"not in time order: {earlier.isoformat()} is followed by {later.isoformat()}")
                break
        in_event = [record for record in self.records if record.area is None]
        recorded_ins = sorted(record.at for record in in_event if record.type == "check_in")
        recorded_outs = sorted(record.at for record in in_event if record.type == "check_out")
        if (recorded_ins, recorded_outs) != (sorted(self.ins), sorted(self.outs)):
            found.append(
                f"the history's records ({len(recorded_ins)} in, {len(recorded_outs)} out) differ from the times "
                f"({len(self.ins)} in, {len(self.outs)} out)"
            )
        inside = len(self.ins) == len(self.outs) + 1
        left = bool(self.ins) and len(self.ins) == len(self.outs)
        if (self.is_checked_in, self.is_checked_out) != (inside, left):
            found.append(f"flags {self.is_checked_in}/{self.is_checked_out} disagree with the history")
        return found + self.area_problems()

    def area_stays(self) -> tuple[list[AreaStay], list[str]]:
        """The stays in areas the records tell, and how the records of an area fail to alternate."""
        stays, found = [], []
        for area in sorted({record.area for record in self.records if record.area is not None}):
            records = sorted((r for r in self.records if r.area == area), key=lambda r: (r.at, r.id))
            kinds = [record.type for record in records]
            if kinds != ["check_in", "check_out"] * (len(kinds) // 2) + ["check_in"] * (len(kinds) % 2):
                found.append(f"the records of area {area} do not alternate in, out: {kinds}")
                continue
            for index in range(0, len(records), 2):
                end = records[index + 1].at if index + 1 < len(records) else None
                stays.append(AreaStay(area, records[index].at, end))
        return sorted(stays, key=lambda stay: (stay.start, stay.end is None, stay.end)), found

    def area_problems(self) -> list[str]:
        stays, found = self.area_stays()
        current = next((stay.area for stay in stays if stay.end is None), None)
        if self.area != current:
            found.append(f"shown in area {self.area} but the records say {current}")
        return found

    def overlapping_area_stays(self) -> list[str]:
        """Times the records put the attendee in two areas at once."""
        stays, _ = self.area_stays()
        return [
            f"in areas {earlier.area} and {later.area} at once from {later.start.isoformat()}"
            for earlier, later in pairwise(stays)
            if earlier.end is None or later.start < earlier.end
        ]

    def area_stays_outside_the_event(self) -> list[str]:
        """Stays in an area the records do not put within a stay in the event."""
        stays, _ = self.area_stays()
        visits = list(zip(self.ins, [*self.outs, None], strict=False))
        found = []
        for stay in stays:
            if any(
                start <= stay.start and (end is None or (stay.end is not None and stay.end <= end))
                for start, end in visits
            ):
                continue
            # The stay in the event nearest to it, to show how far apart they are.
            start, end = min(
                visits, key=lambda visit: abs((visit[0] - stay.start).total_seconds()), default=(None, None)
            )
            found.append(
                f"in area {stay.area} from {moment(stay.start)} to {moment(stay.end)}, but in the event from "
                f"{moment(start)} to {moment(end)}"
            )
        return found


def moment(at: datetime | None) -> str:
    return "now" if at is None else at.time().isoformat()


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
        self.event_id = self.admin.call("POST", "/api/events/", {"name": name}, expected=201)["id"]

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
            pks.append(self.admin.call("POST", "/api/attendees/", body, expected=201)["id"])
        steps = {"never": [], "inside": ["checkin"], "left": ["checkin", "checkout"]}[state]
        for pk in pks:
            for step in steps:
                self.admin.call("POST", f"/api/attendees/{pk}/{step}/", expected=201)
        return pks

    def create_area(self, name: str, capacity: int | None) -> int:
        body = {"event": self.event_id, "name": name, "capacity": capacity}
        return self.admin.call("POST", "/api/areas/", body, expected=201)["id"]

    def event(self) -> dict:
        return self.admin.get(f"/api/events/{self.event_id}/")

    def limit_event(self, capacity: int | None) -> None:
        self.admin.call("PATCH", f"/api/events/{self.event_id}/", {"capacity": capacity})

    def ticket_codes(self, pks: list[int]) -> dict[int, str]:
        """The attendees' ticket codes, which only users who may change attendees see."""
        page = self.admin.get(f"/api/attendees/?event={self.event_id}&page_size=500&ordering=id")
        codes = {data["id"]: data["ticket_code"] for data in page["results"]}
        return {pk: codes[pk] for pk in pks}

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
def gunicorn_server(environment: dict[str, str], workers: int, log: Path) -> Iterator[tuple[subprocess.Popen, int]]:
    """`gunicorn eventsite.wsgi` on a free local port: its master process and the port,
    stopped afterwards whatever happens."""
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


def print_log(log: Path, lines: int = 60) -> None:
    """The end of gunicorn's log, without the warnings Django logs for every 4xx."""
    if not log.exists():
        return
    routine = ("Conflict: ", "Bad Request: ", "Not Found: ", "Forbidden: ", "Unauthorized: ", "Unprocessable ")
    kept = [line for line in log.read_text(errors="replace").splitlines() if not line.startswith(routine)]
    if kept:
        print("gunicorn log (last lines):", *kept[-lines:], sep="\n", file=sys.stderr)


def production_environment(url: str) -> dict[str, str]:
    """The site's settings as in production, on the database at `url`."""
    return {
        "DATABASE_URL": url,
        "DJANGO_DEBUG": "0",
        # Plain HTTP on 127.0.0.1: no redirect to HTTPS.
        "DJANGO_SECURE_SSL_REDIRECT": "0",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": HOST,
    }


@contextmanager
def running_site(
    server_url: str, name: str, workers: int, log: Path, time_limit: float
) -> Iterator[tuple[Site, subprocess.Popen]]:
    """The site and gunicorn's master: a new database `name` on the server of `server_url`,
    migrated, with a superuser and a door-staff user, served by gunicorn with `workers`
    workers logging to `log`, its clients bound to `time_limit` seconds from now. The
    server is stopped and the database dropped afterwards, whatever happens."""
    with fresh_database(server_url, name) as url:
        environment = production_environment(url)
        admin_token, door_token = prepare(environment)
        with gunicorn_server(environment, workers, log) as (server, port):
            site = Site(port, admin_token, door_token, deadline=time.monotonic() + time_limit)
            try:
                yield site, server
            finally:
                site.admin.close()


def arguments(prog: str, description: str, *, small: str, server: str, seed: str) -> argparse.ArgumentParser:
    """The options of both load tests; `small`, `server` and `seed` say what they mean for this one."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--small", action="store_true", help=small)
    parser.add_argument(
        "--database-url",
        default=DEFAULT_SERVER,
        help=f"{server} to create the scratch database on (default: {DEFAULT_SERVER})",
    )
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (default: 4)")
    parser.add_argument("--seed", type=int, default=random.randrange(1_000_000), help=f"{seed} (default: random)")
    return parser


def figures_from_stays(event_id: int) -> dict[int | None, tuple[int, int]]:
    """(standing check-ins, most inside at once) of the event (None) and each of its
    areas, counted here from every standing stay in the database, against the figures
    the app keeps as it writes: each begun stay a +1 and each ended one a -1 in time
    order, check-outs first at the same instant."""
    from django.db import connections

    from attendees.models import Visit

    try:
        moves = sorted(
            (at, step, visit.pk, visit.area_id)
            for visit in Visit.objects.filter(attendee__event=event_id).standing()
            for at, step in ((visit.checked_in_at, 1), (visit.checked_out_at, -1))
            if at is not None
        )
    finally:
        connections.close_all()
    inside: collections.Counter = collections.Counter()
    found: dict[int | None, tuple[int, int]] = {}
    for _, step, _, area in moves:
        inside[area] += step
        check_ins, peak = found.get(area, (0, 0))
        found[area] = (check_ins + (step > 0), max(peak, inside[area]))
    return found
