"""One round trip per job: the end of the last job and the start of the next, in one
Lua step (issue 14's lean path).

rq marks a job started and finished in four pipelines of its own (its execution record,
the worker's state and current job, the job's heartbeat and status, the result, the
worker's counters): 18 round trips became 6 in issue 10, and still some 40 commands a
job. Here a busy thread sends one script per job, which

1. ends the job it has just run, as rq's success handling leaves it: the job's status
   and end time, its expiry (the result TTL), out of the started registry and into the
   finished one, its result in the job's result stream (``Result``, what the dashboard
   and ``job.return_value()`` read);
2. takes the next job in the weighted queue order (``LMPOP`` over the queues, in the
   order drawn for this dequeue) and reads it;
3. marks that job started in the same step: status, start time and worker on the job,
   the job in its queue's started registry (``rq:wip:<queue>``, member
   ``<job id>:<execution id>`` as rq writes it, scored by its heartbeat deadline), and
   the worker's current job and state.

That is 12 commands (the script call, 6 for the end, 4 for the start, 1 for the worker)
in one round trip. A job is always in a queue or a registry: it moves from its queue to
the started registry in one atomic step, without rq's intermediate list in between; a
worker killed after the step leaves a started job whose heartbeat lapses and which is
retried per its task (worker/recovery.py).

The rest stays rq's: a failed job, a retry and the heartbeats of a running job go
through rq's own code, with the ``Execution`` made here (rq's record of a run, kept in
memory: only its heartbeats write it). The worker's job counts (``successful_job_count``,
``total_working_time``) go with the job metrics about once a second.
"""

from __future__ import annotations

import json
import os
import random
from dataclasses import dataclass
from datetime import datetime

from redis import Redis, RedisError
from redis.exceptions import NoScriptError
from rq.exceptions import NoSuchJobError
from rq.executions import Execution
from rq.job import Job, JobStatus
from rq.queue import Queue
from rq.results import Result
from rq.utils import current_timestamp, now, utcformat

from worker import keys

_FINISH_AND_TAKE = """
local a = cjson.decode(ARGV[1])
local f = a.finish
if f ~= cjson.null then
    redis.call('HSET', f.job_key, unpack(f.fields))
    redis.call('EXPIRE', f.job_key, f.ttl)
    redis.call('ZREM', f.started_key, f.member)
    redis.call('ZADD', f.finished_key, f.finished_score, f.job_id)
    redis.call('XADD', f.results_key, 'MAXLEN', 10, '*', unpack(f.result))
    redis.call('EXPIRE', f.results_key, f.ttl)
end
local t = a.take
if t ~= cjson.null then
    local pop = {'LMPOP', #KEYS}
    for _, key in ipairs(KEYS) do pop[#pop + 1] = key end
    pop[#pop + 1] = 'LEFT'
    local popped = redis.call(unpack(pop))
    if popped then
        local queue_key, job_id = popped[1], popped[2][1]
        local job_key = t.job_prefix .. job_id
        local fields = redis.call('HGETALL', job_key)
        if #fields > 0 then
            redis.call('HSET', job_key, 'status', 'started', 'started_at', t.now, 'last_heartbeat', t.now,
                'worker_name', t.worker_name)
            local queue = string.sub(queue_key, #t.queue_prefix + 1)
            redis.call('ZADD', t.started_prefix .. queue, t.started_score, job_id .. ':' .. t.execution_id)
            redis.call('HSET', a.worker_key, 'current_job', job_id, 'state', 'busy')
        end
        return {queue_key, job_id, fields}
    end
end
if a.idle then
    redis.call('HDEL', a.worker_key, 'current_job')
    redis.call('HSET', a.worker_key, 'state', 'idle')
end
return false
"""


@dataclass
class Taken:
    job: Job  # as it was read, before the start: the policy reads its last start
    queue: Queue
    execution: Execution
    started_at: datetime


