"""3. Door scans per second over HTTP: gunicorn serving the API and, beside it, the bare
views (`benchmarks.bare`), both on the scratch PostgreSQL database, driven by a
closed-loop client on 127.0.0.1. Each scan is a check-in then a check-out of an
attendee no other scan touches."""

import contextlib
import http.client
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

from . import bare, data
from .client import api_client, expect
from .report import Section, Target, figure, ms
from .timing import Clock, captured_queries, median, percentile, ratio, rotated, statements

PROJECT_ROOT = Path(__file__).resolve().parent.parent
WORKERS = 4
MIN_RATIO = 0.6
STARTUP_SECONDS = 60
REQUEST_TIMEOUT = 30
WARM_UP_REQUESTS = 64
SERVERS = {
    "api": ("eventsite.wsgi", "eventsite.settings", "/api/attendees/{pk}/{action}/"),
    "bare": ("benchmarks.bare_wsgi", "benchmarks.bare_settings", "/bare/attendees/{pk}/{action}/"),
}


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
        title="3. Door scans over HTTP (gunicorn, 4 sync workers): check-in then check-out",
        columns=["concurrency", "server", "requests", "req/s", "p50 ms", "p95 ms", "p99 ms", "errors", "API/bare"],
    )
    token = data.token_for(user)
    section.data["queries_per_scan"] = per_scan = queries_per_scan(user, postgresql=postgresql)
    if profile is not None:
        section.data["profile"] = str(profile)
        section.notes.append(f"profile of in-process API scans written to {profile}")
        profile_scans(user, profile)
    if not postgresql:
        section.notes.append("skipped: the HTTP measure runs on PostgreSQL only")
        section.targets.append(Target(f"API at least {MIN_RATIO}x the bare view's throughput", None, "skipped"))
        return section
    section.data["in_process_seconds"] = local = in_process(
        user, rounds=in_process_rounds, scans_per_round=in_process_scans
    )
    # Attendees for the warm-up and for every run, none shared between runs.
    scans_per_run = max_requests // 2
    runs = len(concurrency) * len(SERVERS)
    event = data.make_event("scans", WARM_UP_REQUESTS * len(SERVERS) + scans_per_run * runs)
    ids = iter(data.attendee_ids(event))
    results = []
    with contextlib.ExitStack() as stack:
        ports = {
            name: stack.enter_context(serve(app, settings_module, database_url))
            for name, (app, settings_module, _) in SERVERS.items()
        }
        for name, port in ports.items():
            # Untimed, so that every worker has imported and connected before the runs.
            closed_loop(port, token, SERVERS[name][2], _take(ids, WARM_UP_REQUESTS // 2), 8, WARM_UP_REQUESTS, 30)
        for index, clients in enumerate(concurrency):
            # Alternate which server goes first at each level.
            order = list(SERVERS) if index % 2 == 0 else list(reversed(SERVERS))
            level = {}
            for name in order:
                level[name] = closed_loop(
                    ports[name], token, SERVERS[name][2], _take(ids, scans_per_run), clients, max_requests, seconds
                )
                level[name].update(server=name, concurrency=clients)
            level["api"]["api_over_bare"] = ratio(
                level["api"]["requests_per_second"], level["bare"]["requests_per_second"]
            )
            for name in SERVERS:
                result = level[name]
                results.append(result)
                section.rows.append(
                    [
                        clients,
                        name,
                        result["requests"],
                        result["requests_per_second"],
                        ms(result["p50_seconds"]),
                        ms(result["p95_seconds"]),
                        ms(result["p99_seconds"]),
                        result["errors"],
                        f"{figure(result['api_over_bare'])}x" if name == "api" else "",
                    ]
                )
    section.data["runs"] = results
    section.notes.append(
        f"closed loop: each client thread sends its next request when the last is answered; at most "
        f"{max_requests:,} requests or {seconds:g} s per run; gunicorn's sync workers close the connection "
        "after each response, so every request opens a new one"
    )
    section.notes.append(
        "bare: plain Django views, hand-written SQL, same token, permission rule and response body "
        f"({len(per_scan['bare']['checkin'])}+{len(per_scan['bare']['checkout'])} statements per scan)"
    )
    section.notes.append(
        f"API statements per scan, BEGIN and COMMIT included: {len(per_scan['api']['checkin'])} for the check-in, "
        f"{len(per_scan['api']['checkout'])} for the check-out (listed in the JSON under queries_per_scan)"
    )
    section.notes.append(
        f"in-process, through the test client (no gunicorn, no sockets), median per request: API "
        f"{figure(ms(local['api']))} ms, the bare SQL behind the REST framework {figure(ms(local['drf']))} ms, "
        f"bare view {figure(ms(local['bare']))} ms: bare/API {figure(ratio(local['bare'], local['api']))}x, "
        f"bare/framework {figure(ratio(local['bare'], local['drf']))}x"
    )
    section.notes.append("client, servers and PostgreSQL share the machine's cores")
    worst = min((result for result in results if result["server"] == "api"), key=lambda r: r["api_over_bare"])
    section.targets.append(
        Target(
            f"API at least {MIN_RATIO}x the bare view's throughput",
            all(result["api_over_bare"] >= MIN_RATIO for result in results if result["server"] == "api"),
            ", ".join(
                f"{figure(result['api_over_bare'])}x at {result['concurrency']}"
                for result in results
                if result["server"] == "api"
            )
            + f" (lowest at concurrency {worst['concurrency']})",
        )
    )
    return section


def queries_per_scan(user, *, postgresql: bool) -> dict:
    """The statements of one scan, captured in-process: the API through the test client,
    the bare views called directly (PostgreSQL only)."""
    event = data.make_event("queries per scan", 2)
    api_pk, bare_pk = data.attendee_ids(event)
    client = api_client(user)
    found = {"api": {}}
    for action in ("checkin", "checkout"):
        with captured_queries() as queries:
            expect(client.post(f"/api/attendees/{api_pk}/{action}/"), 201)
        found["api"][action] = statements(queries, token=data.token_for(user))
    if postgresql:
        found["bare"] = {}
        factory = RequestFactory(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Token {data.token_for(user)}")
        for action in ("checkin", "checkout"):
            with captured_queries() as queries:
                response = bare.scan(
                    factory.post(f"/bare/attendees/{bare_pk}/{action}/"), pk=str(bare_pk), action=action
                )
            if response.status_code != 201:
                raise RuntimeError(f"the bare {action} answered {response.status_code}")
            found["bare"][action] = statements(queries, token=data.token_for(user))
    return found


def in_process(user, *, rounds: int, scans_per_round: int) -> dict[str, float]:
    """Median seconds per request through the test client, without gunicorn or sockets:
    the API, the bare SQL behind the REST framework (`/drf/`), and the bare view."""
    prefixes = {"api": "/api", "drf": "/drf", "bare": "/bare"}
    event = data.make_event("in-process scans", len(prefixes) * scans_per_round * (rounds + 1))
    ids = iter(data.attendee_ids(event))
    client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Token {data.token_for(user)}")
    seconds: dict[str, list[float]] = {name: [] for name in prefixes}
    for turn in range(rounds + 1):
        for name, prefix in rotated(prefixes, turn):
            urlconf = settings.ROOT_URLCONF if name == "api" else "benchmarks.bare"
            with override_settings(ROOT_URLCONF=urlconf):
                for pk in _take(ids, scans_per_round):
                    for action in ("checkin", "checkout"):
                        with Clock() as clock:
                            expect(client.post(f"{prefix}/attendees/{pk}/{action}/"), 201)
                        # The first round warms up.
                        if turn:
                            seconds[name].append(clock.seconds)
    return {name: median(values) for name, values in seconds.items()}


def profile_scans(user, path: Path, scans: int = 300) -> None:
    """Profile in-process API scans with pyinstrument, which requirements*.txt do not hold."""
    try:
        from pyinstrument import Profiler
    except ImportError:
        raise SystemExit("--profile needs pyinstrument: pip install pyinstrument") from None
    event = data.make_event("profile", scans)
    client = api_client(user)
    ids = data.attendee_ids(event)
    for pk in ids[:10]:
        client.post(f"/api/attendees/{pk}/checkin/")
    profiler = Profiler(interval=0.0005)
    with profiler:
        for pk in ids[10:]:
            expect(client.post(f"/api/attendees/{pk}/checkin/"), 201)
            expect(client.post(f"/api/attendees/{pk}/checkout/"), 201)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(profiler.output_html() if path.suffix == ".html" else profiler.output_text(show_all=False))


def _take(ids: Iterator[int], count: int) -> list[int]:
    taken = [pk for _, pk in zip(range(count), ids, strict=False)]
    if len(taken) < count:
        raise RuntimeError("ran out of attendees for the scans")
    return taken


@contextlib.contextmanager
def serve(app: str, settings_module: str, database_url: str) -> Iterator[int]:
    """Run `gunicorn app` on a free port of 127.0.0.1 until the block ends."""
    port = _free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": settings_module,
        "DATABASE_URL": database_url,
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
    }
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        app,
        f"--workers={WORKERS}",
        f"--bind=127.0.0.1:{port}",
        "--log-level=warning",
        "--graceful-timeout=5",
    ]
    with tempfile.TemporaryFile("w+") as log:
        server = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_until_up(server, port, log)
            yield port
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


def closed_loop(
    port: int, token: str, path: str, ids: list[int], clients: int, max_requests: int, seconds: float
) -> dict:
    """`clients` threads, each scanning the next attendee of `ids` (a check-in, then a
    check-out) as soon as its previous request is answered, until `max_requests` are
    sent, `seconds` have passed or `ids` run out."""
    lock = threading.Lock()
    queue = iter(ids)
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    sent = 0
    headers = {"Authorization": f"Token {token}", "Content-Length": "0"}
    deadline = time.perf_counter() + seconds

    def client() -> None:
        nonlocal sent
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
        try:
            while True:
                with lock:
                    pk = next(queue, None)
                    if pk is None or sent + 2 > max_requests or time.perf_counter() >= deadline:
                        return
                    sent += 2
                for action in ("checkin", "checkout"):
                    start = time.perf_counter()
                    try:
                        connection.request("POST", path.format(pk=pk, action=action), headers=headers)
                        response = connection.getresponse()
                        response.read()
                        status = response.status
                    except (OSError, http.client.HTTPException):
                        connection.close()
                        status = 0
                    elapsed = time.perf_counter() - start
                    with lock:
                        latencies.append(elapsed)
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
    latencies.sort()
    return {
        "requests": len(latencies),
        "seconds": elapsed,
        "requests_per_second": len(latencies) / elapsed if elapsed else float("nan"),
        "p50_seconds": percentile(latencies, 0.50),
        "p95_seconds": percentile(latencies, 0.95),
        "p99_seconds": percentile(latencies, 0.99),
        "errors": sum(count for status, count in statuses.items() if status != 201),
        "statuses": {str(status): count for status, count in sorted(statuses.items())},
    }
