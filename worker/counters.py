"""Job counters kept in Redis, so every worker process on every host adds to the same
counts (a counter in one process's memory would show that process only). A leaf module:
the enqueue helpers and the worker write here; ``worker/collector.py`` reads."""

from __future__ import annotations

import threading
import time
from bisect import bisect_left
from collections import Counter

from worker.keys import METRICS_DURATION, METRICS_ENQUEUED, METRICS_PROCESSED

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
# Outcomes of one attempt, the `status` label of bookstore_tasks_processed_total.
SUCCESS, FAILED, ABANDONED = "success", "failed", "abandoned"


def count_enqueued(pipe, task: str, queue: str, n: int = 1) -> None:
    pipe.hincrby(METRICS_ENQUEUED, f"{task}|{queue}", n)


def count_processed(pipe, task: str, status: str, seconds: float | None = None) -> None:
    """Adds one attempt's outcome and, when it ran, its duration (executed with the
    caller's pipeline)."""
    pipe.hincrby(METRICS_PROCESSED, f"{task}|{status}", 1)
    if seconds is None:
        return
    key = METRICS_DURATION.format(task)
    index = bisect_left(BUCKETS, seconds)
    pipe.hincrby(key, BUCKETS[index] if index < len(BUCKETS) else "+Inf", 1)
    pipe.hincrbyfloat(key, "sum", seconds)


class Tally:
    """A worker process's job outcomes and durations, added up in memory and sent to
    Redis in one pipeline at most once a second (``FLUSH_EVERY``), when idle, and at
    exit: three commands a job fewer on the success path, and the same counts in Redis
    within about a second. A process killed with -9 loses at most its last second.

    Thread-safe: jobs in several threads of one process may add at once."""

    FLUSH_EVERY = 1.0  # seconds

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, str]] = Counter()  # (key, field) -> increment
        self._sums: Counter[str] = Counter()  # duration key -> seconds
        self._flushed_at = time.monotonic()

    def add(self, task: str, status: str, seconds: float | None = None) -> None:
        with self._lock:
            self._counts[(METRICS_PROCESSED, f"{task}|{status}")] += 1
            if seconds is None:
                return
            key = METRICS_DURATION.format(task)
            index = bisect_left(BUCKETS, seconds)
            self._counts[(key, str(BUCKETS[index]) if index < len(BUCKETS) else "+Inf")] += 1
            self._sums[key] += seconds

    @property
    def pending(self) -> bool:
        return bool(self._counts)

    def due(self) -> bool:
        return self.pending and time.monotonic() - self._flushed_at >= self.FLUSH_EVERY

    def flush(self, connection) -> None:
        """Sends what was added since the last flush; on a Redis error it is kept for the
        next one, and the error propagates."""
        with self._lock:
            counts, sums = self._counts, self._sums
            self._counts, self._sums = Counter(), Counter()
            self._flushed_at = time.monotonic()
        if not counts:
            return
        try:
            with connection.pipeline(transaction=False) as pipe:
                for (key, field), increment in counts.items():
                    pipe.hincrby(key, field, increment)
                for key, seconds in sums.items():
                    pipe.hincrbyfloat(key, "sum", seconds)
                pipe.execute()
        except BaseException:
            with self._lock:
                self._counts.update(counts)
                self._sums.update(sums)
            raise
