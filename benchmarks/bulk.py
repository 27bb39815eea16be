"""1. Bulk check-out of N attendees who are inside, through `services.bulk_check_out`
(what the admin action and `checkout_all` use), beside the hand-written SQL floor and a
naive loop of single check-outs."""

from django.db import connection, transaction
from django.utils import timezone

from attendees import services
from attendees.models import Attendee

from . import data
from .report import Section, Target, figure, ms
from .timing import Clock, QueryCounter, captured_queries, median, ratio, statements

MAX_QUERIES = 8
MAX_FLOOR_RATIO = 1.5
MIN_NAIVE_SPEEDUP = 50
SPEEDUP_AT = 10_000


def floor_check_out(*, event_id: int, by_id: int | None) -> int:
    """The same writes as the service, by hand, in one transaction: one UPDATE of the
    stays, one INSERT ... SELECT of their check-out records and the event's number
    inside. The benchmark's attendees are never in an area, so areas are left out."""
    greatest = "GREATEST" if connection.vendor == "postgresql" else "MAX"
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    in_event = "AND area_id IS NULL AND attendee_id IN (SELECT id FROM attendees_attendee WHERE event_id = %s)"
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE attendees_visit SET checked_out_at = {greatest}(%s, checked_in_at), checked_out_by_id = %s "
            f"WHERE checked_out_at IS NULL AND voided_at IS NULL {in_event}",
            [now, by_id, event_id],
        )
        closed = cursor.rowcount
        cursor.execute(
            "INSERT INTO attendees_record (attendee_id, visit_id, area_id, type, at, recorded_at, recorded_by_id, "
            "station, source, capacity_override, reason, void_reason) "
            "SELECT attendee_id, id, NULL, 'check_out', checked_out_at, %s, checked_out_by_id, '', 'api', %s, '', '' "
            f"FROM attendees_visit WHERE checked_out_at >= %s AND voided_at IS NULL {in_event}",
            [now, False, now, event_id],
        )
        cursor.execute("UPDATE attendees_event SET inside = inside - %s WHERE id = %s", [closed, event_id])
        return closed


def naive_check_out(*, event_id: int, by, limit: int) -> int:
    """One `services.check_out` per attendee, as a loop over the selection would do."""
    attendees = Attendee.objects.filter(event_id=event_id).order_by("pk")[:limit]
    for attendee in attendees:
        services.check_out(attendee=attendee, by=by)
    return len(attendees)


def service_check_out(*, event_id: int, by) -> int:
    result = services.bulk_check_out(attendees=Attendee.objects.filter(event_id=event_id), by=by)
    return result.done


