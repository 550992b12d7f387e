"""Wake-up tokens: an idle worker picks up a new job within a round trip, without a
busy poll.

Every path that puts a job on a queue also pushes a token onto ``bookstore:wake``: our
enqueue helpers and outbox, the scheduler's move of due delayed jobs, rq's own
``Queue.push_job_id`` (so django-rq's API, ``rqenqueue``, the dashboard's requeue and
rq's retries, through ``WakingQueue``), and the recovery of abandoned jobs. An idle
worker waits on the list with a blocking pop (``BLPOP``, at most ``WAIT`` seconds), then
takes a job in weighted order with the same atomic move as ever (``worker/dequeue.py``):
the token says "look now", never which job, so no job is tied to a token and a lost or
stale token costs nothing but a look. A job put on a queue by something that pushes no
token (``rq requeue`` from the command line, a hand-made RPUSH) waits at most ``WAIT``
seconds, as it did with the old polling.

The list is kept to its last ``KEEP`` tokens: while every worker is busy nobody takes
them, and there is no use in more tokens than idle workers.
"""

from __future__ import annotations

from django_rq.queues import DjangoRQ
from typing_extensions import override

from worker import keys

KEEP = 256  # tokens kept at most
WAIT = 0.2  # seconds an idle worker blocks before looking again anyway

# For Lua scripts that queue jobs: push ARGV-independent tokens onto KEYS[n].
LUA_PUSH = """
local function wake(key, count)
    if count < 1 then return end
    for _ = 1, math.min(count, {keep}) do redis.call('RPUSH', key, '1') end
    redis.call('LTRIM', key, -{keep}, -1)
end
""".replace("{keep}", str(KEEP))


def push(client, count: int = 1) -> None:
    """Pushes ``count`` tokens (on a pipeline, or at once on a connection)."""
    if count < 1:
        return
    client.rpush(keys.WAKE, *(["1"] * min(count, KEEP)))
    client.ltrim(keys.WAKE, -KEEP, -1)


def wait(connection, timeout: float = WAIT) -> bool:
    """Blocks until a token comes (True) or ``timeout`` seconds pass (False)."""
    return connection.blpop([keys.WAKE], timeout=timeout) is not None


class WakingQueue(DjangoRQ):
    """django-rq's queue (commit modes and all) whose every push of a job id onto the
    queue also wakes an idle worker. Set as ``RQ["QUEUE_CLASS"]`` and the worker's
    queue class, so rq's own paths wake workers too."""

    @override
    def push_job_id(self, job_id: str, pipeline=None, at_front: bool = False):
        super().push_job_id(job_id, pipeline=pipeline, at_front=at_front)
        if pipeline is not None:
            push(pipeline)
        else:
            with self.connection.pipeline(transaction=False) as pipe:
                push(pipe)
                pipe.execute()
