"""Scan at the door while the server breaks, and show that no scan is lost or doubled.

    python -m loadtests.faults [--small] [--database-url postgres://postgres@127.0.0.1:5432/postgres]

Like `loadtests.storm`, it creates a fresh PostgreSQL database on the server of
`--database-url`, migrates it, creates a superuser and a door-staff user with API tokens,
starts `gunicorn eventsite.wsgi` with 4 workers on a free 127.0.0.1 port (production
settings) and creates its own event and attendees through the API. Then door scanners
send `POST /api/scans/` by ticket code, in and out in turn for each of their attendees,
each scan with its own `Idempotency-Key`, and send the same request with the same key
again after any error, timeout, dropped connection or 5xx until it is answered (for a few
scans they do not wait for the first answer, as a phone that gave up does). Meanwhile a
fault thread

- kills gunicorn workers with SIGKILL (only the workers of the master it started),
- terminates the run database's connections with `pg_terminate_backend`, and
- (full run only) stops the local PostgreSQL cluster serving `--database-url` once and
  starts it again, and measures how long after it is back the site answers a scan again
  (the contract: within 10 s).

Afterwards every scan answered 201 must be in the history exactly once and no record may
be there that no scan's key accounts for; each Idempotency-Key has at most one stored
answer, the one its client got; each attendee's history is the answered in, out, in ...;
no answer is a 500 or an HTML page, and every 503 is the JSON `service_unavailable` with
`Retry-After`; and the figures' check-ins and peak, kept in the transactions of the
stays, must equal what the stays give. It prints a table and exits 1 on any lost or duplicated scan or broken
expectation. PostgreSQL is always started again, and the server and the database are
always removed. `--small` leaves out stopping PostgreSQL and runs in well under a minute,
for CI.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

from .harness import Answer, Client, Site, arguments, figures_from_stays, print_log, running_site

SCANS = "/api/scans/"
REQUEST_TIMEOUT = 10.0
RETRY_PAUSE = 0.2
PROBE_PAUSE = 0.1
RECOVERY_LIMIT = 10.0
KEY_PREFIX = "faults-"


@dataclasses.dataclass(frozen=True)
class Sizes:
    """The sizes of a run; the defaults are the full run's."""

    scanners: int = 8
    attendees_per_scanner: int = 4
    scans_per_scanner: int = 2000
    # Pause of a scanner between two scans: a door, not a benchmark.
    scan_pause: float = 0.03
    fault_seconds: float = 24
    kill_every: float = 1.5
    terminate_every: float = 1.0
    restart_postgresql: bool = True
    # How long PostgreSQL stays stopped, and when, in seconds after the faults start.
    outage_seconds: float = 3
    outage_at: float = 8
    # The share of scans whose first answer the scanner does not wait for.
    give_up_share: float = 0.05
    # Scanning goes on this long after the last fault, so that every scan gets through.
    calm_seconds: float = 3
    time_limit: float = 150


FULL = Sizes()
SMALL = Sizes(
    scanners=4,
    attendees_per_scanner=3,
    scans_per_scanner=1000,
    fault_seconds=8,
    restart_postgresql=False,
    outage_seconds=0,
    outage_at=0,
    calm_seconds=2,
    time_limit=40,
)


@dataclasses.dataclass
class Scan:
    """One scan as its scanner knows it: sent until answered, with the same key each time."""

    key: str
    attendee: int
    direction: str
    attempts: int = 0
    answer: Answer | None = None
    # When the last attempt was sent (the clock the server writes `recorded_at` with).
    last_sent: float = 0.0

    @property
    def answered(self) -> bool:
        return self.answer is not None

    @property
    def record_id(self) -> int | None:
        if self.answer is None or self.answer.status != 201 or not isinstance(self.answer.body, dict):
            return None
        return self.answer.body.get("record", {}).get("id")


@dataclasses.dataclass
class Tally:
    """What the clients saw and what the fault thread did, shared by the threads."""

    requests: int = 0
    unavailable: int = 0
    no_answer: int = 0
    given_up: int = 0
    worker_kills: int = 0
    connections_terminated: int = 0
    postgresql_restarts: int = 0
    recovery_seconds: float | None = None
    scans: list[Scan] = dataclasses.field(default_factory=list)
    problems: list[str] = dataclasses.field(default_factory=list)
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock, repr=False)

    def problem(self, text: str) -> None:
        with self.lock:
            self.problems.append(text)

    def add(self, **counts: int) -> None:
        with self.lock:
            for name, count in counts.items():
                setattr(self, name, getattr(self, name) + count)


