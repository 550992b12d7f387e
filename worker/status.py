"""One reading of the job system's state, shared by /health/worker, the admin's
Background jobs panel and /metrics."""

from __future__ import annotations

import time
from dataclasses import dataclass

from redis import Redis
from rq import Worker
from rq.queue import Queue
from rq.serializers import JSONSerializer
from rq.utils import utcparse

from worker.registry import QUEUE_NAMES
from worker.scheduler import HEARTBEAT_KEY

SCHEDULER_STALE_AFTER = 120  # seconds without a scheduler heartbeat


@dataclass(frozen=True)
class QueueStatus:
    name: str
    queued: int
    started: int
    scheduled: int
    failed: int
    oldest_queued_age: float | None


@dataclass(frozen=True)
class JobsStatus:
    queues: list[QueueStatus]
    workers: int
    scheduler_age: float | None

    @property
    def failed(self) -> int:
        return sum(q.failed for q in self.queues)

    @property
    def scheduler_ok(self) -> bool:
        return self.scheduler_age is not None and self.scheduler_age <= SCHEDULER_STALE_AFTER

    @property
    def problems(self) -> list[str]:
        problems = []
        if self.workers == 0:
            problems.append("no live worker")
        if not self.scheduler_ok:
            problems.append("no scheduler heartbeat in the last 2 minutes")
        return problems


def jobs_status(connection: Redis) -> JobsStatus:
    """Reads queues, workers and the scheduler's heartbeat; Redis errors propagate."""
    now = time.time()
    queues = []
    for name in QUEUE_NAMES:
        queue = Queue(name, connection=connection, serializer=JSONSerializer)
        oldest_age = None
        oldest_id = connection.lindex(queue.key, 0)
        if oldest_id:
            enqueued_at = connection.hget(f"rq:job:{oldest_id.decode()}", "enqueued_at")
            if enqueued_at:
                oldest_age = round(now - utcparse(enqueued_at.decode()).timestamp(), 1)
        queues.append(
            QueueStatus(
                name=name,
                queued=queue.count,
                started=queue.started_job_registry.count,
                scheduled=queue.scheduled_job_registry.count,
                failed=queue.failed_job_registry.count,
                oldest_queued_age=oldest_age,
            )
        )
    beat = connection.hget(HEARTBEAT_KEY, "at")
    return JobsStatus(
        queues=queues,
        workers=Worker.count(connection=connection),
        scheduler_age=round(now - float(beat), 1) if beat else None,
    )
