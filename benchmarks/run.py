"""`python -m benchmarks`: set up a scratch database, run the measures, print the
table and write the JSON."""

import argparse
import datetime
import json
import os
import platform
import secrets
import subprocess
import sys
import warnings
from pathlib import Path

from .database import is_postgresql, scratch_database

PROJECT_ROOT = Path(__file__).resolve().parent.parent
MEASURES = ("bulk", "history", "scans", "list", "memory", "places", "offline")
FULL = {
    "bulk_sizes": [1_000, 10_000, 100_000],
    "history_sizes": [1, 100, 10_000],
    "list_sizes": [1_000, 100_000],
    "memory_size": 100_000,
    "concurrency": [1, 8, 32],
    "repeat": 5,
    "history_repeat": 50,
    "naive_limit": 10_000,
    "scan_seconds": 10.0,
    "scan_requests": 4_000,
    "places_sizes": [1_000, 100_000],
    "places_repeat": 15,
    "places_scans": 40,
    "roster_sizes": [1_000, 100_000],
    "batch_scans": 500,
    "offline_repeat": 3,
}
SMOKE = {
    "bulk_sizes": [200],
    "history_sizes": [1, 100],
    "list_sizes": [200],
    "memory_size": 200,
    "concurrency": [1, 8, 32],
    "repeat": 1,
    "history_repeat": 3,
    "naive_limit": 200,
    "scan_seconds": 1.0,
    "scan_requests": 64,
    "places_sizes": [200],
    "places_repeat": 1,
    "places_scans": 3,
    "roster_sizes": [200],
    "batch_scans": 20,
    "offline_repeat": 1,
}


def sizes(text: str) -> list[int]:
    try:
        values = [int(item.replace("_", "")) for item in text.split(",") if item.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated whole numbers, not {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError("expected numbers of at least 1")
    return values


def count(text: str) -> int:
    (value,) = sizes(text)
    return value


def seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, not {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("expected a positive number of seconds")
    return value


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Benchmarks of attendance recording, each beside a hand-written SQL floor and a naive version. "
        "They run on a scratch database (a new PostgreSQL database on the server of --database-url, or a "
        "temporary SQLite file), dropped at the end.",
    )
    parser.add_argument(
        "--database-url",
        help="server to benchmark on, e.g. postgres://postgres@127.0.0.1:5432/postgres (default: DATABASE_URL, "
        "else SQLite); a database bench_<pid> is created there and dropped at the end",
    )
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: checks that every measure still runs")
    parser.add_argument(
        "--only", type=lambda text: text.split(","), metavar="NAMES", help=f"some of {','.join(MEASURES)}"
    )
    parser.add_argument("--json", type=Path, help="where to write the JSON results (default: benchmarks/results/)")
    parser.add_argument("--bulk-sizes", type=sizes, help="attendees inside per bulk check-out (1000,10000,100000)")
    parser.add_argument("--history-sizes", type=sizes, help="earlier visits of the attendee (1,100,10000)")
    parser.add_argument("--list-sizes", type=sizes, help="attendees of the listed events (1000,100000)")
    parser.add_argument("--memory-size", type=count, help="attendees inside for the memory measure (100000)")
    parser.add_argument("--concurrency", type=sizes, help="client threads of the HTTP measure (1,8,32)")
    parser.add_argument(
        "--repeat", type=count, help="runs of each bulk check-out (5); the list requests run 5 times as many"
    )
    parser.add_argument("--history-repeat", type=count, help="check-outs and GETs per history length (50)")
    parser.add_argument(
        "--naive-limit", type=count, help="largest naive loop; beyond it a sample is timed and extrapolated (10000)"
    )
    parser.add_argument("--scan-seconds", type=seconds, help="time limit of each HTTP run (10)")
    parser.add_argument("--scan-requests", type=count, help="most requests of each HTTP run (4000)")
    parser.add_argument("--places-sizes", type=sizes, help="attendees of the events with history (1000,100000)")
    parser.add_argument(
        "--places-repeat", type=count, help="GETs of the figures and the event page (15); of the counts 4 times as many"
    )
    parser.add_argument("--places-scans", type=count, help="attendees scanned in and out per kind of scan (40)")
    parser.add_argument("--roster-sizes", type=sizes, help="attendees of the events whose roster is read (1000,100000)")
    parser.add_argument("--batch-scans", type=count, help="offline scans uploaded in one batch (500)")
    parser.add_argument("--offline-repeat", type=count, help="runs of each roster request and batch upload (3)")
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="PATH",
        help="also profile in-process API scans with pyinstrument (installed separately): by id into PATH, by "
        "ticket code into PATH's name with -by-code (.html or .txt)",
    )
    args = parser.parse_args(argv)
    for name, default in (SMOKE if args.smoke else FULL).items():
        if getattr(args, name) is None:
            setattr(args, name, default)
    unknown = set(args.only or ()) - set(MEASURES)
    if unknown:
        parser.error(f"unknown measures: {', '.join(sorted(unknown))}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    server_url = args.database_url or os.environ.get("DATABASE_URL") or "sqlite://"
    started = datetime.datetime.now(datetime.UTC)
    with scratch_database(server_url) as database_url:
        os.environ.update(
            DJANGO_SETTINGS_MODULE="eventsite.settings",
            DATABASE_URL=database_url,
            DJANGO_DEBUG="0",
            DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
            DJANGO_ALLOWED_HOSTS="127.0.0.1",
            # Plain HTTP on 127.0.0.1, as behind the TLS-terminating proxy of a deployment.
            DJANGO_BEHIND_TLS_PROXY="1",
        )
        import django

        # WhiteNoise looks for collected static files, which requests to the API never need.
        warnings.filterwarnings("ignore", message="No directory at")
        django.setup()
        from django.db import connections

        try:
            report = _run(args, database_url, started)
        finally:
            connections.close_all()
    name = f"{report['database']['vendor']}{'-smoke' if args.smoke else ''}.json"
    path = args.json or PROJECT_ROOT / "benchmarks" / "results" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, default=str) + "\n")
    try:
        shown = path.resolve().relative_to(Path.cwd())
    except ValueError:
        shown = path
    print(f"\nJSON written to {shown}")
    return 0