def deliver(
    door: Client,
    scan: Scan,
    code: str,
    tally: Tally,
    deadline: float,
    *,
    pause: float = RETRY_PAUSE,
    give_up_share: float = 0.0,
) -> bool:
    """Send the scan until the site answers it (any status but a 5xx), or the deadline passes.
    A `give_up_share` of first attempts is sent without waiting for the answer: the retry
    comes while the first request is still being served, or after it was recorded."""
    while time.monotonic() < deadline:
        give_up = scan.attempts == 0 and random.random() < give_up_share
        answer = send(door, scan, code, tally, wait=not give_up)
        if give_up:
            tally.add(given_up=1)
            time.sleep(random.uniform(0, pause))
            continue
        if answer.status == 0:
            tally.add(no_answer=1)
        elif answer.status == 503:
            tally.add(unavailable=1)
        elif answer.status < 500:
            scan.answer = answer
            return True
        time.sleep(pause * random.uniform(0.5, 1.5))
    return False


def send(door: Client, scan: Scan, code: str, tally: Tally, *, wait: bool = True) -> Answer:
    """One attempt at the scan, counted and checked."""
    body = {"ticket_code": code, "direction": scan.direction, "station": "Faults"}
    scan.last_sent = time.time()
    answer = door.send("POST", SCANS, body, {"Idempotency-Key": scan.key}, wait=wait)
    scan.attempts += 1
    tally.add(requests=1)
    check_answer(answer, tally)
    return answer


def scanner_client(site: Site) -> Client:
    """A scanner's connection; `deliver` keeps to the run's time limit itself."""
    return Client(site.port, site.door_token, timeout=REQUEST_TIMEOUT)


def check_answer(answer: Answer, tally: Tally) -> None:
    """No answer is a 500 or a page; a 503 is the contract's JSON with Retry-After."""
    if answer.status == 0:
        return
    if "html" in answer.content_type or (isinstance(answer.body, str) and answer.body.lstrip().startswith("<")):
        tally.problem(f"an HTML answer with status {answer.status}")
    elif answer.status == 503:
        if answer.code != "service_unavailable" or not answer.retry_after:
            tally.problem(f"a 503 without the code service_unavailable and Retry-After: {describe(answer)}")
    elif answer.status >= 500:
        tally.problem(f"a {answer.status} answer: {describe(answer)}")


def describe(answer: Answer) -> str:
    """An answer for the report: its status and code, never the body (the attendee in it)."""
    return f"{answer.status} {answer.code or answer.content_type or '(no body)'}"


def scanner(
    index: int,
    attendees: list[tuple[int, str]],
    site: Site,
    sizes: Sizes,
    tally: Tally,
    stop: threading.Event,
    deadline: float,
) -> None:
    """Scan each of its own attendees in, out, in ... in turn, so each history is known."""
    door = scanner_client(site)
    inside = dict.fromkeys((pk for pk, _ in attendees), False)
    try:
        for count in range(sizes.scans_per_scanner):
            if stop.is_set():
                break
            pk, code = attendees[count % len(attendees)]
            scan = Scan(key=f"{KEY_PREFIX}{uuid.uuid4()}", attendee=pk, direction="out" if inside[pk] else "in")
            with tally.lock:
                tally.scans.append(scan)
            if not deliver(door, scan, code, tally, deadline, give_up_share=sizes.give_up_share):
                tally.problem(f"scanner {index}: a scan was not answered within the time limit")
                break
            if scan.answer.status != 201:
                # Anything else means the site and this scanner no longer agree on the state.
                tally.problem(
                    f"scanner {index}: scan {scan.direction} of attendee {pk} answered {describe(scan.answer)}"
                )
                break
            inside[pk] = scan.direction == "in"
            time.sleep(sizes.scan_pause)
    finally:
        door.close()


