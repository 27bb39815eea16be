"""7. The offline door: the roster a door device keeps to scan offline (`GET
/api/events/{id}/roster/`, streamed and gzipped) and the upload of the scans it made
offline (`POST /api/scans/batch/`), each beside a hand-written floor.

Roster: each variant and size is served by its own gunicorn with one sync worker on
127.0.0.1 and fetched with `Accept-Encoding: gzip`, as the door page fetches it. The
worker first serves the roster of a small event (imports, database connection, compiled
queries); then, before each timed request, its peak resident set size is reset
(/proc/PID/clear_refs) and, after it, read (VmHWM). Its growth is the highest peak over
the resident size after the warm-up. The floor is `benchmarks.roster_floor`.

Batch: scans of distinct attendees, every other one checking in someone who never
arrived or checking out someone inside, with device times a second apart in order,
sent in as few requests as the API takes, one after the other as the door page sends
them, and timed end to end.

On SQLite neither goes through gunicorn: the requests go through the test client in
this process, and no server memory is measured.
"""

import contextlib
import dataclasses
import datetime
import gc
import gzip
import http.client
import json
import math
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from django.db import connection, transaction
from django.utils import timezone

from attendees import selectors
from attendees.api.serializers import BatchSerializer
from attendees.models import Attendee

from . import data
from .client import api_client
from .report import Section, Target, figure, ms
from .scans import gunicorn
from .timing import Clock, captured_queries, median, ratio, statements

GOAL_SIZE = 100_000
ROSTER_GOAL_SECONDS = 1.5
ROSTER_GOAL_BYTES = 8_000_000
BATCH_GOAL_SCANS = 500
BATCH_GOAL_SECONDS = 2.0
# Below this, a difference in the worker's peak is the allocator's, whatever the size.
MEMORY_NOISE_KIB = 2048
REQUEST_TIMEOUT = 60
WARM_UP_REQUESTS = 2
WARM_UP_SIZE = 20
STATION = "North door"
MB = 1_000_000
ROSTER_SERVERS = {
    "api": ("eventsite.wsgi", "/api/events/{id}/roster/"),
    "floor": ("benchmarks.roster_floor:application", "/roster/{id}/"),
}
ROSTER_LABELS = {"api": "API", "floor": "floor: hand-written SQL"}
BATCH_PATH = "/api/scans/batch/"


@dataclasses.dataclass(frozen=True)
class Server:
    port: int
    worker: int | None  # the pid of gunicorn's one worker, where /proc tells it


@dataclasses.dataclass(frozen=True)
class Fetched:
    seconds: float
    first_byte_seconds: float | None
    body: bytes
    gzipped: bool


def run(
    *, database_url: str, postgresql: bool, roster_sizes: list[int], batch_scans: int, repeat: int, user
) -> list[Section]:
    return [
        run_roster(database_url=database_url, postgresql=postgresql, sizes=roster_sizes, repeat=repeat, user=user),
        run_batch(database_url=database_url, postgresql=postgresql, scans=batch_scans, repeat=repeat, user=user),
    ]


# The roster.


