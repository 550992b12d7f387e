"""The transactional outbox: every job caused by a database change is written to the
``worker_outbox`` table in the same transaction as the change, so a committed change
always has its job, and a rolled-back one (or a rolled-back savepoint) has none.

* **Fast path.** Right after commit, the transaction's rows go to Redis in one pipeline
  and are deleted: the usual latency is one round trip after commit. If Redis is away,
  the caller sees nothing (its transaction committed) and one WARNING is logged.
* **Relay.** ``run_scheduler`` sends whatever is left, in ``SELECT ... FOR UPDATE SKIP
  LOCKED`` batches, so any number of schedulers may relay at once.
* **No doubles.** Each row's job id is fixed when the row is written, and the job is
  created in Redis only if no job with that id exists (one Lua step): a row sent twice
  (a crash between "sent" and "deleted", two relays) makes one job.

Outside a transaction the enqueue helpers go straight to Redis: the caller has nothing
committed to lose, and sees the error.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db import DatabaseError, close_old_connections, transaction
from django.db.models import Count, Min
from django.utils import timezone
from redis import Redis
from redis.exceptions import RedisError, ResponseError
from rq.job import JobStatus

from worker import keys, wake
from worker.models import OutboxJob
from worker.registry import registry

logger = logging.getLogger("worker.outbox")


# Creates the job only if no job with its id exists, then queues or schedules it and
# counts it in bookstore_tasks_enqueued_total.
# KEYS: job hash, queue list or scheduled registry, rq:queues, the enqueued counter,
# the wake-up list (worker/wake.py).
# ARGV: job id, score ("" to queue now), queue key, counter field, then the job hash's
# field/value pairs.
_CREATE_UNIQUE = (
    wake.LUA_PUSH
    + """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 5))
if ARGV[2] == '' then
    redis.call('RPUSH', KEYS[2], ARGV[1])
    wake(KEYS[5], 1)
else
    redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