class PostgreSQL:
    """The local PostgreSQL cluster (Debian's pg_ctlcluster) listening on a port; stopped
    only through `outage`, which always starts it again."""

    def __init__(self, version: str, cluster: str):
        self.version = version
        self.cluster = cluster
        self.stopped_by_us = False
        self.lock = threading.Lock()

    @classmethod
    def serving(cls, server_url: str) -> PostgreSQL:
        parts = urlsplit(server_url)
        if parts.hostname not in {"127.0.0.1", "localhost"}:
            raise RuntimeError(f"PostgreSQL at {parts.hostname} is not local: only a local cluster can be stopped")
        port = str(parts.port or 5432)
        try:
            listed = subprocess.run(["pg_lsclusters", "--json"], capture_output=True, check=True, timeout=30)
        except (OSError, subprocess.SubprocessError) as error:
            raise RuntimeError(f"cannot list the PostgreSQL clusters: {error}") from None
        for entry in json.loads(listed.stdout):
            if str(entry.get("port")) == port and entry.get("running"):
                return cls(str(entry["version"]), entry["cluster"])
        raise RuntimeError(f"no running PostgreSQL cluster on port {port}")

    def control(self, action: str, *options: str) -> None:
        command = ["pg_ctlcluster", "--skip-systemctl-redirect", *options, self.version, self.cluster, action]
        # In a session of its own, so that a Ctrl-C at the terminal cannot cut a start short.
        subprocess.run(command, check=True, capture_output=True, timeout=120, start_new_session=True)

    def running(self) -> bool:
        command = ["pg_ctlcluster", self.version, self.cluster, "status"]
        return subprocess.run(command, capture_output=True, timeout=30).returncode == 0

    @contextmanager
    def outage(self) -> Iterator[None]:
        """PostgreSQL stopped for the duration of the block, started again whatever happens."""
        with self.lock:
            self.stopped_by_us = True
            self.control("stop", "--mode", "fast")
        try:
            yield
        finally:
            self.start_again()

    def start_again(self) -> None:
        with self.lock:
            if self.stopped_by_us and not self.running():
                self.control("start")
            self.stopped_by_us = False


def wait_for_postgresql(server_url: str, deadline: float) -> float:
    """The moment PostgreSQL accepts connections again."""
    import psycopg2

    while True:
        try:
            psycopg2.connect(server_url, connect_timeout=2).close()
            return time.monotonic()
        except psycopg2.Error:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def terminate_connections(server_url: str, database: str) -> int:
    """Terminate every connection to the run's database; returns how many."""
    import psycopg2

    try:
        connection = psycopg2.connect(server_url, connect_timeout=2)
    except psycopg2.Error:
        return 0
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                [database],
            )
            return sum(1 for (terminated,) in cursor.fetchall() if terminated)
    except psycopg2.Error:
        return 0
    finally:
        connection.close()


def worker_pids(master: int) -> list[int]:
    """The processes whose parent is gunicorn's master: its workers."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name in parentheses may hold spaces; the parent pid follows it and the state.
        if int(stat.rsplit(")", 1)[1].split()[1]) == master:
            pids.append(int(entry.name))
    return pids


def kill_a_worker(master: int, rng: random.Random) -> bool:
    workers = worker_pids(master)
    if not workers:
        return False
    pid = rng.choice(workers)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return False
    return True


@dataclasses.dataclass
class Faults:
    """What the fault thread needs: the server, the database and the probe's attendee."""

    master: int
    server_url: str
    database: str
    postgresql: PostgreSQL | None
    probe: tuple[int, str]
    site: Site


def make_faults(faults: Faults, sizes: Sizes, tally: Tally, stop: threading.Event, deadline: float, seed: int) -> None:
    """Kill workers and terminate connections in turn until `fault_seconds` have passed,
    with PostgreSQL stopped once in between (full run)."""
    rng = random.Random(seed)
    started = time.monotonic()
    next_kill = started + sizes.kill_every / 2
    next_terminate = started + sizes.terminate_every
    outage_due = sizes.restart_postgresql and faults.postgresql is not None
    while not stop.is_set() and time.monotonic() - started < sizes.fault_seconds:
        now = time.monotonic()
        if outage_due and now - started >= sizes.outage_at:
            outage_due = False
            restart_postgresql(faults, sizes, tally, stop, deadline)
            continue
        if now >= next_kill:
            next_kill = now + sizes.kill_every * rng.uniform(0.5, 1.5)
            if kill_a_worker(faults.master, rng):
                tally.add(worker_kills=1)
        if now >= next_terminate:
            next_terminate = now + sizes.terminate_every * rng.uniform(0.5, 1.5)
            tally.add(connections_terminated=terminate_connections(faults.server_url, faults.database))
        stop.wait(0.05)


