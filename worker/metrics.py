"""Job metrics kept in Redis, so every worker process on every host adds to the same
counts, and the web process's /metrics reports them all (a counter in one process's
memory would show that process only).

    bookstore_tasks_enqueued_total{task,queue}
    bookstore_tasks_processed_total{task,status}     status: success | failed (each attempt)
    bookstore_task_duration_seconds{task}            histogram of attempt durations
    bookstore_queue_jobs{queue,status}               queued | started | scheduled | failed
    bookstore_workers                                live worker processes
"""

from __future__ import annotations

import logging
from bisect import bisect_left

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

ENQUEUED_KEY = "bookstore:metrics:enqueued"
PROCESSED_KEY = "bookstore:metrics:processed"
DURATION_KEY = "bookstore:metrics:duration:{}"
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)


def count_enqueued(pipe, task: str, queue: str, n: int = 1) -> None:
    pipe.hincrby(ENQUEUED_KEY, f"{task}|{queue}", n)


def count_processed(pipe, task: str, status: str, seconds: float) -> None:
    """Adds one attempt's outcome and duration (to be executed with the caller's pipeline)."""
    pipe.hincrby(PROCESSED_KEY, f"{task}|{status}", 1)
    key = DURATION_KEY.format(task)
    index = bisect_left(BUCKETS, seconds)
    pipe.hincrby(key, BUCKETS[index] if index < len(BUCKETS) else "+Inf", 1)
    pipe.hincrbyfloat(key, "sum", seconds)


def _split(raw: dict) -> list[tuple[str, str, float]]:
    rows = []
    for field, value in raw.items():
        first, second = field.decode().split("|", 1)
        rows.append((first, second, float(value)))
    return rows


class JobMetricsCollector:
    """A prometheus_client collector that reads the shared counts at each scrape."""

    def __init__(self, connection_factory):
        self._connection = connection_factory

    def describe(self):
        # Without describe(), prometheus_client calls collect() at registration, which
        # would make every process's start-up depend on Redis.
        yield CounterMetricFamily("bookstore_tasks_enqueued", "Jobs enqueued", labels=["task", "queue"])
        yield CounterMetricFamily("bookstore_tasks_processed", "Job attempts run", labels=["task", "status"])
        yield HistogramMetricFamily(
            "bookstore_task_duration_seconds", "Job attempt duration", labels=["task"]
        )
        yield GaugeMetricFamily(
            "bookstore_queue_jobs", "Jobs per queue and status", labels=["queue", "status"]
        )
        yield GaugeMetricFamily("bookstore_workers", "Live worker processes")

    def collect(self):
        try:
            yield from list(self._collect())
        except RedisError:
            logger.exception("metrics: Redis unreachable; job metrics left out of this scrape")

    def _collect(self):
        from worker.registry import registry
        from worker.status import jobs_status

        connection = self._connection()
        with connection.pipeline(transaction=False) as pipe:
            pipe.hgetall(ENQUEUED_KEY)
            pipe.hgetall(PROCESSED_KEY)
            tasks = [task.name for task in registry]
            for task in tasks:
                pipe.hgetall(DURATION_KEY.format(task))
            enqueued, processed, *durations = pipe.execute()

        family = CounterMetricFamily("bookstore_tasks_enqueued", "Jobs enqueued", labels=["task", "queue"])
        for task, queue, value in _split(enqueued):
            family.add_metric([task, queue], value)
        yield family

        family = CounterMetricFamily(
            "bookstore_tasks_processed", "Job attempts run", labels=["task", "status"]
        )
        for task, status, value in _split(processed):
            family.add_metric([task, status], value)
        yield family

        family = HistogramMetricFamily(
            "bookstore_task_duration_seconds", "Job attempt duration", labels=["task"]
        )
        for task, raw in zip(tasks, durations, strict=True):
            if not raw:
                continue
            counts = {key.decode(): float(value) for key, value in raw.items()}
            cumulative, buckets = 0.0, []
            for bound in [*map(str, map(float, BUCKETS)), "+Inf"]:
                cumulative += counts.get(bound, 0.0)
                buckets.append((bound, cumulative))
            family.add_metric([task], buckets, counts.get("sum", 0.0))
        yield family

        status = jobs_status(connection)
        depth = GaugeMetricFamily(
            "bookstore_queue_jobs", "Jobs per queue and status", labels=["queue", "status"]
        )
        for queue in status.queues:
            for state in ("queued", "started", "scheduled", "failed"):
                depth.add_metric([queue.name, state], getattr(queue, state))
        yield depth
        yield GaugeMetricFamily("bookstore_workers", "Live worker processes", value=status.workers)
