"""3. Door scans per second over HTTP: gunicorn serving the API and, beside it, the bare
views (`benchmarks.bare`), both on the scratch PostgreSQL database, driven by a
closed-loop client on 127.0.0.1. Each scan is a check-in then a check-out of an
attendee no other scan touches, sent two ways to each server: by id to the `checkin`
and `checkout` endpoints, and by ticket code to the scan endpoint (direction "in",
then "out")."""

import contextlib
import dataclasses
import http.client
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings
from django.test import Client, RequestFactory, override_settings
from django.urls import resolve

from . import data
from .client import api_client, expect
from .report import Section, Target, figure, ms
from .timing import Clock, captured_queries, mean, median, percentile, ratio, rotated, statements

PROJECT_ROOT = Path(__file__).resolve().parent.parent
WORKERS = 4
MIN_RATIO = 0.6
# The goals the scan endpoint was built to: a scan is one POST /api/scans/ request.
SCAN_GOAL_CONCURRENCY = 8
SCAN_GOAL_RATE = 225
SCAN_GOAL_P99 = 0.100
BARE_TARGET = f"API at least {MIN_RATIO}x the bare view's throughput"
SCAN_FAST_TARGET = "a scan is at least as fast as checkin"
SCAN_GOAL_TARGET = (
    f"about {SCAN_GOAL_RATE} scans/s at concurrency {SCAN_GOAL_CONCURRENCY}, p99 under {ms(SCAN_GOAL_P99):g} ms"
)
STARTUP_SECONDS = 60
REQUEST_TIMEOUT = 30
WARM_UP_REQUESTS = 64
# Each HTTP run is taken in this many parts, in turn with the other runs of its level,
# in one order and then the other: an even number, so that at every level each run
# comes first as often as the other does.
ROUNDS = 4
STATION = "North door"
SERVERS = {
    "api": ("eventsite.wsgi", "eventsite.settings"),
    "bare": ("benchmarks.bare_wsgi", "benchmarks.bare_settings"),
}
PREFIXES = {"api": "/api", "bare": "/bare", "drf": "/drf"}


@dataclasses.dataclass(frozen=True)
class Ticket:
    pk: int
    code: str
    event: int


@dataclasses.dataclass(frozen=True)
class Request:
    path: str
    body: bytes
    endpoint: str


def by_id(prefix: str, ticket: Ticket) -> list[Request]:
    """Today's door: `checkin` then `checkout` of the attendee's id."""
    body = json.dumps({"station": STATION}).encode()
    return [Request(f"{prefix}/attendees/{ticket.pk}/{action}/", body, "checkin") for action in ("checkin", "checkout")]


def by_code(prefix: str, ticket: Ticket) -> list[Request]:
    """A door scanning tickets for one event: the code scanned in, then out."""
    return [
        Request(
            f"{prefix}/scans/",
            json.dumps(
                {"ticket_code": ticket.code, "direction": direction, "event": ticket.event, "station": STATION}
            ).encode(),
            "scan",
        )
        for direction in ("in", "out")
    ]


ENDPOINTS = {"checkin": by_id, "scan": by_code}
STEPS = {"checkin": ("checkin", "checkout"), "scan": ("scan_in", "scan_out")}
# Every server with every endpoint, in the order of the table.
RUNS = [(server, endpoint) for server in SERVERS for endpoint in ENDPOINTS]