def restart_postgresql(faults: Faults, sizes: Sizes, tally: Tally, stop: threading.Event, deadline: float) -> None:
    """Stop PostgreSQL, scan while it is away (a 503), start it, and time how long the site
    takes to answer that scan once PostgreSQL accepts connections again."""
    pk, code = faults.probe
    scan = Scan(key=f"{KEY_PREFIX}{uuid.uuid4()}", attendee=pk, direction="in")
    with tally.lock:
        tally.scans.append(scan)
    door = scanner_client(faults.site)
    try:
        with faults.postgresql.outage():
            tally.add(postgresql_restarts=1)
            away = send(door, scan, code, tally)
            tally.add(unavailable=int(away.status == 503), no_answer=int(away.status == 0))
            if away.status != 503:
                tally.problem(f"a scan while PostgreSQL was stopped answered {describe(away)}, not 503")
            stop.wait(sizes.outage_seconds)
        back = wait_for_postgresql(faults.server_url, deadline)
        if deliver(door, scan, code, tally, deadline, pause=PROBE_PAUSE):
            tally.recovery_seconds = time.monotonic() - back
            if scan.answer.status != 201:
                tally.problem(f"the scan after PostgreSQL came back answered {describe(scan.answer)}")
        else:
            tally.problem("the site did not answer a scan after PostgreSQL came back")
    finally:
        door.close()


@dataclasses.dataclass
class Outcome:
    """The checks' findings."""

    sent: int = 0
    answered: int = 0
    recorded: int = 0
    lost: int = 0
    duplicated: int = 0
    # Scans recorded by an attempt whose answer was lost, and answered by a later one.
    replayed: int = 0
    # (check-ins, peak inside) as the figures show them, and as the stays give them.
    figures: tuple[int, int] = (0, 0)
    figures_from_stays: tuple[int, int] = (0, 0)
    problems: list[str] = dataclasses.field(default_factory=list)


def check(site: Site, tally: Tally, attendees: list[int], stored: dict[str, tuple[int | None, int | None]]) -> Outcome:
    """Compare what the clients saw with the histories and with `stored`, each key's
    stored answer (see `stored_answers`)."""
    outcome = Outcome(sent=len(tally.scans), answered=sum(scan.answered for scan in tally.scans))
    histories = site.histories(attendees)
    claimed: dict[int, Scan] = {}
    scans_of: dict[int, list[Scan]] = {}
    for scan in tally.scans:
        scans_of.setdefault(scan.attendee, []).append(scan)
        if scan.answered and scan.answer.status == 201 and scan.record_id is None:
            outcome.problems.append("a scan answered 201 without its record")
        if scan.key not in stored:
            if scan.answered:
                outcome.problems.append(f"a scan answered {describe(scan.answer)} has no stored answer for its key")
            continue
        status, record_id = stored[scan.key]
        if scan.answered and (status, record_id) != (scan.answer.status, scan.record_id):
            outcome.problems.append(f"a key's stored answer ({status}) is not the one its client got")
        if record_id is not None:
            claimed[record_id] = scan
    for pk in attendees:
        # Oldest first, as the history lists them.
        records = [record for record in site.records(pk) if not record["voided"]]
        outcome.recorded += len(records)
        # A record no key's answer names was written by a request whose answer was never kept: a double.
        unclaimed = [record for record in records if record["id"] not in claimed]
        outcome.duplicated += len(unclaimed)
        recorded_ids = {record["id"] for record in records}
        answered = [scan for scan in scans_of.get(pk, []) if scan.record_id is not None]
        outcome.lost += sum(1 for scan in answered if scan.record_id not in recorded_ids)
        recorded_at = {record["id"]: datetime.fromisoformat(record["recorded_at"]).timestamp() for record in records}
        outcome.replayed += sum(
            1
            for scan in answered
            if scan.attempts > 1 and scan.record_id in recorded_at and recorded_at[scan.record_id] < scan.last_sent
        )
        expected = ["check_in" if scan.direction == "in" else "check_out" for scan in answered]
        got = [record["type"] for record in records]
        if got != expected and not unclaimed:
            at = first_difference(got, expected)
            outcome.problems.append(
                f"attendee {pk}: record {at + 1} of {len(got)} is {got[at : at + 1] or 'missing'}, "
                f"the answered scans say {expected[at : at + 1] or 'none'}"
            )
        if any(record["source"] != "scan" for record in records):
            outcome.problems.append(f"attendee {pk}: a record that is not a scan")
        outcome.problems.extend(f"attendee {pk}: {text}" for text in histories[pk].problems())
    return outcome


