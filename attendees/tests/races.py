"""Racing real threads, each on its own database connection, for the PostgreSQL tests."""

import threading
import time
from collections.abc import Callable
from typing import Any

from django.db import connection

TIMEOUT_SECONDS = 20


def run_together(workers: list[Callable[[], Any]]) -> list[tuple[str, Any]]:
    """Start every worker at the same moment, each in its own thread with its own
    connection; return ("ok", result) or ("error", exception) for each, in order."""
    barrier = threading.Barrier(len(workers))
    outcomes: list[tuple[str, Any] | None] = [None] * len(workers)

    def run(index: int, worker: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout=TIMEOUT_SECONDS)
            outcomes[index] = ("ok", worker())
        except Exception as error:
            outcomes[index] = ("error", error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, worker), daemon=True) for i, worker in enumerate(workers)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + TIMEOUT_SECONDS
    for thread in threads:
        thread.join(timeout=max(0.0, deadline - time.monotonic()))
    assert not any(thread.is_alive() for thread in threads), "a thread is stuck"
    return outcomes
