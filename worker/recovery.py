"""Recovering the jobs of workers that died (the Lifeline of this worker).

* Abandoned: a job in a queue's started registry whose heartbeat lapsed, or the job of
  a working process that the supervisor saw die. rq's clean-up retries or fails it; it
  runs here with the worker's exception handlers, so the task's policy decides
  (``worker/policy.py``) and the outcome is logged and counted as ``abandoned``.
* Intermediate: a job id taken from its queue by a worker killed before it started the
  job. It never ran: it goes back to the head of its queue, uncharged.

The clean-up runs in the workers' maintenance, one worker per queue at a time under a
short lock; never from a read (``worker/status.py`` only counts).
"""

from __future__ import annotations

import logging

import redis
from django.conf import settings
from redis import Redis
from rq.job import JobStatus
from rq.queue import Queue
from rq.registry import clean_registries
from rq.utils import now
from rq.worker_registration import clean_worker_registry

from worker import keys, wake

logger = logging.getLogger("worker.jobs")

MAINTENANCE_LOCK_TTL = 60  # seconds: a worker killed mid-clean blocks the others this long at most

# Back from the intermediate list to the head of its queue, unless it is there already.
_REQUEUE = (
    wake.LUA_PUSH
    + """
if redis.call('LREM', KEYS[1], 0, ARGV[1]) == 0 then return 0 end
if redis.call('LPOS', KEYS[2], ARGV[1]) then return 0 end
redis.call('LPUSH', KEYS[2], ARGV[1])
wake(KEYS[3], 1)
return 1
"""
)


class Recovery:
    def __init__(self, connection: Redis, queues: list[Queue], exception_handlers: list):
        self._connection = connection
        self._queues = queues
        self._handlers = exception_handlers
        self._requeue = connection.register_script(_REQUEUE)

    def clean(self) -> None:
        """rq's maintenance for each queue, under a lock that expires in a minute (rq's
        lasts 15: a worker killed mid-clean would stop recovery for that long)."""
        for queue in self._queues:
            if self._connection.set(queue.registry_cleaning_key, 1, nx=True, ex=MAINTENANCE_LOCK_TTL):
                try:
                    clean_registries(queue, self._handlers)
                    clean_worker_registry(queue)
                    self.requeue_intermediate(queue)
                finally:
                    queue.release_maintenance_lock()

    def requeue_intermediate(self, queue: Queue) -> None:
        """Puts back at the head of its queue a job id left in the intermediate list by a
        worker killed between taking it and starting it: it never ran, so it is neither
        failed nor charged a retry. rq's own clean-up waits a minute and then fails or
        retries it; a live worker starts a job it took within milliseconds, so
        WORKER_HEARTBEAT_GRACE seconds is a safe wait."""
        intermediate = queue.intermediate_queue
        started = {
            member.split(":", 1)[0] for member in queue.started_job_registry.get_job_ids(cleanup=False)
        }
        for job_id in intermediate.get_job_ids():
            if job_id in started:
                continue  # started: the abandoned-job clean-up owns it
            if intermediate.set_first_seen(job_id):
                continue
            first_seen = intermediate.get_first_seen(job_id)
            if first_seen is None or (now() - first_seen).total_seconds() < settings.WORKER_HEARTBEAT_GRACE:
                continue
            job = queue.fetch_job(job_id)
            if job is None or job.get_status(refresh=False) != JobStatus.QUEUED:
                intermediate.remove(job_id)
                continue
            if self._requeue(keys=[intermediate.key, queue.key, keys.WAKE], args=[job_id]):
                logger.warning(
                    "job %s was taken by a worker that died before starting it; queued again", job_id
                )

    def recover_dead_worker(self, worker_class, name: str) -> None:
        """Hands the job of working process ``name``, seen dead by its supervisor, to the
        abandoned-job handling at once instead of after its heartbeat lapses."""
        key = keys.RQ_WORKER.format(name)
        try:
            job_id = self._connection.hget(key, "current_job")
            dead = worker_class.find_by_key(key, connection=self._connection)
            if dead is not None:
                dead.register_death()
            if not job_id:
                return
            job_id = job_id.decode()
            for queue in self._queues:
                started = queue.started_job_registry
                for member in self._connection.zrange(started.key, 0, -1):
                    if member.decode().split(":", 1)[0] == job_id:
                        self._connection.zadd(started.key, {member: 1})  # lapsed: abandoned now
                started.cleanup(exception_handlers=self._handlers)
        except redis.RedisError:
            logger.exception(
                "could not recover the job of dead worker %s; the workers' maintenance will", name
            )