def run(
    *,
    database_url: str,
    postgresql: bool,
    concurrency: list[int],
    seconds: float,
    max_requests: int,
    user,
    profile: Path | None,
    in_process_rounds: int = 5,
    in_process_scans: int = 40,
) -> Section:
    section = Section(
        key="scans",
        title="3. Door scans over HTTP (gunicorn, 4 sync workers): check-in then check-out, by id and by ticket code",
        columns=[
            "concurrency",
            "server",
            "endpoint",
            "requests",
            "req/s",
            "p50 ms",
            "p95 ms",
            "p99 ms",
            "errors",
            "API/bare",
            "scan/checkin",
        ],
    )
    token = data.token_for(user)
    section.data["queries_per_scan"] = per_scan = queries_per_scan(user, postgresql=postgresql)
    if profile is not None:
        section.data["profile"] = [str(path) for path in profile_paths(profile)]
        section.notes.append(f"profiles of in-process API scans written to {', '.join(section.data['profile'])}")
        profile_scans(user, profile)
    if not postgresql:
        section.notes += [_statements_note(per_scan), "skipped: the HTTP measure runs on PostgreSQL only"]
        section.targets += [
            Target(BARE_TARGET, None, "skipped"),
            Target(SCAN_FAST_TARGET, None, "skipped"),
            Target(SCAN_GOAL_TARGET, None, "skipped"),
        ]
        return section
    section.data["in_process_seconds"] = local = in_process(
        user, rounds=in_process_rounds, scans_per_round=in_process_scans
    )
    scans_per_run = max_requests // 2
    # Attendees for the warm-up and for every run, the paired ones included, none shared.
    runs_with_paired = len(RUNS) + 1
    event = data.make_event("scans", (WARM_UP_REQUESTS // 2 + scans_per_run * len(concurrency)) * runs_with_paired)
    data.analyze()
    tickets = (Ticket(pk, code, event.pk) for pk, code in data.tickets(event))
    results = []
    with contextlib.ExitStack() as stack:
        ports = {
            name: stack.enter_context(serve(app, settings_module, database_url))
            for name, (app, settings_module) in SERVERS.items()
        }
        for server, endpoint in RUNS:
            # Untimed, so that every worker has imported and connected before the runs.
            scans = _scans(server, endpoint, _take(tickets, WARM_UP_REQUESTS // 2))
            closed_loop(ports[server], token, scans, 8, WARM_UP_REQUESTS, 30)
        for index, clients in enumerate(concurrency):
            # Each run in ROUNDS parts, taken in turn with the other runs of the level and
            # in the other order every time, so that what the machine does meanwhile (the
            # database's background work, another process) falls on all of them alike.
            parts: dict[tuple[str, str], list[dict]] = {}
            for turn in range(ROUNDS):
                order = RUNS if (index + turn) % 2 == 0 else list(reversed(RUNS))
                for server, endpoint in order:
                    scans = _scans(server, endpoint, _take(tickets, scans_per_run // ROUNDS))
                    parts.setdefault((server, endpoint), []).append(
                        closed_loop(ports[server], token, scans, clients, max_requests // ROUNDS, seconds / ROUNDS)
                    )
            level = {}
            for (server, endpoint), runs in parts.items():
                level[server, endpoint] = result = combined(runs)
                del result["latencies"]  # in its percentiles; not kept in the JSON
                result.update(server=server, endpoint=endpoint, concurrency=clients)
            for server, endpoint in RUNS:
                result = level[server, endpoint]
                rate = result["requests_per_second"]
                result["api_over_bare"] = (
                    ratio(rate, level["bare", endpoint]["requests_per_second"]) if server == "api" else None
                )
                result["scan_over_checkin"] = (
                    ratio(rate, level[server, "checkin"]["requests_per_second"]) if endpoint == "scan" else None
                )
                results.append(result)
                section.rows.append(
                    [
                        clients,
                        server,
                        endpoint,
                        result["requests"],
                        rate,
                        ms(result["p50_seconds"]),
                        ms(result["p95_seconds"]),
                        ms(result["p99_seconds"]),
                        result["errors"],
                        _times(result["api_over_bare"]),
                        _times(result["scan_over_checkin"]),
                    ]
                )
        # Then the API's checkin and scan side by side in one closed loop at each level, on
        # a server of their own that logs how long each request took it.
        access_log = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-access-"))) / "access.log"
        port, _ = stack.enter_context(gunicorn(*SERVERS["api"], database_url, access_log=access_log))
        closed_loop(port, token, side_by_side(_take(tickets, WARM_UP_REQUESTS // 2)), 8, WARM_UP_REQUESTS, 30)
        paired = [
            paired_run(port, access_log, token, _take(tickets, scans_per_run), clients, max_requests, seconds)
            for clients in concurrency
        ]
    section.data["runs"] = results
    section.data["paired"] = paired
    section.notes += [
        "checkin: POST /api/attendees/{id}/checkin/ then .../checkout/; scan: POST /api/scans/ with the ticket code, "
        'direction "in" then "out" and the event; each request with a station; the bare server the same at /bare/',
        f"closed loop: each client thread sends its next request when the last is answered; at most "
        f"{max_requests:,} requests or {seconds:g} s per run, in {ROUNDS} parts taken in turn with the level's "
        "other runs, half of them in the other order; gunicorn's sync workers close the connection after each "
        "response, so every request opens a new one",
        "bare: plain Django views, hand-written SQL, same token, permission rule and response body",
        _statements_note(per_scan),
    ]
    section.notes.append(
        f"in-process, through the test client (no gunicorn, no sockets), median per request: API checkin "
        f"{figure(ms(local['api']))} ms, the bare SQL behind the REST framework {figure(ms(local['drf']))} ms, "
        f"bare view {figure(ms(local['bare']))} ms: bare/API {figure(ratio(local['bare'], local['api']))}x, "
        f"bare/framework {figure(ratio(local['bare'], local['drf']))}x; API scan {figure(ms(local['api_scan']))} "
        f"ms ({figure(ratio(local['api_scan'], local['api']))}x the checkin's), bare scan "
        f"{figure(ms(local['bare_scan']))} ms"
    )
    section.notes.append("client, servers and PostgreSQL share the machine's cores")
    section.notes.append(
        "paired: checkin and scan through the API in one closed loop, each client sending a check-in and "
        "check-out by id and a scan in and out by code in turn, so that both meet the same load at the same "
        "moments; scan/checkin is the checkin requests' mean time in the server (gunicorn's access log, from the "
        "request read to the response sent) over the scans', and the same of the mean latency at the client, "
        "which at saturation is mostly the wait for a worker: "
        + ", ".join(
            f"{figure(run['scan_over_checkin'])}x at {run['concurrency']} "
            f"({figure(ms(run['server_seconds']['checkin']))} against {figure(ms(run['server_seconds']['scan']))} "
            f"ms; at the client {figure(run['latency_scan_over_checkin'])}x, "
            f"{figure(ms(run['mean_seconds']['checkin']))} against {figure(ms(run['mean_seconds']['scan']))} ms; "
            f"{run['requests']:,} requests)"
            for run in paired
        )
    )
    section.targets += [_bare_target(results), _scan_fast_target(results, paired), _scan_goal_target(results)]
    return section


def _bare_target(results: list[dict]) -> Target:
    api = [result for result in results if result["server"] == "api" and result["endpoint"] == "checkin"]
    worst = min(api, key=lambda result: result["api_over_bare"])
    return Target(
        BARE_TARGET,
        all(result["api_over_bare"] >= MIN_RATIO for result in api),
        ", ".join(f"{figure(result['api_over_bare'])}x at {result['concurrency']}" for result in api)
        + f" (lowest at concurrency {worst['concurrency']})",
    )


def _scan_fast_target(results: list[dict], paired: list[dict]) -> Target:
    """Judged as the goal says, on the separate runs' rates; the paired runs' ratios (the
    same load at the same moments) are shown beside them."""
    scans = [result for result in results if result["server"] == "api" and result["endpoint"] == "scan"]
    return Target(
        SCAN_FAST_TARGET,
        all(result["scan_over_checkin"] >= 1 for result in scans),
        "API scans/s over checkin requests/s: "
        + ", ".join(f"{figure(result['scan_over_checkin'])}x at {result['concurrency']}" for result in scans)
        + "; paired, checkin's mean time in the server over the scan's: "
        + ", ".join(f"{figure(run['scan_over_checkin'])}x at {run['concurrency']}" for run in paired),
    )


def _scan_goal_target(results: list[dict]) -> Target:
    found = [
        result
        for result in results
        if (result["server"], result["endpoint"], result["concurrency"]) == ("api", "scan", SCAN_GOAL_CONCURRENCY)
    ]
    if not found:
        return Target(SCAN_GOAL_TARGET, None, f"no run at concurrency {SCAN_GOAL_CONCURRENCY}")
    result = found[0]
    return Target(
        SCAN_GOAL_TARGET,
        result["requests_per_second"] >= SCAN_GOAL_RATE and result["p99_seconds"] < SCAN_GOAL_P99,
        f"{figure(result['requests_per_second'])} scans/s (POST /api/scans/ requests), p99 "
        f"{figure(ms(result['p99_seconds']))} ms",
    )


def _times(value: float | None) -> str:
    return "" if value is None else f"{figure(value)}x"


def _statements_note(per_scan: dict) -> str:
    def counts(found: dict) -> str:
        checkin = f"checkin {len(found['checkin'])} + checkout {len(found['checkout'])}"
        return f"{checkin}, scan in {len(found['scan_in'])} + scan out {len(found['scan_out'])}"

    note = f"statements per scan, BEGIN and COMMIT included: API {counts(per_scan['api'])}"
    if "bare" in per_scan:
        note += f"; bare {counts(per_scan['bare'])}"
    return note + " (listed in the JSON under queries_per_scan)"


def _scans(server: str, endpoint: str, tickets: list[Ticket]) -> list[list[Request]]:
    return [ENDPOINTS[endpoint](PREFIXES[server], ticket) for ticket in tickets]


def queries_per_scan(user, *, postgresql: bool) -> dict:
    """The statements of one scan each way, captured in-process: the API through the test
    client, the bare views called directly (PostgreSQL only)."""
    event = data.make_event("queries per scan", len(RUNS))
    tickets = [Ticket(pk, code, event.pk) for pk, code in data.tickets(event)]
    token = data.token_for(user)
    client = api_client(user)
    factory = RequestFactory(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Token {token}")
    found = {}
    for (server, endpoint), ticket in zip(RUNS, tickets, strict=True):
        if server == "bare" and not postgresql:
            continue
        (requests,) = _scans(server, endpoint, [ticket])
        for step, request in zip(STEPS[endpoint], requests, strict=True):
            with captured_queries() as queries:
                if server == "api":
                    response = client.post(request.path, request.body, content_type="application/json")
                else:
                    response = _call_bare(factory.post(request.path, request.body, content_type="application/json"))
            if response.status_code != 201:
                raise RuntimeError(f"{request.path} ({step}) answered {response.status_code}, not 201")
            found.setdefault(server, {})[step] = statements(queries, token=token)
    return found


def _call_bare(request):
    match = resolve(request.path, urlconf="benchmarks.bare")
    return match.func(request, *match.args, **match.kwargs)


def in_process(user, *, rounds: int, scans_per_round: int) -> dict[str, float]:
    """Median seconds per request through the test client, without gunicorn or sockets:
    the API, the bare SQL behind the REST framework (`/drf/`) and the bare view by id,
    and the API and the bare view by ticket code."""
    variants = {
        "api": ("api", "checkin"),
        "drf": ("drf", "checkin"),
        "bare": ("bare", "checkin"),
        "api_scan": ("api", "scan"),
        "bare_scan": ("bare", "scan"),
    }
    event = data.make_event("in-process scans", len(variants) * scans_per_round * (rounds + 1))
    tickets = (Ticket(pk, code, event.pk) for pk, code in data.tickets(event))
    client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Token {data.token_for(user)}")
    seconds: dict[str, list[float]] = {name: [] for name in variants}
    for turn in range(rounds + 1):
        for name, (server, endpoint) in rotated(variants, turn):
            urlconf = settings.ROOT_URLCONF if server == "api" else "benchmarks.bare"
            with override_settings(ROOT_URLCONF=urlconf):
                for requests in _scans(server, endpoint, _take(tickets, scans_per_round)):
                    for request in requests:
                        with Clock() as clock:
                            expect(client.post(request.path, request.body, content_type="application/json"), 201)
                        # The first round warms up.
                        if turn:
                            seconds[name].append(clock.seconds)
    return {name: median(values) for name, values in seconds.items()}


def profile_paths(path: Path) -> list[Path]:
    """Where `--profile PATH` writes: PATH for check-ins and check-outs by id, and a
    sibling for scans by ticket code."""
    return [path, path.with_name(f"{path.stem}-by-code{path.suffix}")]


def profile_scans(user, path: Path, scans: int = 300) -> None:
    """Profile in-process API scans, by id and by code, with pyinstrument, which
    requirements*.txt do not hold."""
    try:
        from pyinstrument import Profiler
    except ImportError:
        raise SystemExit("--profile needs pyinstrument: pip install pyinstrument") from None
    client = api_client(user)
    for endpoint, target in zip(ENDPOINTS, profile_paths(path), strict=True):
        event = data.make_event(f"profile {endpoint}", scans)
        scanned = _scans("api", endpoint, [Ticket(pk, code, event.pk) for pk, code in data.tickets(event)])
        for requests in scanned[:10]:
            for request in requests:
                client.post(request.path, request.body, content_type="application/json")
        profiler = Profiler(interval=0.0005)
        with profiler:
            for requests in scanned[10:]:
                for request in requests:
                    expect(client.post(request.path, request.body, content_type="application/json"), 201)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(profiler.output_html() if target.suffix == ".html" else profiler.output_text(show_all=False))


def _take(tickets: Iterator[Ticket], count: int) -> list[Ticket]:
    taken = [ticket for _, ticket in zip(range(count), tickets, strict=False)]
    if len(taken) < count:
        raise RuntimeError("ran out of attendees for the scans")
    return taken


@contextlib.contextmanager
def serve(app: str, settings_module: str, database_url: str) -> Iterator[int]:
    """Run `gunicorn app` on a free port of 127.0.0.1 until the block ends."""
    with gunicorn(app, settings_module, database_url) as (port, _):
        yield port


@contextlib.contextmanager
def gunicorn(
    app: str,
    settings_module: str,
    database_url: str,
    *,
    workers: int = WORKERS,
    timeout: int | None = None,
    access_log: Path | None = None,
) -> Iterator[tuple[int, int]]:
    """Run `gunicorn app` with `workers` sync workers on a free port of 127.0.0.1 until
    the block ends: its port and its master's pid. Only that server is stopped, by its pid.
    With `access_log`, each request's path and time in the server (microseconds) are
    logged there."""
    port = _free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": settings_module,
        "DATABASE_URL": database_url,
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": os.environ.get("DJANGO_SECRET_KEY") or secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
    }
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        app,
        f"--workers={workers}",
        f"--bind=127.0.0.1:{port}",
        "--log-level=warning",
        "--graceful-timeout=5",
        *([f"--timeout={timeout}"] if timeout else []),
        *([f"--access-logfile={access_log}", "--access-logformat=%(U)s %(D)s"] if access_log else []),
    ]
    with tempfile.TemporaryFile("w+") as log:
        server = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_until_up(server, port, log)
            yield port, server.pid
        finally:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_until_up(server: subprocess.Popen, port: int, log) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"gunicorn exited with {server.returncode}:\n{log.read()}")
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            connection.request("GET", "/")
            connection.getresponse().read()
            return
        except OSError:
            time.sleep(0.2)
        finally:
            connection.close()
    raise RuntimeError(f"gunicorn did not answer on port {port} within {STARTUP_SECONDS} s")


def paired_run(
    port: int, access_log: Path, token: str, tickets: list[Ticket], clients: int, max_requests: int, seconds: float
) -> dict:
    """The API's checkin and scan in one closed loop: a check-in and check-out by id, then
    a scan in and out by code, in turn. The mean time of each in the server, from the
    lines its access log gained, and the mean latency of each at the client."""
    logged = access_log.stat().st_size
    run = closed_loop(port, token, side_by_side(tickets), clients, max_requests, seconds)
    latencies = {endpoint: mean(values) for endpoint, values in run["latencies_by_endpoint"].items()}
    served = {endpoint: mean(values) for endpoint, values in _served(access_log, logged, run["requests"]).items()}
    return {
        "concurrency": clients,
        "requests": run["requests"],
        "errors": run["errors"],
        "server_seconds": served,
        "mean_seconds": latencies,
        "scan_over_checkin": ratio(served["checkin"], served["scan"]),
        "latency_scan_over_checkin": ratio(latencies["checkin"], latencies["scan"]),
    }


def side_by_side(tickets: list[Ticket]) -> list[list[Request]]:
    """Scans through the API by id and by code in turn, each of its own attendee."""
    scans = []
    for by_id_ticket, by_code_ticket in zip(tickets[::2], tickets[1::2], strict=False):
        scans += [by_id(PREFIXES["api"], by_id_ticket), by_code(PREFIXES["api"], by_code_ticket)]
    return scans


def _served(access_log: Path, offset: int, requests: int) -> dict[str, list[float]]:
    """Seconds each request took the server, by endpoint, from the access log's lines
    after `offset` ("<path> <microseconds>"); a worker writes its line just after its
    answer, so wait a moment for the last ones."""
    deadline = time.perf_counter() + 5
    while True:
        with access_log.open() as log:
            log.seek(offset)
            lines = log.read().splitlines()
        if len(lines) >= requests or time.perf_counter() >= deadline:
            break
        time.sleep(0.05)
    served: dict[str, list[float]] = {}
    for line in lines:
        path, microseconds = line.split()
        endpoint = "scan" if path.endswith("/scans/") else "checkin"
        served.setdefault(endpoint, []).append(int(microseconds) / 1e6)
    return served


def closed_loop(
    port: int, token: str, scans: list[list[Request]], clients: int, max_requests: int, seconds: float
) -> dict:
    """`clients` threads, each sending the requests of the next scan of `scans` (a check-in,
    then a check-out) as soon as its previous request is answered, until `max_requests`
    are sent, `seconds` have passed or `scans` run out."""
    lock = threading.Lock()
    queue = iter(scans)
    latencies: list[float] = []
    by_endpoint: dict[str, list[float]] = {}
    statuses: Counter[int] = Counter()
    sent = 0
    deadline = time.perf_counter() + seconds

    def client() -> None:
        nonlocal sent
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
        try:
            while True:
                with lock:
                    requests = next(queue, None)
                    if requests is None or sent + len(requests) > max_requests or time.perf_counter() >= deadline:
                        return
                    sent += len(requests)
                for request in requests:
                    headers = {
                        "Authorization": f"Token {token}",
                        "Content-Type": "application/json",
                        "Content-Length": str(len(request.body)),
                    }
                    start = time.perf_counter()
                    try:
                        connection.request("POST", request.path, body=request.body, headers=headers)
                        response = connection.getresponse()
                        response.read()
                        status = response.status
                    except (OSError, http.client.HTTPException):
                        connection.close()
                        status = 0
                    elapsed = time.perf_counter() - start
                    with lock:
                        latencies.append(elapsed)
                        by_endpoint.setdefault(request.endpoint, []).append(elapsed)
                        statuses[status] += 1
        finally:
            connection.close()

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 2 * REQUEST_TIMEOUT + 5)
    elapsed = time.perf_counter() - started
    return {**_summary(latencies, elapsed, statuses), "latencies_by_endpoint": by_endpoint}


def combined(runs: list[dict]) -> dict:
    """One result for runs of `closed_loop` taken as one: their requests over their time."""
    statuses: Counter[int] = Counter()
    for run in runs:
        statuses.update({int(status): count for status, count in run["statuses"].items()})
    return _summary(
        [latency for run in runs for latency in run["latencies"]], sum(run["seconds"] for run in runs), statuses
    )


def _summary(latencies: list[float], elapsed: float, statuses: Counter[int]) -> dict:
    latencies = sorted(latencies)
    return {
        "requests": len(latencies),
        "seconds": elapsed,
        "requests_per_second": len(latencies) / elapsed if elapsed else float("nan"),
        "p50_seconds": percentile(latencies, 0.50),
        "p95_seconds": percentile(latencies, 0.95),
        "p99_seconds": percentile(latencies, 0.99),
        "errors": sum(count for status, count in statuses.items() if status != 201),
        "statuses": {str(status): count for status, count in sorted(statuses.items())},
        "latencies": latencies,
    }