def run_roster(*, database_url: str, postgresql: bool, sizes: list[int], repeat: int, user) -> Section:
    served = postgresql
    section = Section(
        key="offline",
        title="7a. Roster of an event, gzipped: "
        + ("gunicorn, one sync worker, fresh for each size" if served else "in-process test client (SQLite)"),
        columns=[
            "attendees",
            "server",
            "ms",
            "first byte ms",
            "gzipped MB",
            "JSON MB",
            "gzipped B/attendee",
            "RSS before MiB",
            "peak MiB",
            "growth MiB",
            "API/floor",
        ],
    )
    token = data.token_for(user)
    warm_up = _roster_event("roster warm-up", WARM_UP_SIZE)
    events = {size: _roster_event(f"roster {size}", size) for size in sizes}
    data.analyze()
    results = []
    for index, size in enumerate(sizes):
        bodies = {}
        # Alternate which goes first, so that neither always meets a colder cache.
        for variant in ROSTER_SERVERS if index % 2 == 0 else reversed(ROSTER_SERVERS):
            if served:
                result, body = _roster_over_http(variant, events[size].pk, warm_up.pk, token, database_url, repeat)
            else:
                result, body = _roster_in_process(variant, events[size].pk, warm_up.pk, token, user, repeat)
            bodies[variant] = _attendees_of(body, events[size].pk, size, variant)
            results.append({"attendees": size, "variant": variant, **result})
        if bodies["api"] != bodies["floor"]:
            raise RuntimeError(f"the API's and the floor's rosters of {size:,} attendees differ")
        del bodies
    for result in results:
        floor = _find(results, result["attendees"], "floor")
        result["api_over_floor"] = ratio(result["median_seconds"], floor["median_seconds"])
    for result in sorted(results, key=lambda found: (found["attendees"], found["variant"])):
        section.rows.append(
            [
                f"{result['attendees']:,}",
                ROSTER_LABELS[result["variant"]],
                ms(result["median_seconds"]),
                _ms_or_none(result["first_byte_seconds"]),
                result["gzipped_bytes"] / MB,
                result["json_bytes"] / MB,
                result["gzipped_bytes"] / result["attendees"],
                _mib(result["rss_before_kib"]),
                _mib(result["peak_kib"]),
                _mib(result["growth_kib"]),
                f"{figure(result['api_over_floor'])}x" if result["variant"] == "api" else "",
            ]
        )
    section.data = {"results": results}
    section.notes += _roster_notes(results, served=served, repeat=repeat)
    section.targets = _roster_targets(results, served=served)
    return section


