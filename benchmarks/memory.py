"""5. Peak memory of the bulk check-out, measured in a child process.

The child (`python -m benchmarks.memory MODE EVENT WARM_UP_EVENT USER`) runs the
operation once on an empty event to pay its one-off costs, notes its resident set
size, resets the peak (Linux: /proc/self/clear_refs) and runs the operation on the
real event; it prints what it saw as JSON. Without /proc it falls back to getrusage,
whose peak counts since the child started.
"""

import gc
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

from .report import Section, Target, figure

MODES = ("service", "floor", "naive")
MAX_SHARE_OF_NAIVE = 0.05
NOISE_KIB = 1024  # below this, growth is allocator noise whatever the size
STATUS = Path("/proc/self/status")


def run(*, size: int, user) -> Section:
    from . import data

    section = Section(
        key="memory",
        title=f"5. Memory of a bulk check-out of {size:,} attendees inside (child process)",
        columns=["variant", "RSS before MiB", "peak MiB", "growth MiB", "seconds"],
    )
    warm_up = data.make_event("memory warm-up", 0)
    results, events = {}, {}
    for mode in MODES:
        # The naive variant only reads: it loads the attendees the floor checked out.
        events[mode] = events["floor"] if mode == "naive" else data.inside_event(f"memory {mode}", size, by=user)
        results[mode] = _child(mode, events[mode].pk, warm_up.pk, user.pk)
        if mode != "naive" and results[mode]["done"] != size:
            raise RuntimeError(f"{mode} checked out {results[mode]['done']} attendees, not {size}")
    for mode, result in results.items():
        section.rows.append(
            [
                {
                    "service": "services.bulk_check_out",
                    "floor": "floor: hand-written SQL",
                    "naive": "naive: load the rows",
                }[mode],
                result["rss_before_kib"] / 1024,
                result["peak_kib"] / 1024,
                (result["peak_kib"] - result["rss_before_kib"]) / 1024,
                result["seconds"],
            ]
        )
    section.data = {"attendees": size, "results": results}
    section.notes.append(
        "each in its own child process after a warm-up on an empty event; peak from "
        + ("VmHWM after resetting it" if results["service"]["peak_source"] == "VmHWM" else "getrusage ru_maxrss")
    )
    section.notes.append(
        "naive: loads the attendees as model instances, the first step of a loop of single check-outs "
        "(the loop itself is measure 1)"
    )
    growth = {mode: result["peak_kib"] - result["rss_before_kib"] for mode, result in results.items()}
    section.targets.append(
        Target(
            f"the bulk check-out works in the database: its growth under {MAX_SHARE_OF_NAIVE:.0%} of loading "
            f"the rows (or under {NOISE_KIB // 1024} MiB)",
            growth["service"] <= max(MAX_SHARE_OF_NAIVE * growth["naive"], NOISE_KIB),
            f"{figure(growth['service'] / 1024)} MiB for services.bulk_check_out, "
            f"{figure(growth['floor'] / 1024)} MiB for the floor, "
            f"{figure(growth['naive'] / 1024)} MiB to load the {size:,} attendees",
        )
    )
    return section


def _child(mode: str, event_id: int, warm_up_id: int, user_id: int) -> dict:
    command = [sys.executable, "-m", "benchmarks.memory", mode, str(event_id), str(warm_up_id), str(user_id)]
    completed = subprocess.run(
        command,
        cwd=Path(__file__).resolve().parent.parent,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"the memory child for {mode} failed:\n{completed.stderr}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def _status_kib(field: str) -> int | None:
    if not STATUS.exists():
        return None
    for line in STATUS.read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return None


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _operate(mode: str, event_id: int, user) -> int:
    from attendees.models import Attendee

    from . import bulk

    if mode == "service":
        return bulk.service_check_out(event_id=event_id, by=user)
    if mode == "floor":
        return bulk.floor_check_out(event_id=event_id, by_id=user.pk)
    return len(list(Attendee.objects.filter(event_id=event_id)))


def child(argv: list[str]) -> None:
    import django

    mode, event_id, warm_up_id, user_id = argv[0], *map(int, argv[1:])
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "eventsite.settings")
    django.setup()
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.get(pk=user_id)
    _operate(mode, warm_up_id, user)
    gc.collect()
    rss_before = _status_kib("VmRSS")
    peak_source = "VmHWM" if rss_before is not None and _reset_peak() else "ru_maxrss"
    if rss_before is None:
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    done = _operate(mode, event_id, user)
    seconds = time.perf_counter() - start
    peak = _status_kib("VmHWM") if peak_source == "VmHWM" else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = {"done": done, "rss_before_kib": rss_before, "peak_kib": peak, "peak_source": peak_source}
    print(json.dumps({**result, "seconds": seconds}))


if __name__ == "__main__":
    child(sys.argv[1:])
