"""Clocks, query counts and summary statistics."""

import contextlib
import gc
import math
import statistics
import time
from collections.abc import Iterator

from django.db import connection
from django.test.utils import CaptureQueriesContext


@contextlib.contextmanager
def captured_queries() -> Iterator[CaptureQueriesContext]:
    """CaptureQueriesContext on the default connection. It lists transaction control
    (BEGIN, COMMIT) beside the statements, as each is a round trip to the database too."""
    # The log is a bounded deque: start from an empty one so that the capture is exact.
    connection.queries_log.clear()
    with CaptureQueriesContext(connection) as context:
        yield context


def statements(context: CaptureQueriesContext, *, token: str | None = None) -> list[str]:
    """The captured SQL, with an API token, if given, shown as <token>."""
    sqls = [query["sql"] for query in context.captured_queries]
    return [sql.replace(token, "<token>") for sql in sqls] if token else sqls


class QueryCounter:
    """Counts statements through an execute wrapper: exact for any number of them, where
    CaptureQueriesContext keeps only the last 9,000. It does not see BEGIN/COMMIT."""

    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)

    @contextlib.contextmanager
    def counting(self) -> Iterator["QueryCounter"]:
        with connection.execute_wrapper(self):
            yield self


class Clock:
    """`with Clock() as clock: ...`, then `clock.seconds`. It starts from a collected
    heap, so that a garbage collection owed by earlier allocations (say, a naive variant
    that loaded 10,000 rows) is not charged to the block being timed."""

    seconds = 0.0

    def __enter__(self) -> "Clock":
        gc.collect()
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self._start


def median(values: list[float]) -> float:
    return statistics.median(values) if values else math.nan


def mean(values: list[float]) -> float:
    return statistics.fmean(values) if values else math.nan


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


def ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else math.nan


def rotated(mapping: dict, turn: int) -> list:
    """The mapping's items, starting at a different one each turn, so that in
    interleaved runs none always follows the heaviest."""
    items = list(mapping.items())
    start = turn % len(items)
    return items[start:] + items[:start]
