"""Which queue comes first, and putting back a job taken but not run.

Before each dequeue the queues are put in a random order in which each comes first with
probability weight / total (10:5:3:1 by default), and the first non-empty one gives the
job (``worker/take.py`` takes it in that order and starts it in one Lua step): with work
in every queue they are served about 10:5:3:1, so ``low`` never starves; with work in
``low`` only, ``low`` runs at full speed.

A job found on another queue than its task's (django-rq's ``get_queue("low").enqueue``
of a registered function, say) is moved, at the head, onto its task's queue instead of
being run: the queue, like the retries and the timeout, comes from the registry. A job
whose task is at its ``max_concurrency`` in this process goes back to the end of its
queue. Neither is charged a retry.
"""

from __future__ import annotations

import logging
import random

from redis import Redis
from rq.job import JobStatus
from rq.queue import Queue

from worker import keys, wake
from worker.take import Taken

logger = logging.getLogger("worker.jobs")


def weighted_order(names: list[str], weights: dict[str, int], rng: random.Random) -> list[str]:
    """A random order in which each queue comes first with probability weight / total
    (Efraimidis-Spirakis sampling without replacement)."""
    return sorted(names, key=lambda name: rng.random() ** (1.0 / max(weights.get(name, 1), 1)), reverse=True)


class WeightedDequeue:
    """The queue order of each dequeue, and the moves of a job taken but not run."""

    def __init__(self, connection: Redis, queues: list[Queue], weights: dict[str, int]):
        self._connection = connection
        self._names = [queue.name for queue in queues]
        self._weights = weights
        self._rng = random.Random()

    def order(self) -> list[str]:
        """The queue names in this dequeue's weighted random order."""
        return weighted_order(self._names, self._weights, self._rng)

    def requeue(self, taken: Taken, target: str, *, at_front: bool) -> None:
        """Undoes the start of a job that will not run here: back on queue ``target``, at
        its head (a job on the wrong queue) or its end (a job held back by its task's
        cap), in one MULTI/EXEC, uncharged."""
        job, queue = taken.job, taken.queue
        with self._connection.pipeline() as pipe:
            pipe.zrem(queue.started_job_registry.key, f"{job.id}:{taken.execution.id}")
            pipe.hset(job.key, mapping={"status": JobStatus.QUEUED, "origin": target})
            pipe.sadd(Queue.redis_queues_keys, keys.RQ_QUEUE.format(target))
            push = pipe.lpush if at_front else pipe.rpush
            push(keys.RQ_QUEUE.format(target), job.id)
            wake.push(pipe)
            pipe.execute()
        if target != queue.name:
            logger.info("job %s was on queue %s; moved to its task's queue %s", job.id, queue.name, target)
