"""One reading of the job system's state, shared by /health/worker, the admin's
Background jobs panel and /metrics.

Reads are reads: it counts with LLEN and ZCARD in two pipelined round trips, never with
rq's ``registry.count``, which runs rq's abandoned-job clean-up. That clean-up belongs to
the workers' maintenance (under its lock, with the task's retry policy), not to a scrape.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.conf import settings
from redis import Redis
from rq.utils import utcparse

from worker import keys
from worker.registry import QUEUE_NAMES

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
    workers: int  # live working processes
    scheduler_age: float | None
    suspended: bool = False  # rqsuspend in force
    scheduler_leader: str | None = None  # the leading run_scheduler's name (host-pid-id)
    threads: int = 0  # live rq workers: one per thread of each working process

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


def worker_live_after() -> float:
    """Seconds since its last heartbeat after which a registered worker counts as dead:
    a live one beats every WORKER_HEARTBEAT_INTERVAL, idle or busy."""
    return settings.WORKER_HEARTBEAT_INTERVAL + settings.WORKER_HEARTBEAT_GRACE


def _age(now: float, stamp: bytes | None) -> float | None:
    return round(now - utcparse(stamp.decode()).timestamp(), 1) if stamp else None


def jobs_status(connection: Redis) -> JobsStatus:
    """Reads queues, workers and the scheduler's heartbeat; Redis errors propagate."""
    with connection.pipeline(transaction=False) as pipe:
        for name in QUEUE_NAMES:
            pipe.llen(keys.RQ_QUEUE.format(name))
            pipe.zcard(keys.RQ_STARTED.format(name))
            pipe.zcard(keys.RQ_SCHEDULED.format(name))
            pipe.zcard(keys.RQ_FAILED.format(name))
            pipe.lindex(keys.RQ_QUEUE.format(name), 0)
        pipe.hmget(keys.SCHEDULER_HEARTBEAT, "at", "leader")
        pipe.smembers(keys.RQ_WORKERS)
        pipe.exists(keys.RQ_SUSPENDED)
        *counts, (beat, leader), worker_keys, suspended = pipe.execute()
    rows = [counts[i : i + 5] for i in range(0, len(counts), 5)]
    worker_keys = sorted(key.decode() for key in worker_keys)
    with connection.pipeline(transaction=False) as pipe:
        for *_, oldest_id in rows:
            if oldest_id:
                pipe.hget(keys.RQ_JOB.format(oldest_id.decode()), "enqueued_at")
            else:
                pipe.echo("")  # keeps one answer per queue
        for key in worker_keys:
            pipe.hmget(key, "last_heartbeat", "hostname", "pid")
        stamps = pipe.execute()
    now = time.time()
    queues = [
        QueueStatus(
            name=name,
            queued=queued,
            started=started,
            scheduled=scheduled,
            failed=failed,
            oldest_queued_age=_age(now, stamp),
        )
        for name, (queued, started, scheduled, failed, _), stamp in zip(
            QUEUE_NAMES, rows, stamps, strict=False
        )
    ]
    # Each thread of a working process is an rq worker of its own (worker/crew.py): a
    # process counts once, by host and pid.
    live = [
        (hostname, pid)
        for beat, hostname, pid in stamps[len(rows) :]
        if (age := _age(now, beat)) is not None and age <= worker_live_after()
    ]
    return JobsStatus(
        queues=queues,
        workers=len(set(live)),
        threads=len(live),
        scheduler_age=round(now - float(beat), 1) if beat else None,
        suspended=bool(suspended),
        scheduler_leader=leader.decode() if leader else None,
    )