class JobTrips:
    """The finish-and-take step of one worker (one thread of a crew)."""

    def __init__(self, connection: Redis, queues: list[Queue], job_class, serializer):
        self._connection = connection
        self._queues = {keys.RQ_QUEUE.format(queue.name): queue for queue in queues}
        self._job_class = job_class
        self._serializer = serializer
        self._script = connection.register_script(_FINISH_AND_TAKE)
        self._finish: dict | None = None
        self._held: tuple[int, Redis] | None = None  # (pid, client)

    def _client(self) -> Redis:
        """A connection of this worker's own for the take step, held rather than taken
        from the pool for every job: the pool checks each connection it hands out with a
        system call that hands the GIL to another thread. Made in the process that uses
        it (a worker object may be built before the fork)."""
        if self._held is None or self._held[0] != os.getpid():
            pool = self._connection.connection_pool
            self._held = (os.getpid(), Redis(connection_pool=pool, single_connection_client=True))
        return self._held[1]

    def close(self) -> None:
        """Gives the held connection back to the pool."""
        if self._held is not None and self._held[0] == os.getpid():
            self._held[1].close()
        self._held = None

    @property
    def pending(self) -> bool:
        return self._finish is not None

    def finished(
        self, job: Job, queue: Queue, execution: Execution, result_ttl: int, worker_name: str
    ) -> None:
        """Remembers the success of ``job`` (result TTL > 0), sent with the next take or
        ``flush``."""
        result = Result(
            job_id=job.id,
            type=Result.Type.SUCCESSFUL,
            connection=self._connection,
            return_value=job._result,
            worker_name=worker_name,
            serializer=job.serializer,
            execution_id=execution.id,
            execution_started_at=execution.created_at,
            execution_ended_at=job.ended_at,
        )
        stamp = utcformat(job.ended_at)
        self._finish = {
            "job_id": job.id,
            "job_key": job.key,
            "fields": ["status", JobStatus.FINISHED, "ended_at", stamp, "last_heartbeat", stamp],
            "ttl": int(result_ttl),
            "started_key": keys.RQ_STARTED.format(queue.name),
            "member": f"{job.id}:{execution.id}",
            "finished_key": keys.RQ_FINISHED.format(queue.name),
            "finished_score": current_timestamp() + int(result_ttl),
            "results_key": Result.get_key(job.id),
            "result": [str(part) for pair in result.serialize().items() for part in pair],
        }

    def flush(self, worker_key: str, *, idle: bool) -> None:
        """Sends a remembered success now (the loop is ending, or about to wait)."""
        if self._finish is not None or idle:
            self._call(order=[], worker_key=worker_key, idle=idle, take=None)

    def take(
        self, order: list[str], worker_key: str, worker_name: str, heartbeat_ttl: int, *, idle: bool
    ) -> Taken | tuple[str, Queue] | None:
        """Ends the remembered job, then takes and starts the next one from the queues
        in ``order`` (queue names). Returns the job, ``(job id, queue)`` for an id whose
        job is gone (deleted while queued: nothing was started), or None when every
        queue is empty (and the worker is marked idle if ``idle``)."""
        started_at = now()
        # An execution id need only be unique: 128 bits of Python's generator (seeded
        # afresh in every forked child) rather than uuid4, whose read of os.urandom
        # hands the GIL to another thread and waits to get it back.
        execution_id = f"{random.getrandbits(128):032x}"
        execution = Execution(
            id=execution_id, job_id="", connection=self._connection, worker_name=worker_name
        )
        take = {
            "job_prefix": keys.RQ_JOB.format(""),
            "queue_prefix": keys.RQ_QUEUE.format(""),
            "started_prefix": keys.RQ_STARTED.format(""),
            "now": utcformat(started_at),
            "worker_name": worker_name,
            "started_score": current_timestamp() + heartbeat_ttl,
            "execution_id": execution_id,
        }
        answer = self._call(
            order=[keys.RQ_QUEUE.format(name) for name in order], worker_key=worker_key, idle=idle, take=take
        )
        if not answer:
            return None
        queue_key, job_id, fields = answer
        queue = self._queues[queue_key.decode()]
        job_id = job_id.decode()
        if not fields:
            return job_id, queue
        job = self._job_class(job_id, connection=self._connection, serializer=self._serializer)
        try:
            job.restore(dict(zip(fields[::2], fields[1::2], strict=True)))
        except NoSuchJobError:  # a hash without a payload (a heartbeat outliving its job)
            with self._connection.pipeline() as pipe:
                pipe.zrem(queue.started_job_registry.key, f"{job_id}:{execution.id}")
                pipe.hdel(worker_key, "current_job")
                pipe.execute()
            return job_id, queue
        execution.job_id = job_id
        execution.created_at = execution.last_heartbeat = started_at
        return Taken(job, queue, execution, started_at)

    def _call(self, *, order: list[str], worker_key: str, idle: bool, take: dict | None):
        argument = json.dumps({"finish": self._finish, "take": take, "worker_key": worker_key, "idle": idle})
        client = self._client()
        try:
            try:  # EVALSHA itself: redis-py's Script call adds an isinstance check on a Protocol
                answer = client.evalsha(self._script.sha, len(order), *order, argument)
            except NoScriptError:  # a Redis that restarted, or failed over: load it again
                answer = self._script(keys=order, args=[argument], client=client)
        except RedisError:
            # The next call takes a fresh connection from the pool: the pool's check-out
            # asks the Sentinels for the master again, where a held connection would
            # reconnect to the address it had (a failed-over master, for ever).
            self.close()
            raise
        self._finish = None  # sent: an error above keeps it for the next call
        return answer