def check_figures(site: Site, outcome: Outcome) -> None:
    """The figures are kept in the transactions of the stays: killed workers and lost
    connections must leave the event's check-ins and peak what the stays give."""
    shown = site.admin.get(f"/api/events/{site.event_id}/attendance/")
    outcome.figures = (shown["check_ins"], shown["peak_inside"])
    outcome.figures_from_stays = figures_from_stays(site.event_id).get(None, (0, 0))
    if outcome.figures != outcome.figures_from_stays:
        outcome.problems.append(
            f"the figures show check-ins and peak {outcome.figures}, the stays give {outcome.figures_from_stays}"
        )


def first_difference(got: list[str], expected: list[str]) -> int:
    for index, (left, right) in enumerate(zip(got, expected, strict=False)):
        if left != right:
            return index
    return min(len(got), len(expected))


def stored_answers() -> dict[str, tuple[int | None, int | None]]:
    """Each Idempotency-Key of this run with its stored answer: (status, record id)."""
    from django.db import connections

    from attendees.models import IdempotentRequest

    try:
        stored = {}
        for key, status, body in IdempotentRequest.objects.filter(key__startswith=KEY_PREFIX).values_list(
            "key", "status_code", "body"
        ):
            data = json.loads(body) if body else {}
            record = data.get("record") if isinstance(data, dict) else None
            stored[key] = (status, record.get("id") if status == 201 and isinstance(record, dict) else None)
        return stored
    finally:
        connections.close_all()


def table(figures: list[tuple[str, str]]) -> str:
    width = max(len(name) for name, _ in figures)
    value_width = max(len(value) for _, value in figures)
    rule = f"|{'-' * (width + 2)}|{'-' * (value_width + 2)}|"
    lines = [f"| {name.ljust(width)} | {value.rjust(value_width)} |" for name, value in figures]
    return "\n".join([rule, *lines, rule])


def figures(tally: Tally, outcome: Outcome) -> list[tuple[str, str]]:
    recovery = "-" if tally.recovery_seconds is None else f"{tally.recovery_seconds:.2f}"
    return [
        ("scans sent", str(outcome.sent)),
        ("answered", str(outcome.answered)),
        ("recorded", str(outcome.recorded)),
        ("lost", str(outcome.lost)),
        ("duplicated", str(outcome.duplicated)),
        ("requests, retries included", str(tally.requests)),
        ("503 answers", str(tally.unavailable)),
        ("no answer (retried)", str(tally.no_answer)),
        ("answers not waited for (retried)", str(tally.given_up)),
        ("recorded before a lost answer, replayed", str(outcome.replayed)),
        ("figures: check-ins/peak = stays'", "{}/{} = {}/{}".format(*outcome.figures, *outcome.figures_from_stays)),
        ("worker kills", str(tally.worker_kills)),
        ("connections terminated", str(tally.connections_terminated)),
        ("PostgreSQL restarts", str(tally.postgresql_restarts)),
        ("seconds to recover after PostgreSQL came back", recovery),
    ]


def expectations(tally: Tally, sizes: Sizes, server_alive: bool) -> list[str]:
    """Whether the run did what it claims: faults happened, and the site came back in time."""
    found = []
    if not tally.worker_kills:
        found.append("no worker was killed")
    if not tally.connections_terminated:
        found.append("no database connection was terminated")
    if sizes.restart_postgresql:
        if tally.postgresql_restarts != 1:
            found.append(f"PostgreSQL was restarted {tally.postgresql_restarts} times, not once")
        elif tally.recovery_seconds is None or tally.recovery_seconds > RECOVERY_LIMIT:
            found.append(f"the site did not answer within {RECOVERY_LIMIT:.0f} s of PostgreSQL coming back")
    if not server_alive:
        found.append("gunicorn's master exited")
    return found