end
redis.call('SADD', KEYS[3], ARGV[3])
redis.call('HINCRBY', KEYS[4], ARGV[4], 1)
return 1
"""
)


@dataclass(frozen=True)
class Pending:
    """The outbox at a glance, for /metrics, /health/worker and the admin."""

    count: int
    oldest_seconds: float | None

    STALE_AFTER = 60  # seconds: older than this, /health/worker reports a problem

    @property
    def stale(self) -> bool:
        return self.oldest_seconds is not None and self.oldest_seconds > self.STALE_AFTER


def pending() -> Pending:
    row = OutboxJob.objects.aggregate(count=Count("id"), oldest=Min("created_at"))
    oldest = (timezone.now() - row["oldest"]).total_seconds() if row["oldest"] else None
    return Pending(count=row["count"], oldest_seconds=round(oldest, 1) if oldest is not None else None)


# --- writing, inside the caller's transaction ---------------------------------------------


def write(calls: Iterable[tuple[str, tuple, dict, str, dt.datetime | None]]) -> None:
    """Writes one row per (task name, args, kwargs, job id, run_at) in the current
    transaction, and arranges for them to be sent right after it commits."""
    connection = transaction.get_connection()
    batch = getattr(connection, "bookstore_outbox_batch", None)
    if batch is None:
        batch = connection.bookstore_outbox_batch = uuid.uuid4()
        connection.bookstore_outbox_writes = 0
    connection.bookstore_outbox_writes += 1
    now = timezone.now()
    rows = [
        OutboxJob(
            task=name,
            args=list(args),
            kwargs=kwargs,
            job_id=job_id,
            run_at=run_at,
            created_at=now,
            batch=batch,
        )
        for name, args, kwargs, job_id, run_at in calls
    ]
    # A job id already waiting in the outbox is the same job: enqueued once, like a
    # unique enqueue in Redis.
    OutboxJob.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)
    # One callback per write, so a rolled-back savepoint drops only its own; the first
    # callback to run after commit sends the whole transaction's rows.
    transaction.on_commit(lambda: _after_commit(batch, rows))


def _after_commit(batch: uuid.UUID, rows: list[OutboxJob]) -> None:
    connection = transaction.get_connection()
    if getattr(connection, "bookstore_outbox_sent", None) == batch:
        return  # an earlier callback of the same transaction sent them all
    connection.bookstore_outbox_sent = batch
    # The usual case, one write in the transaction (an order and its confirm job): its
    # callback ran, so its rows committed, and they are sent from memory. With more
    # writes, some may have been in a rolled-back savepoint: the database says which.
    only_write = getattr(connection, "bookstore_outbox_writes", 0) == 1
    if getattr(connection, "bookstore_outbox_batch", None) == batch:
        connection.bookstore_outbox_batch = None
    try:
        if only_write:
            sent = send(rows)
            OutboxJob.objects.filter(batch=batch, job_id__in=[row.job_id for row in rows]).delete()
        else:
            sent = relay(batch=batch)
    except (RedisError, DatabaseError) as error:
        _unsent.report(error)
        return
    logger.debug("outbox: %s jobs sent after commit", sent)


class _Unsent:
    """The fast path's WARNING when a committed transaction's jobs could not be sent:
    at most one every LOG_EVERY seconds per process, counting the ones in between, so an
    outage under load is a few lines, not one per request."""

    LOG_EVERY = 10.0  # seconds

    def __init__(self) -> None:
        self.logged_at = -self.LOG_EVERY
        self.unlogged = 0

    def report(self, error: Exception) -> None:
        now = time.monotonic()
        if now - self.logged_at < self.LOG_EVERY:
            self.unlogged += 1
            return
        since = f" ({self.unlogged} more since the last such line)" if self.unlogged else ""
        self.logged_at, self.unlogged = now, 0
        logger.warning(
            "outbox: the jobs of a committed transaction are not safely in Redis yet (%s: %s)%s; "
            "run_scheduler's relay will send them",
            type(error).__name__,
            error,
            since,
        )


_unsent = _Unsent()


# --- sending ---------------------------------------------------------------------------


def relay(*, batch: uuid.UUID | None = None) -> int:
    """Sends waiting rows to Redis and deletes them, OUTBOX_RELAY_BATCH rows per
    transaction: the rows of one committed transaction (``batch``), or any (the relay).
    Rows locked by another sender are skipped. Returns the number of rows sent."""
    size = settings.OUTBOX_RELAY_BATCH
    waiting = OutboxJob.objects.all() if batch is None else OutboxJob.objects.filter(batch=batch)
    if batch is None and not waiting.exists():  # the relay's idle turn: a plain read, no lock
        return 0
    sent = 0
    while True:
        with transaction.atomic():
            rows = list(waiting.select_for_update(skip_locked=True).order_by("id")[:size])
            if not rows:
                break
            send(rows)
            OutboxJob.objects.filter(id__in=[row.id for row in rows]).delete()
        sent += len(rows)
        if len(rows) < size:
            break
    return sent


def send(rows: list[OutboxJob], connection: Redis | None = None) -> int:
    """Creates each row's job in Redis unless a job with its id exists, in one pipeline;
    returns how many were new."""
    from worker.queues import get_connection, get_queue, job_options

    connection = connection or get_connection()
    wait_for = _replicas.to_wait_for(connection)
    script = connection.register_script(_CREATE_UNIQUE)
    now = timezone.now()
    queues = {}
    with connection.pipeline(transaction=False) as pipe:
        for row in rows:
            task = registry.get(row.task)
            due = row.run_at is not None and row.run_at > now
            if task.queue not in queues:
                queues[task.queue] = get_queue(task.queue)
            job = queues[task.queue].create_job(
                task.path,
                args=tuple(row.args),
                kwargs=dict(row.kwargs),
                status=JobStatus.SCHEDULED if due else JobStatus.QUEUED,
                **job_options(task, row.job_id),
            )
            if not due:
                job.enqueued_at = now
            fields = [item for pair in job.to_dict().items() if pair[1] is not None for item in pair]
            queue_key = keys.RQ_QUEUE.format(task.queue)
            script(
                keys=[
                    keys.RQ_JOB.format(row.job_id),
                    keys.RQ_SCHEDULED.format(task.queue) if due else queue_key,
                    keys.RQ_QUEUES,
                    keys.METRICS_ENQUEUED,
                    keys.WAKE,
                ],
                args=[
                    row.job_id,
                    str(int(row.run_at.timestamp())) if due else "",
                    queue_key,
                    f"{task.name}|{task.queue}",
                    *fields,
                ],
                client=pipe,
            )
        if wait_for:
            # After this process's writes, on the same connection: WAIT answers once
            # that many replicas have everything this connection wrote (the SET makes
            # sure there is a write even when every job already existed).
            pipe.set(keys.OUTBOX_REPLICATED, now.isoformat())
            pipe.execute_command("WAIT", wait_for, settings.REDIS_WAIT_TIMEOUT_MS)
        replies = pipe.execute()
    if wait_for:
        acknowledged, replies = replies[-1], replies[:-2]
        if acknowledged < wait_for:
            _replicas.forget()  # read the master's replicas again before the next send
            raise NotReplicated(
                f"jobs written to the master but confirmed by {acknowledged} of {wait_for} replicas "
                f"within {settings.REDIS_WAIT_TIMEOUT_MS} ms (WAIT); they stay in the outbox"
            )
    return sum(replies)


class NotReplicated(RedisError):
    """The jobs reached the master, but not the replicas asked for in time: their rows
    stay, and are sent again (creating nothing new) until a replica has them."""


class _Replicas:
    """How many replicas a send waits for: REDIS_WAIT_REPLICAS, or fewer when the master
    has fewer connected (a master left alone after a failover must not stall every
    commit for REDIS_WAIT_TIMEOUT_MS; that is logged). Read at most every few seconds."""

    READ_EVERY = 5.0  # seconds

    def __init__(self) -> None:
        self.connected: int | None = None
        self.read_at = -self.READ_EVERY

    def forget(self) -> None:
        self.read_at = -self.READ_EVERY

    def to_wait_for(self, connection: Redis) -> int:
        wanted = settings.REDIS_WAIT_REPLICAS
        if wanted <= 0:
            return 0
        if time.monotonic() - self.read_at >= self.READ_EVERY:
            try:
                connected = int(connection.info("replication").get("connected_slaves", 0))
            except ResponseError:  # INFO disabled (a managed Redis): wait as configured
                connected = wanted
            self.read_at = time.monotonic()
            if connected < wanted and connected != self.connected:
                logger.warning(
                    "outbox: Redis master has %s connected replicas, REDIS_WAIT_REPLICAS is %s: "
                    "jobs are confirmed by %s until replicas return",
                    connected,
                    wanted,
                    connected,
                )
            self.connected = connected
        return min(wanted, self.connected or 0)


_replicas = _Replicas()


class Relay:
    """run_scheduler's relay: one pass per scheduler turn (every SCHEDULER_POLL_INTERVAL
    seconds), whatever instance leads. Errors are logged once when they start, every 30 s
    while they last, and once when they end; never raised."""

    LOG_EVERY = 30.0

    def __init__(self) -> None:
        self._failing_since: float | None = None
        self._logged_at = 0.0

    def run_once(self) -> int:
        close_old_connections()
        try:
            sent = relay()
        except (RedisError, DatabaseError) as error:
            now = time.monotonic()
            if self._failing_since is None:
                self._failing_since = now
            if now - self._logged_at >= self.LOG_EVERY:
                self._logged_at = now
                logger.error(
                    "outbox relay: cannot send for %.0f s (%s: %s); trying again every turn",
                    now - self._failing_since,
                    type(error).__name__,
                    error,
                )
            return 0
        if self._failing_since is not None:
            logger.warning("outbox relay: sending again after %.1f s", time.monotonic() - self._failing_since)
            self._failing_since, self._logged_at = None, 0.0
        if sent:
            logger.info("outbox relay: sent %s jobs", sent)
        return sent
