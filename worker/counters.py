"""Job counters kept in Redis, so every worker process on every host adds to the same
counts (a counter in one process's memory would show that process only). A leaf module:
the enqueue helpers and the worker write here; ``worker/collector.py`` reads."""

from __future__ import annotations

from bisect import bisect_left

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
