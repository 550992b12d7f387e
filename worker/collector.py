"""The /metrics collector for jobs: reads, at each scrape, the counts that every worker
process on every host keeps in Redis (``worker/counters.py``), and the queues' state
(``worker/status.py``).

    bookstore_tasks_enqueued_total{task,queue}
    bookstore_tasks_processed_total{task,status}     status: success | failed | abandoned
    bookstore_task_duration_seconds{task}            histogram of attempt durations
    bookstore_queue_jobs{queue,status}               queued | started | scheduled | failed
    bookstore_queue_oldest_seconds{queue}            age of the oldest queued job
    bookstore_workers                                live worker processes (fresh heartbeat)
    bookstore_workers_suspended                      1 while rqsuspend is in force
    bookstore_redis_up                               0 when Redis did not answer the scrape
    bookstore_outbox_pending, bookstore_outbox_oldest_seconds
"""

from __future__ import annotations

import logging
import math

from django.db import DatabaseError
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from redis.exceptions import RedisError

from worker.counters import BUCKETS
from worker.keys import METRICS_DURATION, METRICS_ENQUEUED, METRICS_PROCESSED
from worker.outbox import pending
from worker.registry import registry
from worker.status import jobs_status

logger = logging.getLogger(__name__)


def _split(raw: dict) -> list[tuple[str, str, float]]:
    rows = []
    for field, value in raw.items():
        first, second = field.decode().split("|", 1)
        rows.append((first, second, float(value)))
    return rows


SCHEDULER_AGE_HELP = "Seconds since the leading run_scheduler's last heartbeat (+Inf: never seen)"


class JobMetricsCollector:
    """A prometheus_client collector that reads the shared counts at each scrape."""

    def __init__(self, connection_factory):
        self._connection = connection_factory
        # The last families read from Redis: served again, with bookstore_redis_up 0,
        # while Redis is away, so the series (and the alerts on them) do not vanish.
        self._last: list = []

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
        yield GaugeMetricFamily(
            "bookstore_queue_oldest_seconds", "Age of the oldest queued job (0 when empty)", labels=["queue"]
        )
        yield GaugeMetricFamily("bookstore_workers_suspended", "1 while rqsuspend holds every worker")
        yield GaugeMetricFamily("bookstore_scheduler_heartbeat_age_seconds", SCHEDULER_AGE_HELP)
        yield GaugeMetricFamily("bookstore_redis_up", "1 if Redis answered this scrape, else 0")
        yield GaugeMetricFamily("bookstore_outbox_pending", "Jobs in the outbox, not yet in Redis")
        yield GaugeMetricFamily("bookstore_outbox_oldest_seconds", "Age of the oldest job in the outbox")

    def collect(self):
        try:
            self._last = list(self._collect())
            up = 1
        except RedisError:
            logger.exception("metrics: Redis unreachable; serving the job metrics last read")
            up = 0
        yield from self._last
        yield GaugeMetricFamily("bookstore_redis_up", "1 if Redis answered this scrape, else 0", value=up)
        try:
            outbox = pending()
        except DatabaseError:
            logger.exception("metrics: database unreachable; outbox metrics left out of this scrape")
            return
        yield GaugeMetricFamily(
            "bookstore_outbox_pending", "Jobs in the outbox, not yet in Redis", value=outbox.count
        )
        yield GaugeMetricFamily(
            "bookstore_outbox_oldest_seconds",
            "Age of the oldest job in the outbox",
            value=outbox.oldest_seconds or 0.0,
        )

    def _collect(self):
        connection = self._connection()
        with connection.pipeline(transaction=False) as pipe:
            pipe.hgetall(METRICS_ENQUEUED)
            pipe.hgetall(METRICS_PROCESSED)
            tasks = [task.name for task in registry]
            for task in tasks:
                pipe.hgetall(METRICS_DURATION.format(task))
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
        oldest = GaugeMetricFamily(
            "bookstore_queue_oldest_seconds", "Age of the oldest queued job (0 when empty)", labels=["queue"]
        )
        for queue in status.queues:
            oldest.add_metric([queue.name], queue.oldest_queued_age or 0.0)
        yield oldest
        yield GaugeMetricFamily("bookstore_workers", "Live worker processes", value=status.workers)
        yield GaugeMetricFamily(
            "bookstore_worker_threads",
            "Live worker threads (rq workers), each running one job at a time",
            value=status.threads,
        )
        yield GaugeMetricFamily(
            "bookstore_workers_suspended",
            "1 while rqsuspend holds every worker",
            value=int(status.suspended),
        )
        yield GaugeMetricFamily(
            "bookstore_scheduler_heartbeat_age_seconds",
            SCHEDULER_AGE_HELP,
            value=status.scheduler_age if status.scheduler_age is not None else math.inf,
        )