def run(site: Site, master: int, server_url: str, database: str, sizes: Sizes, seed: int, tally: Tally) -> list[int]:
    """Scanners and faults together; returns the attendees scanned."""
    deadline = site.deadline
    site.create_event(f"Faults {os.getpid()}")
    pks = site.create_attendees(sizes.scanners * sizes.attendees_per_scanner + 1, "Fault")
    attendees = list(site.ticket_codes(pks).items())
    probe, attendees = attendees[0], attendees[1:]
    postgresql = PostgreSQL.serving(server_url) if sizes.restart_postgresql else None
    stop_scanning, stop_faults = threading.Event(), threading.Event()
    faults = Faults(master, server_url, database, postgresql, probe, site)
    scanners = [
        threading.Thread(
            target=scanner,
            args=(index, attendees[index :: sizes.scanners], site, sizes, tally, stop_scanning, deadline),
            daemon=True,
        )
        for index in range(sizes.scanners)
    ]
    # Not a daemon: if it is stopping PostgreSQL, it must live to start it again.
    fault_thread = threading.Thread(
        target=guarded, args=(make_faults, tally, faults, sizes, tally, stop_faults, deadline, seed)
    )
    try:
        for thread in scanners:
            thread.start()
        time.sleep(0.5)
        fault_thread.start()
        fault_thread.join()
        time.sleep(sizes.calm_seconds)
    finally:
        stop_faults.set()
        stop_scanning.set()
        if fault_thread.is_alive():
            fault_thread.join(timeout=120)
        if postgresql is not None:
            with signals_held():
                postgresql.start_again()
        for thread in scanners:
            thread.join(timeout=max(0.0, deadline - time.monotonic()) + REQUEST_TIMEOUT)
    if any(thread.is_alive() for thread in scanners):
        tally.problem("some scanners did not finish in time")
    return [probe[0], *(pk for pk, _ in attendees)]


def guarded(work, tally: Tally, *args) -> None:
    try:
        work(*args)
    except Exception as error:
        tally.problem(f"the fault thread failed: {error!r}")


@contextmanager
def signals_held() -> Iterator[None]:
    """Ctrl-C and SIGTERM wait until the block is done, then take effect."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    held = (signal.SIGINT, signal.SIGTERM)
    previous = {number: signal.signal(number, lambda number, _: received.append(number)) for number in held}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        for number in received:
            signal.raise_signal(number)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = arguments(
        "python -m loadtests.faults",
        __doc__.split("\n\n")[0],
        small="no PostgreSQL restart, fewer scanners, shorter (for CI)",
        server="a local PostgreSQL server",
        seed="random seed of the faults",
    )
    args = parser.parse_args(argv)
    if urlsplit(args.database_url).hostname not in {"127.0.0.1", "localhost"}:
        parser.error("--database-url must be a PostgreSQL server on 127.0.0.1")
    if args.workers < 2:
        parser.error("--workers must be at least 2, so that a killed worker leaves another one serving")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = SMALL if args.small else FULL
    seed = args.seed
    name = f"faults_{os.getpid()}"
    # Stopped by a signal, still start PostgreSQL, stop the server and drop the database.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    print(
        f"faults: database {name}, {args.workers} gunicorn workers, seed {seed}, "
        f"{'small run' if args.small else 'full run, with a PostgreSQL restart'}"
    )
    started = time.monotonic()
    tally = Tally()
    with tempfile.TemporaryDirectory(prefix="faults-") as scratch:
        log = Path(scratch) / "gunicorn.log"
        try:
            if sizes.restart_postgresql:
                PostgreSQL.serving(args.database_url)
            with running_site(args.database_url, name, args.workers, log, sizes.time_limit) as (site, server):
                attendees = run(site, server.pid, args.database_url, name, sizes, seed, tally)
                outcome = check(site, tally, attendees, stored_answers())
                check_figures(site, outcome)
                outcome.problems.extend(expectations(tally, sizes, server_alive=server.poll() is None))
        except KeyboardInterrupt:
            print("faults: interrupted", file=sys.stderr)
            return 130
        except Exception as error:
            print(f"faults: could not run: {error}", file=sys.stderr)
            print_log(log)
            return 2
        print(table(figures(tally, outcome)))
        problems = tally.problems + outcome.problems
        for text in problems[:20]:
            print(f"  {text}")
        if len(problems) > 20:
            print(f"  ... and {len(problems) - 20} more")
        failed = bool(outcome.lost or outcome.duplicated or problems)
        print(
            f"faults: {time.monotonic() - started:.1f} s, "
            f"{'FAILED' if failed else 'every answered scan recorded once, nothing doubled'}"
        )
        if failed:
            print_log(log)
        return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
