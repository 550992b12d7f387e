"""Taking the next job: queues in a weighted random order, and one atomic move.

Before each dequeue the queues are put in a random order in which each comes first with
probability weight / total (10:5:3:1 by default), and the first non-empty one gives the
job: with work in every queue they are served about 10:5:3:1, so ``low`` never starves;
with work in ``low`` only, ``low`` runs at full speed.

The job id moves from its queue to rq's intermediate list in one Lua step (LMOVE), so a
job is always in a list or a registry: a worker killed right after taking it leaves it
in the intermediate list, which ``worker/recovery.py`` puts back.

A job found on another queue than its task's (django-rq's ``get_queue("low").enqueue``
of a registered function, say) is moved, at the head, onto its task's queue instead of
being run: the queue, like the retries and the timeout, comes from the registry.
"""

from __future__ import annotations

import logging
import random

from redis import Redis
from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq.queue import Queue

from worker import keys, wake
from worker.policy import task_of

logger = logging.getLogger("worker.jobs")

# Moves the first job id found, in the given queue order, onto that queue's intermediate
# list (rq's key format, checked by the rq contract test).
_POP_WEIGHTED = """
for _, key in ipairs(KEYS) do
    local job_id = redis.call('LMOVE', key, key .. ':intermediate', 'LEFT', 'RIGHT')
    if job_id then return {key, job_id} end
end
return false
"""


# Back from the intermediate list to the end of its queue (a job held back by its task's
# cap), unless it is no longer in the intermediate list.
_PUT_BACK = """
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then return 0 end
redis.call('RPUSH', KEYS[2], ARGV[1])
return 1
"""


def weighted_order(names: list[str], weights: dict[str, int], rng: random.Random) -> list[str]:
    """A random order in which each queue comes first with probability weight / total
    (Efraimidis-Spirakis sampling without replacement)."""
    return sorted(names, key=lambda name: rng.random() ** (1.0 / max(weights.get(name, 1), 1)), reverse=True)


class WeightedDequeue:
    def __init__(
        self, connection: Redis, queues: list[Queue], weights: dict[str, int], job_class, serializer
    ):
        self._connection = connection
        self._queues = {keys.RQ_QUEUE.format(queue.name): queue for queue in queues}
        self._weights = weights
        self._job_class = job_class
        self._serializer = serializer
        self._rng = random.Random()
        self._pop = connection.register_script(_POP_WEIGHTED)
        self._put_back = connection.register_script(_PUT_BACK)

    def pop(self) -> tuple[Job, Queue] | None:
        """The next job and its queue, already moved to the intermediate list; None when
        every queue is empty."""
        names = [queue.name for queue in self._queues.values()]
        order = [keys.RQ_QUEUE.format(name) for name in weighted_order(names, self._weights, self._rng)]
        while True:
            result = self._pop(keys=order)
            if not result:
                return None
            queue = self._queues[result[0].decode()]
            job_id = result[1].decode()
            try:
                job = self._job_class.fetch(job_id, connection=self._connection, serializer=self._serializer)
            except NoSuchJobError:
                queue.intermediate_queue.remove(job_id)  # deleted while queued: nothing to run
                continue
            task = task_of(job)
            if task is not None and task.queue != queue.name:
                self._move(job, queue, task.queue)
                continue
            return job, queue

    def put_back(self, job: Job, queue: Queue) -> None:
        """Returns a job taken but not started to the end of its queue."""
        self._put_back(keys=[queue.intermediate_queue_key, queue.key], args=[job.id])

    def _move(self, job: Job, queue: Queue, target: str) -> None:
        with self._connection.pipeline() as pipe:  # MULTI/EXEC: in one list or the other
            pipe.lrem(queue.intermediate_queue_key, 1, job.id)
            pipe.hset(job.key, "origin", target)
            pipe.sadd(Queue.redis_queues_keys, keys.RQ_QUEUE.format(target))
            pipe.lpush(keys.RQ_QUEUE.format(target), job.id)
            wake.push(pipe)
            pipe.execute()
        logger.info("job %s was on queue %s; moved to its task's queue %s", job.id, queue.name, target)