def run(*, sizes: list[int], repeat: int, naive_limit: int, user) -> Section:
    section = Section(
        key="bulk",
        title="1. Bulk check-out of N attendees inside",
        columns=[
            "N",
            "service ms",
            "queries",
            "floor ms",
            "floor q",
            "naive ms",
            "naive q",
            "service/floor",
            "naive/service",
        ],
    )
    _warm_up(user)
    results = []
    for size in sizes:
        service_times, floor_times = [], []
        service_sql: list[str] = []
        floor_sql: list[str] = []
        # Small sizes take milliseconds, where a busy machine's noise weighs most: run them more.
        runs = repeat * max(1, min(5, 5 * SPEEDUP_AT // size))
        for rep in range(runs):
            # Alternate which goes first, so that neither always meets a colder cache.
            for variant in ("service", "floor") if rep % 2 == 0 else ("floor", "service"):
                event = data.inside_event(f"bulk {variant} {size} #{rep}", size, by=user)
                with captured_queries() as queries, Clock() as clock:
                    if variant == "service":
                        done = service_check_out(event_id=event.pk, by=user)
                    else:
                        done = floor_check_out(event_id=event.pk, by_id=user.pk)
                _expect(done, size, variant)
                if variant == "service":
                    service_times.append(clock.seconds)
                    service_sql = statements(queries)
                else:
                    floor_times.append(clock.seconds)
                    floor_sql = statements(queries)
        sample = min(size, naive_limit)
        event = data.inside_event(f"bulk naive {size}", size, by=user)
        with QueryCounter().counting() as counter, Clock() as clock:
            done = naive_check_out(event_id=event.pk, by=user, limit=sample)
        _expect(done, sample, "naive")
        scale = size / sample
        result = {
            "n": size,
            "repetitions": runs,
            "service_seconds": service_times,
            "service_median_seconds": median(service_times),
            "service_queries": len(service_sql),
            "service_sql": service_sql,
            "floor_seconds": floor_times,
            "floor_median_seconds": median(floor_times),
            "floor_queries": len(floor_sql),
            "floor_sql": floor_sql,
            "naive_sample": sample,
            "naive_sample_seconds": clock.seconds,
            "naive_seconds": clock.seconds * scale,
            "naive_queries": round(counter.count * scale),
            "naive_extrapolated": sample < size,
        }
        result["service_over_floor"] = ratio(result["service_median_seconds"], result["floor_median_seconds"])
        result["naive_over_service"] = ratio(result["naive_seconds"], result["service_median_seconds"])
        results.append(result)
        naive_mark = "*" if result["naive_extrapolated"] else ""
        section.rows.append(
            [
                f"{size:,}",
                ms(result["service_median_seconds"]),
                result["service_queries"],
                ms(result["floor_median_seconds"]),
                result["floor_queries"],
                f"{figure(ms(result['naive_seconds']))}{naive_mark}",
                f"{result['naive_queries']:,}{naive_mark}",
                f"{figure(result['service_over_floor'])}x",
                f"{figure(result['naive_over_service'])}x",
            ]
        )
    section.data = {"results": results}
    section.notes.append(
        f"service and floor: median of {repeat} runs ({repeat * 5} up to N = {SPEEDUP_AT:,}), fresh attendees each "
        "run; queries counted with "
        "CaptureQueriesContext, BEGIN and COMMIT included"
    )
    section.notes.append(
        "floor: a hand-written UPDATE ... WHERE checked_out_at IS NULL AND attendee_id IN "
        "(SELECT id FROM attendees_attendee WHERE event_id = %s), an INSERT ... SELECT of the check-out records and "
        "an UPDATE of the event's number inside, in one transaction"
    )
    section.notes.append("naive: a loop of services.check_out, one run, statements counted by an execute wrapper")
    for result in results:
        if result["naive_extrapolated"]:
            scale = result["n"] / result["naive_sample"]
            section.notes.append(
                f"naive figures marked * (N = {result['n']:,}): a loop over a sample of {result['naive_sample']:,} "
                f"attendees took {figure(result['naive_sample_seconds'])} s, extrapolated linearly x{scale:g}"
            )
    section.targets = _targets(results)
    return section


def _targets(results: list[dict]) -> list[Target]:
    counts = sorted({result["service_queries"] for result in results})
    sizes = ", ".join(f"{result['n']:,}" for result in results)
    targets = [
        Target(
            f"query count independent of N and at most {MAX_QUERIES}",
            len(counts) == 1 and counts[0] <= MAX_QUERIES,
            f"{'/'.join(map(str, counts))} queries at N = {sizes}",
        ),
        Target(
            f"time at most {MAX_FLOOR_RATIO}x the floor",
            all(result["service_over_floor"] <= MAX_FLOOR_RATIO for result in results),
            ", ".join(f"{figure(result['service_over_floor'])}x at {result['n']:,}" for result in results),
        ),
    ]
    at = [result for result in results if result["n"] == SPEEDUP_AT]
    targets.append(
        Target(
            f"at least {MIN_NAIVE_SPEEDUP}x faster than the naive loop at N = {SPEEDUP_AT:,}",
            at[0]["naive_over_service"] >= MIN_NAIVE_SPEEDUP if at else None,
            f"{figure(at[0]['naive_over_service'])}x ({figure(ms(at[0]['naive_seconds']))} ms against "
            f"{figure(ms(at[0]['service_median_seconds']))} ms)"
            if at
            else f"N = {SPEEDUP_AT:,} not in this run",
        )
    )
    return targets


def _warm_up(user) -> None:
    """Run every variant once on a few attendees, untimed, so that the first timed run
    pays no one-off costs (imports, compiled queries, connection set-up)."""
    for variant in ("service", "floor", "naive"):
        event = data.inside_event(f"bulk warm-up {variant}", 5, by=user)
        if variant == "service":
            service_check_out(event_id=event.pk, by=user)
        elif variant == "floor":
            floor_check_out(event_id=event.pk, by_id=user.pk)
        else:
            naive_check_out(event_id=event.pk, by=user, limit=5)


def _expect(done: int, expected: int, variant: str) -> None:
    if done != expected:
        raise RuntimeError(f"{variant} checked out {done} attendees, not {expected}")