def _run(args: argparse.Namespace, database_url: str, started: datetime.datetime) -> dict:
    from django.core.management import call_command

    from . import bulk, data, history, listing, memory, offline, places, scans

    call_command("migrate", interactive=False, verbosity=0)
    report = {
        "started_at": started.isoformat(),
        "command": " ".join(["python -m benchmarks", *sys.argv[1:]]),
        "code": _code(),
        "machine": _machine(),
        "database": _database(),
        "options": {key: str(value) if isinstance(value, Path) else value for key, value in vars(args).items()},
        "measures": {},
    }
    _print_header(report)
    door_staff = data.make_door_staff()
    superuser = data.make_superuser()
    wanted = args.only or MEASURES
    sections = []
    for name in MEASURES:
        if name not in wanted:
            continue
        if name == "bulk":
            section = bulk.run(sizes=args.bulk_sizes, repeat=args.repeat, naive_limit=args.naive_limit, user=door_staff)
        elif name == "history":
            section = history.run(
                sizes=args.history_sizes, repeat=args.history_repeat, user=door_staff, reader=superuser
            )
        elif name == "scans":
            section = scans.run(
                database_url=database_url,
                postgresql=is_postgresql(database_url),
                concurrency=args.concurrency,
                seconds=args.scan_seconds,
                max_requests=args.scan_requests,
                user=door_staff,
                profile=args.profile,
                in_process_rounds=1 if args.smoke else 5,
                in_process_scans=5 if args.smoke else 40,
            )
        elif name == "places":
            section = places.run(
                sizes=args.places_sizes,
                repeat=args.places_repeat,
                scans=args.places_scans,
                door_staff=door_staff,
                superuser=superuser,
            )
        elif name == "list":
            section = listing.run(sizes=args.list_sizes, repeat=args.repeat * 5, reader=superuser)
        elif name == "offline":
            section = offline.run(
                database_url=database_url,
                postgresql=is_postgresql(database_url),
                roster_sizes=args.roster_sizes,
                batch_scans=args.batch_scans,
                repeat=args.offline_repeat,
                user=door_staff,
            )
        else:
            section = memory.run(size=args.memory_size, user=door_staff)
        # A measure gives one section, or several (offline: the roster, then the batch).
        parts = section if isinstance(section, list) else [section]
        sections += parts
        report["measures"][name] = parts[0].as_json() if len(parts) == 1 else [part.as_json() for part in parts]
        for part in parts:
            print(f"\n{part.as_text()}", flush=True)
    report["finished_at"] = datetime.datetime.now(datetime.UTC).isoformat()
    report["load_average_at_end"] = _load_average()
    report["targets"] = [
        {"measure": section.key, "target": target.name, "met": target.met, "detail": target.detail}
        for section in sections
        for target in section.targets
    ]
    _print_summary(sections, report)
    return report


def _code() -> str:
    """The commit measured, and whether the work tree differed from it."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{commit} with uncommitted changes" if changed else commit


def _machine() -> dict:
    memory_kib = None
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_kib = int(line.split()[1])
    import django

    return {
        "cores": os.cpu_count(),
        "memory_gib": round(memory_kib / 2**20, 1) if memory_kib else None,
        "python": platform.python_version(),
        "django": django.get_version(),
        "platform": platform.platform(),
        # Other work on the machine shows here: the figures are only as quiet as the machine.
        "load_average": _load_average(),
    }


def _load_average() -> str:
    try:
        return " ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "unknown"


def _database() -> dict:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT version()" if connection.vendor == "postgresql" else "SELECT sqlite_version()")
        version = cursor.fetchone()[0]
    return {"vendor": connection.vendor, "version": version}


def _print_header(report: dict) -> None:
    machine, database = report["machine"], report["database"]
    print(f"{report['command']}  ({report['started_at'][:19]}Z)")
    print(
        f"machine: {machine['cores']} cores, {machine['memory_gib']} GiB, Python {machine['python']}, "
        f"Django {machine['django']}"
    )
    print(f"database: {database['vendor']} {database['version']}")
    print(f"code: {report['code']}")
    print(f"load average at the start: {report['machine']['load_average']}", flush=True)


def _print_summary(sections: list, report: dict) -> None:
    print(f"\nload average at the end: {report['load_average_at_end']}")
    print("\nTargets" + ("" if report["database"]["vendor"] == "postgresql" else " (they are set for PostgreSQL)"))
    print("=======")
    for section in sections:
        for target in section.targets:
            print(f"{target.verdict:>12}  [{section.key}] {target.name}: {target.detail}")