def _roster_event(name: str, size: int):
    """An event of `size` attendees: a third inside, a third left, a third never arrived."""
    event = data.make_event(name, size)
    ids = data.attendee_ids(event)
    data.add_visits(ids[: size // 3], closed=False)
    data.add_visits(ids[size // 3 : 2 * size // 3], closed=True)
    data.count_inside(event)
    return event


def _roster_over_http(
    variant: str, event_id: int, warm_up_id: int, token: str, database_url: str, repeat: int
) -> tuple[dict, bytes]:
    app, path = ROSTER_SERVERS[variant]
    with serve_one_worker(app, database_url) as server:
        for _ in range(WARM_UP_REQUESTS):
            fetch_roster(server.port, path.format(id=warm_up_id), token)
        rss_before = _status_kib(server.worker, "VmRSS")
        runs = []
        for _ in range(repeat):
            reset = _reset_peak(server.worker)
            fetched = fetch_roster(server.port, path.format(id=event_id), token)
            runs.append(
                {
                    "seconds": fetched.seconds,
                    "first_byte_seconds": fetched.first_byte_seconds,
                    "peak_kib": _status_kib(server.worker, "VmHWM"),
                    "peak_since": "request" if reset else "worker start",
                }
            )
        rss_after = _status_kib(server.worker, "VmRSS")
    peaks = [run["peak_kib"] for run in runs if run["peak_kib"] is not None]
    peak = max(peaks) if peaks else None
    return _roster_result(
        runs,
        fetched,
        rss_before_kib=rss_before,
        peak_kib=peak,
        growth_kib=peak - rss_before if peak is not None and rss_before is not None else None,
        rss_after_kib=rss_after,
    ), fetched.body


def _roster_in_process(
    variant: str, event_id: int, warm_up_id: int, token: str, user, repeat: int
) -> tuple[dict, bytes]:
    _, path = ROSTER_SERVERS[variant]
    client = api_client(user)
    for _ in range(WARM_UP_REQUESTS):
        _fetch_in_process(variant, client, path.format(id=warm_up_id), token)
    runs = []
    for _ in range(repeat):
        fetched = _fetch_in_process(variant, client, path.format(id=event_id), token)
        runs.append({"seconds": fetched.seconds, "first_byte_seconds": None, "peak_kib": None, "peak_since": None})
    return _roster_result(runs, fetched, rss_before_kib=None, peak_kib=None, growth_kib=None, rss_after_kib=None), (
        fetched.body
    )


def _roster_result(runs: list[dict], last: Fetched, **memory) -> dict:
    if not last.gzipped:
        raise RuntimeError("the roster was not gzipped for a client that accepts gzip")
    first_bytes = [run["first_byte_seconds"] for run in runs if run["first_byte_seconds"] is not None]
    return {
        "runs": runs,
        "median_seconds": median([run["seconds"] for run in runs]),
        "first_byte_seconds": median(first_bytes) if first_bytes else None,
        "gzipped_bytes": len(last.body),
        "json_bytes": len(gzip.decompress(last.body)),
        **memory,
    }


def _attendees_of(body: bytes, event_id: int, size: int, variant: str) -> list[dict]:
    roster = json.loads(gzip.decompress(body))
    if roster["event"] != event_id or len(roster["attendees"]) != size:
        raise RuntimeError(f"the {variant} roster of event {event_id} has {len(roster['attendees'])} attendees")
    return roster["attendees"]


def _find(results: list[dict], size: int, variant: str) -> dict:
    return next(result for result in results if result["attendees"] == size and result["variant"] == variant)


def _roster_notes(results: list[dict], *, served: bool, repeat: int) -> list[str]:
    notes = [
        f"median of {repeat} requests per size and server, after {WARM_UP_REQUESTS} untimed requests for an event of "
        f"{WARM_UP_SIZE}; each event has a third of its attendees inside, a third left, a third never arrived; "
        "the API's and the floor's rosters are checked to hold the same attendees",
        "ms: from sending the request to the last byte read, with Accept-Encoding: gzip (as the door page's fetch "
        "sends it); gzipped MB: the body on the wire; JSON MB: the same once decompressed",
        "floor: benchmarks.roster_floor, a plain WSGI app: the token in one SELECT (no permission check), the same "
        "rows from one hand-written SELECT through the same chunked cursor, SHA-256 and JSON 1,000 rows at a time, "
        "gzip at the same level (6), in the same process",
    ]
    if not served:
        return [*notes, "on SQLite: in-process through the test client, no gunicorn, no server memory"]
    since = {run["peak_since"] for result in results for run in result["runs"]}
    notes.append(
        "memory of the gunicorn worker that served the requests: RSS before = VmRSS after the warm-up; peak = the "
        "highest VmHWM "
        + ("reset before each timed request (clear_refs)" if since == {"request"} else "since the worker started")
        + "; growth = peak - RSS before"
    )
    notes.append("first byte: the answer's headers and gzip header come before the rows are read (streamed)")
    notes.append("client, server and PostgreSQL share the machine's cores")
    return notes


def _roster_targets(results: list[dict], *, served: bool) -> list[Target]:
    api = [result for result in results if result["variant"] == "api"]
    at_goal = [result for result in api if result["attendees"] == GOAL_SIZE]
    goal = at_goal[0] if at_goal else None
    time_name = f"roster of {GOAL_SIZE:,} in at most {ROSTER_GOAL_SECONDS:g} s over HTTP"
    size_name = f"roster of {GOAL_SIZE:,} at most {ROSTER_GOAL_BYTES / MB:g} MB on the wire"
    memory_name = (
        f"the worker's memory does not grow with the size (growth within {MEMORY_NOISE_KIB // 1024} MiB of the "
        "smallest size's)"
    )
    if goal is None:
        missing = f"{GOAL_SIZE:,} attendees not in this run"
        targets = [Target(time_name, None, missing), Target(size_name, None, missing)]
    else:
        floor = _find(results, GOAL_SIZE, "floor")
        targets = [
            Target(
                time_name,
                goal["median_seconds"] <= ROSTER_GOAL_SECONDS if served else None,
                f"{figure(ms(goal['median_seconds']))} ms (floor {figure(ms(floor['median_seconds']))} ms)"
                if served
                else "measured in-process only (SQLite)",
            ),
            Target(
                size_name,
                goal["gzipped_bytes"] <= ROSTER_GOAL_BYTES,
                f"{figure(goal['gzipped_bytes'] / MB)} MB gzipped ({figure(goal['json_bytes'] / MB)} MB of JSON)",
            ),
        ]
    measured = sorted((result for result in api if result["growth_kib"] is not None), key=lambda r: r["attendees"])
    if len(measured) < 2:
        targets.append(
            Target(memory_name, None, "needs two sizes served by gunicorn" if served else "not measured (SQLite)")
        )
    else:
        smallest, largest = measured[0], measured[-1]
        targets.append(
            Target(
                memory_name,
                largest["growth_kib"] - smallest["growth_kib"] <= MEMORY_NOISE_KIB,
                ", ".join(
                    f"{figure(result['growth_kib'] / 1024)} MiB at {result['attendees']:,}" for result in measured
                )
                + f" (peak {figure(largest['peak_kib'] / 1024)} MiB at {largest['attendees']:,})",
            )
        )
    return targets


def fetch_roster(port: int, path: str, token: str) -> Fetched:
    """GET `path` as the door page does, reading the whole body as it comes."""
    client = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
    headers = {"Authorization": f"Token {token}", "Accept": "application/json", "Accept-Encoding": "gzip"}
    # As `Clock` does: from a collected heap, so that no garbage of earlier runs is charged here.
    gc.collect()
    try:
        start = time.perf_counter()
        client.request("GET", path, headers=headers)
        response = client.getresponse()
        first_byte = time.perf_counter() - start
        body = response.read()
        seconds = time.perf_counter() - start
    finally:
        client.close()
    if response.status != 200:
        raise RuntimeError(f"{path} answered {response.status}, not 200")
    return Fetched(seconds, first_byte, body, response.getheader("Content-Encoding") == "gzip")


def _fetch_in_process(variant: str, client, path: str, token: str) -> Fetched:
    if variant == "api":
        with Clock() as clock:
            response = client.get(path, HTTP_ACCEPT_ENCODING="gzip")
            body = b"".join(response.streaming_content)
        if response.status_code != 200:
            raise RuntimeError(f"{path} answered {response.status_code}, not 200")
        return Fetched(clock.seconds, None, body, response.get("Content-Encoding") == "gzip")
    from . import roster_floor

    headers = {}
    environ = {"PATH_INFO": path, "HTTP_AUTHORIZATION": f"Token {token}", "HTTP_ACCEPT_ENCODING": "gzip"}
    with Clock() as clock:
        body = b"".join(roster_floor.application(environ, lambda status, pairs: headers.update(pairs)))
    return Fetched(clock.seconds, None, body, headers.get("Content-Encoding") == "gzip")


# The server and its worker's memory.


@contextlib.contextmanager
def serve_one_worker(app: str, database_url: str) -> Iterator[Server]:
    """Run `gunicorn app` with one sync worker on a free port of 127.0.0.1 until the block
    ends; only that server is stopped, by its pid."""
    with gunicorn(app, "eventsite.settings", database_url, workers=1, timeout=REQUEST_TIMEOUT) as (port, master):
        yield Server(port, _worker_of(master))


def _worker_of(master: int) -> int | None:
    """The pid of the one child of gunicorn's master process, from /proc."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # After the command's name in parentheses: the state, then the parent's pid.
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if parent == master:
            return int(stat.parent.name)
    return None


def _status_kib(pid: int | None, field: str) -> int | None:
    if pid is None:
        return None
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return None


def _reset_peak(pid: int | None) -> bool:
    """Set the process's VmHWM back to its VmRSS (Linux)."""
    if pid is None:
        return False
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


# The batch.


def run_batch(*, database_url: str, postgresql: bool, scans: int, repeat: int, user) -> Section:
    limit = BatchSerializer().fields["scans"].max_length
    requests = math.ceil(scans / limit)
    section = Section(
        key="offline",
        title=f"7b. A batch of {scans:,} offline scans (distinct attendees, in and out by turns), "
        f"{requests} POST{'s' if requests > 1 else ''} of at most {limit}",
        columns=["variant", "scans", "requests", "ms", "ms/scan", "statements", "statements/scan", "API/floor"],
    )
    token = data.token_for(user)
    variants = ["http", "floor"] if postgresql else ["floor"]
    seconds: dict[str, list[float]] = {variant: [] for variant in variants}
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(serve_one_worker("eventsite.wsgi", database_url)) if postgresql else None
        if server is not None:
            warm_up = _batch_event("batch warm-up", 2)
            _post_over_http(server.port, token, _payloads(*warm_up, limit=limit))
        for rep in range(repeat):
            for variant in variants if rep % 2 == 0 else reversed(variants):
                event, tickets = _batch_event(f"batch {variant} #{rep}", scans)
                payloads = _payloads(event, tickets, limit=limit)
                if variant == "http":
                    with Clock() as clock:
                        answers = _post_over_http(server.port, token, payloads)
                    _expect_recorded(answers, scans)
                else:
                    with Clock() as clock:
                        floor_batch(scans=_scans_of(payloads), by_id=user.pk)
                _expect_state(event, scans)
                seconds[variant].append(clock.seconds)
    in_process = _in_process_batch(user, token, scans, limit)
    # The floor's statements, on a batch of its own: capturing them costs time the runs above do not pay.
    event, tickets = _batch_event("batch floor statements", scans)
    with captured_queries() as queries:
        floor_batch(scans=_scans_of(_payloads(event, tickets, limit=limit)), by_id=user.pk)
    _expect_state(event, scans)
    floor_statements = len(queries.captured_queries)
    rows = {
        "http": "API over HTTP (gunicorn, one sync worker)",
        "in_process": "API in-process (test client, statements captured)",
        "floor": "floor: hand-written SQL, one transaction",
    }
    figures = {variant: median(times) for variant, times in seconds.items()}
    figures["in_process"] = in_process["seconds"]
    counts = {"http": None, "in_process": in_process["statements"], "floor": floor_statements}
    for variant, label in rows.items():
        if variant not in figures:
            continue
        section.rows.append(
            [
                label,
                f"{scans:,}",
                requests,
                ms(figures[variant]),
                ms(figures[variant]) / scans,
                None if counts[variant] is None else f"{counts[variant]:,}",
                None if counts[variant] is None else counts[variant] / scans,
                f"{figure(ratio(figures[variant], figures['floor']))}x" if variant != "floor" else "",
            ]
        )
    per_scan, per_request = in_process["per_scan"], in_process["per_request"]
    section.data = {
        "scans": scans,
        "limit_per_request": limit,
        "requests": requests,
        "seconds": seconds,
        "median_seconds": figures,
        "statements": counts,
        "statements_per_scan_beyond_the_request": per_scan,
        "statements_per_request": per_request,
        "statements_of_two_scans": in_process["two_scans_sql"],
    }
    section.notes += [
        f"the contract takes 1 to {limit} scans per request: {scans:,} scans go up in {requests} request"
        f"{'s' if requests > 1 else ''}, one after the other; token authentication, an Idempotency-Key on each "
        "request as the door page sends it; every scan is checked to be recorded",
        "each scan: a nonce, the ticket code, direction in (someone who never arrived) or out (someone inside "
        "since 2 hours), the event, a station and the device's time, a second after the previous scan's",
        f"median of {repeat} run{'s' if repeat > 1 else ''}, fresh attendees each run"
        + ("; the HTTP and floor runs alternate" if postgresql else ""),
        f"statements (BEGIN, COMMIT and savepoints included), from the in-process run: {figure(per_scan)} per scan "
        f"and {figure(per_request)} per request besides (from a batch of 2 scans beside the whole batch); the "
        "statements of 2 scans are in the JSON",
        "floor: in one transaction, the attendees found by their codes, one INSERT of the stays opened, one UPDATE "
        "closing the stays left, one INSERT of the records, one INSERT of the offline scans' answers and one UPDATE "
        "of the event's number inside, per 500 scans; no rule is checked and no answer built",
    ]
    if not postgresql:
        section.notes.append("skipped: the HTTP run is on PostgreSQL only")
    section.targets.append(_batch_target(figures.get("http"), scans))
    return section


def _batch_event(name: str, size: int):
    """An event of `size` attendees, every other one inside since 2 hours, and their tickets in id order."""
    event = data.make_event(name, size)
    tickets = data.tickets(event)
    data.add_visits([pk for pk, _ in tickets[1::2]], closed=False, at=timezone.now() - datetime.timedelta(hours=2))
    data.count_inside(event)
    # The statistics of the tables as they stand, as autovacuum keeps them: planned on
    # those of before the earlier runs' batches, a record's check for an earlier record
    # of its stay reads the index of every record rather than probe it for the stay.
    data.analyze()
    return event, tickets


def _payloads(event, tickets: list[tuple[int, str]], *, limit: int) -> list[dict]:
    """The batch as the door page sends it: queued scans in order, at most `limit` a request."""
    start = timezone.now() - datetime.timedelta(seconds=len(tickets) + 60)
    scans = [
        {
            "nonce": uuid.uuid4().hex,
            "direction": "out" if index % 2 else "in",
            "at": (start + datetime.timedelta(seconds=index)).isoformat().replace("+00:00", "Z"),
            "event": event.pk,
            "ticket_code": code,
            "station": STATION,
        }
        for index, (_, code) in enumerate(tickets)
    ]
    return [{"scans": scans[start : start + limit]} for start in range(0, len(scans), limit)]


def _scans_of(payloads: list[dict]) -> list[dict]:
    return [scan for payload in payloads for scan in payload["scans"]]


def _post_over_http(port: int, token: str, payloads: list[dict]) -> list[dict]:
    answers = []
    for payload in payloads:
        body = json.dumps(payload).encode()
        client = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
        headers = {
            "Authorization": f"Token {token}",
            "Content-Type": "application/json",
            "Accept": "application/json",
            "Idempotency-Key": uuid.uuid4().hex,
        }
        try:
            client.request("POST", BATCH_PATH, body=body, headers=headers)
            response = client.getresponse()
            answer = response.read()
        finally:
            client.close()
        if response.status != 200:
            raise RuntimeError(f"{BATCH_PATH} answered {response.status}, not 200")
        answers += json.loads(answer)["results"]
    return answers


def _expect_recorded(results: list[dict], scans: int) -> None:
    recorded = sum(1 for result in results if result["status"] == "recorded" and not result["duplicate"])
    if recorded != scans:
        codes = sorted({result.get("code") for result in results if result["status"] != "recorded"}, key=str)
        raise RuntimeError(f"{recorded} of {scans} offline scans recorded; refused: {codes}")


def _expect_state(event, scans: int) -> None:
    """After a batch, those checked in are inside and those checked out have left."""
    states = selectors.attendees_with_state(Attendee.objects.filter(event=event))
    inside = states.filter(is_checked_in=True).count()
    left = states.filter(is_checked_out=True).count()
    if (inside, left) != ((scans + 1) // 2, scans // 2):
        raise RuntimeError(f"after a batch of {scans}: {inside} inside and {left} left")


def _in_process_batch(user, token: str, scans: int, limit: int) -> dict:
    """The whole batch through the test client, its statements captured, and a batch of 2
    scans (one in, one out) whose statements are kept."""
    client = api_client(user)
    found = {}
    for size in (2, scans):
        event, tickets = _batch_event(f"batch in-process {size}", size)
        payloads = _payloads(event, tickets, limit=limit)
        sql: list[str] = []
        answers = []
        with Clock() as clock:
            for payload in payloads:
                with captured_queries() as queries:
                    response = client.post(BATCH_PATH, payload, format="json")
                if response.status_code != 200:
                    raise RuntimeError(f"{BATCH_PATH} answered {response.status_code}, not 200")
                if len(queries.captured_queries) >= connection.queries_limit:
                    raise RuntimeError(f"more than {connection.queries_limit} statements in one request")
                answers += response.json()["results"]
                sql += statements(queries, token=token)
        _expect_recorded(answers, size)
        _expect_state(event, size)
        found[size] = {"seconds": clock.seconds, "sql": sql, "tickets": tickets, "requests": len(payloads)}
    two, whole = found[2], found[scans]
    per_scan = ratio(len(whole["sql"]) - whole["requests"] * len(two["sql"]), scans - 2 * whole["requests"])
    return {
        "seconds": whole["seconds"],
        "statements": len(whole["sql"]),
        "per_scan": per_scan,
        "per_request": len(two["sql"]) - 2 * per_scan,
        "two_scans_sql": _without_codes(two["sql"], two["tickets"]),
    }


def _without_codes(sql: list[str], tickets: list[tuple[int, str]]) -> list[str]:
    """The statements with the ticket codes in them shown as <ticket code>: codes are secrets."""
    for _, code in tickets:
        sql = [statement.replace(code, "<ticket code>") for statement in sql]
    return sql


def floor_batch(*, scans: list[dict], by_id: int) -> int:
    """The writes of a batch of valid scans by hand, in one transaction: for each 500 scans,
    the attendees found by their codes, one INSERT of the stays opened, one UPDATE closing
    the stays left, one INSERT of the records, one of the offline scans' answers and one
    UPDATE of the event's number inside. Checks no rule and builds no answer."""
    limit = BatchSerializer().fields["scans"].max_length
    written = 0
    with transaction.atomic(), connection.cursor() as cursor:
        for start in range(0, len(scans), limit):
            written += _floor_chunk(cursor, scans[start : start + limit], by_id)
    return written


def _floor_chunk(cursor, scans: list[dict], by_id: int) -> int:
    adapt = connection.ops.adapt_datetimefield_value
    now = timezone.now()
    codes = [scan["ticket_code"] for scan in scans]
    cursor.execute(
        f"SELECT ticket_code, id, event_id FROM attendees_attendee WHERE ticket_code IN ({_marks(len(codes))})", codes
    )
    attendees = {code: (pk, event_id) for code, pk, event_id in cursor.fetchall()}
    moments = [min(datetime.datetime.fromisoformat(scan["at"]), now) for scan in scans]
    entering = [
        (attendees[scan["ticket_code"]][0], at)
        for scan, at in zip(scans, moments, strict=True)
        if scan["direction"] == "in"
    ]
    leaving = [
        (attendees[scan["ticket_code"]][0], at)
        for scan, at in zip(scans, moments, strict=True)
        if scan["direction"] == "out"
    ]
    visits = {}
    if entering:
        cursor.execute(
            "INSERT INTO attendees_visit (attendee_id, checked_in_at, checked_in_by_id) VALUES "
            + ", ".join(["(%s, %s, %s)"] * len(entering))
            + " RETURNING attendee_id, id",
            [value for pk, at in entering for value in (pk, adapt(at), by_id)],
        )
        visits.update(cursor.fetchall())
    if leaving:
        cursor.execute(
            "WITH leaving (attendee_id, at) AS (VALUES "
            + ", ".join(["(%s, %s)"] * len(leaving))
            + ") UPDATE attendees_visit SET checked_out_at = leaving.at, checked_out_by_id = %s FROM leaving "
            "WHERE attendees_visit.attendee_id = leaving.attendee_id AND attendees_visit.checked_out_at IS NULL "
            "AND attendees_visit.voided_at IS NULL AND attendees_visit.area_id IS NULL "
            "RETURNING attendees_visit.attendee_id, attendees_visit.id",
            [*(value for pk, at in leaving for value in (pk, adapt(at))), by_id],
        )
        visits.update(cursor.fetchall())
    cursor.execute(
        "INSERT INTO attendees_record (attendee_id, visit_id, area_id, type, at, recorded_at, recorded_by_id, station, "
        "source, capacity_override, reason, void_reason) VALUES "
        + ", ".join(["(%s, %s, NULL, %s, %s, %s, %s, %s, 'offline', %s, '', '')"] * len(scans))
        + " RETURNING attendee_id, id",
        [
            value
            for scan, at in zip(scans, moments, strict=True)
            for pk in [attendees[scan["ticket_code"]][0]]
            for value in (
                pk,
                visits[pk],
                "check_in" if scan["direction"] == "in" else "check_out",
                adapt(at),
                adapt(now),
                by_id,
                scan["station"],
                False,
            )
        ],
    )
    records = dict(cursor.fetchall())
    cursor.execute(
        "INSERT INTO attendees_offlinescan (user_id, nonce, result, created_at) VALUES "
        + ", ".join(["(%s, %s, %s, %s)"] * len(scans)),
        [
            value
            for scan in scans
            for value in (
                by_id,
                scan["nonce"],
                json.dumps(
                    {
                        "recorded": True,
                        "code": None,
                        "record_id": records[attendees[scan["ticket_code"]][0]],
                        "errors": None,
                    }
                ),
                adapt(now),
            )
        ],
    )
    (event_id,) = {event_id for _, event_id in attendees.values()}
    cursor.execute(
        "UPDATE attendees_event SET inside = inside + %s WHERE id = %s", [len(entering) - len(leaving), event_id]
    )
    return len(records)


def _marks(count: int) -> str:
    return ", ".join(["%s"] * count)


def _batch_target(seconds: float | None, scans: int) -> Target:
    name = f"a batch of {BATCH_GOAL_SCANS} offline scans in at most {BATCH_GOAL_SECONDS:g} s on PostgreSQL"
    if seconds is None:
        return Target(name, None, "skipped: the HTTP run is on PostgreSQL only")
    if scans != BATCH_GOAL_SCANS:
        return Target(name, None, f"a batch of {scans:,} in this run: {figure(ms(seconds))} ms")
    return Target(name, seconds <= BATCH_GOAL_SECONDS, f"{figure(ms(seconds))} ms over HTTP")


def _ms_or_none(seconds: float | None) -> float | None:
    return None if seconds is None else ms(seconds)


def _mib(kib: int | None) -> float | None:
    return None if kib is None else kib / 1024
