"""run_scheduler: fires the schedule and moves due delayed jobs onto their queues.

Any number of instances may run. A Redis lock with a short TTL, renewed by its holder,
makes one of them the leader; only the leader fires and moves jobs. Each fire has a
deterministic job id from its entry and tick, enqueued as unique, so a tick is enqueued
once even if two leaders ever overlapped. The last fire of each entry is kept in Redis:
after downtime, frequent entries fire once and the daily statistics once per missed day.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from croniter import croniter
from django.conf import settings
from django.utils import timezone
from redis import Redis
from redis.exceptions import LockError, RedisError
from redis.lock import Lock
from rq.utils import utcformat

from worker import keys, outbox, wake
from worker.queues import enqueue_once, redis_address
from worker.registry import QUEUE_NAMES
from worker.schedule import CatchUp, Entry

logger = logging.getLogger("worker.scheduler")

LOCK_KEY = keys.SCHEDULER_LOCK
LAST_FIRE_KEY = keys.SCHEDULER_LAST_FIRE
HEARTBEAT_KEY = keys.SCHEDULER_HEARTBEAT
INSTANCE_KEY = keys.SCHEDULER_INSTANCE
CRON_LOOKBACK = dt.timedelta(days=32)  # bounds the walk over ticks missed during downtime
MOVE_BATCH = 1000
MAX_BACKOFF = 2.0  # seconds between two tries while Redis is away: back within 2 s of it

# Moves due job ids from a scheduled registry onto the queue, each only if this call
# removed it from the registry: two movers can never enqueue one job twice.
_MOVE_DUE = (
    wake.LUA_PUSH
    + """
local moved = 0
for i = 3, #ARGV do
    local job_id = ARGV[i]
    if redis.call('ZREM', KEYS[1], job_id) == 1 then
        local job_key = ARGV[2] .. job_id
        if redis.call('EXISTS', job_key) == 1 then
            redis.call('HSET', job_key, 'status', 'queued', 'enqueued_at', ARGV[1])
            redis.call('RPUSH', KEYS[2], job_id)
            moved = moved + 1
        end
    end
end
wake(KEYS[3], moved)
return moved
"""
)


@dataclass(frozen=True)
class Fire:
    entry: Entry
    tick: dt.datetime
    job_id: str
    enqueued: bool


def due_ticks(entry: Entry, last: dt.datetime | None, now: dt.datetime) -> list[dt.datetime]:
    """The ticks of ``entry`` in (last, now] to fire now, per its catch-up policy.

    A first start (no tick ever fired) counts as a downtime since CRON_LOOKBACK ago: the
    latest past tick fires (the hourly low-stock check runs at once, not an hour later),
    and an entry that catches up each tick fires its last ``max_catch_up`` (the daily
    statistics of the last STATS_CATCH_UP_DAYS days)."""
    if entry.every is not None:
        latest = dt.datetime.fromtimestamp(now.timestamp() // entry.every * entry.every, tz=dt.UTC)
        return [latest] if last is None or latest > last else []
    local_now = timezone.localtime(now)
    start = timezone.localtime(now - CRON_LOOKBACK if last is None else max(last, now - CRON_LOOKBACK))
    ticks = []
    for tick in croniter(entry.cron, start, ret_type=dt.datetime):
        if tick > local_now:
            break
        ticks.append(tick)
    keep = 1 if entry.catch_up is CatchUp.LATEST else entry.max_catch_up
    return ticks[-keep:] if ticks and keep > 0 else []  # STATS_CATCH_UP_DAYS=0: no catch-up


def next_tick(entry: Entry, after: dt.datetime) -> dt.datetime:
    if entry.every is not None:
        return dt.datetime.fromtimestamp((after.timestamp() // entry.every + 1) * entry.every, tz=dt.UTC)
    return croniter(entry.cron, timezone.localtime(after), ret_type=dt.datetime).get_next()


class Scheduler:
    def __init__(
        self,
        connection: Redis,
        entries: list[Entry],
        *,
        clock: Callable[[], dt.datetime] = timezone.now,
        lock_ttl: int | None = None,
        name: str | None = None,
    ):
        self.connection = connection
        self.entries = entries
        self.clock = clock
        self.lock_ttl = lock_ttl or settings.SCHEDULER_LOCK_TTL
        self.name = name or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self._lock = Lock(connection, LOCK_KEY, timeout=self.lock_ttl, blocking=False, thread_local=False)
        self._move_due = connection.register_script(_MOVE_DUE)
        self.is_leader = False

    # --- leadership ----------------------------------------------------------------------

    def _lead(self) -> bool:
        """Renews the lock if held, else tries to take it. True when this instance leads."""
        try:
            if self.is_leader:
                self._lock.reacquire()
            elif self._lock.acquire(blocking=False):
                logger.info("scheduler %s: leading (lock %s, ttl %s s)", self.name, LOCK_KEY, self.lock_ttl)
                self.is_leader = True
        except LockError:
            logger.warning("scheduler %s: lost the lock; standing by", self.name)
            self.is_leader = False
        return self.is_leader

    def release(self) -> None:
        if self.is_leader:
            with contextlib.suppress(LockError, RedisError):
                self._lock.release()
            self.is_leader = False
        with contextlib.suppress(RedisError):
            self.connection.delete(INSTANCE_KEY.format(self.name))

    def _heartbeat(self, now: dt.datetime) -> None:
        with self.connection.pipeline() as pipe:
            pipe.set(INSTANCE_KEY.format(self.name), now.timestamp(), ex=max(self.lock_ttl * 2, 30))
            if self.is_leader:
                pipe.hset(HEARTBEAT_KEY, mapping={"at": now.timestamp(), "leader": self.name})
            pipe.execute()

    # --- firing --------------------------------------------------------------------------

    def last_fires(self) -> dict[str, dt.datetime]:
        raw = self.connection.hgetall(LAST_FIRE_KEY)
        return {
            key.decode(): dt.datetime.fromtimestamp(float(value), tz=dt.UTC) for key, value in raw.items()
        }

    def fire_due(self, now: dt.datetime) -> list[Fire]:
        last = self.last_fires()
        fires = []
        for entry in self.entries:
            entry_last = last.get(entry.key)
            ticks = due_ticks(entry, entry_last, now)
            if entry_last is None and not ticks:
                # First start: remember now, so a later downtime is caught up from here.
                self.connection.hset(LAST_FIRE_KEY, entry.key, now.timestamp())
            for tick in ticks:
                job_id = entry.job_id(tick)
                enqueued = enqueue_once(entry.task, job_id=job_id, **entry.arguments(tick))
                self.connection.hset(LAST_FIRE_KEY, entry.key, tick.timestamp())
                delay_ms = (self.clock() - tick).total_seconds() * 1000
                # An interval entry fires every few seconds: its fires are at DEBUG (the
                # job's own line says it ran); cron fires, hourly or rarer, at INFO.
                logger.log(
                    logging.DEBUG if entry.every is not None else logging.INFO,
                    "fired %s tick %s job %s%s (%.0f ms after the tick)",
                    entry.key,
                    timezone.localtime(tick).isoformat(timespec="seconds"),
                    job_id,
                    "" if enqueued else " (already enqueued)",
                    delay_ms,
                    extra={
                        "entry": entry.key,
                        "tick": tick.isoformat(),
                        "job_id": job_id,
                        "delay_ms": delay_ms,
                    },
                )
                fires.append(Fire(entry, tick, job_id, enqueued))
        return fires

    def move_due_jobs(self, now: dt.datetime) -> int:
        """Moves delayed jobs (enqueue_in/at, retry backoff) that are due onto their queues.
        rq scores them in whole seconds, rounded down: a job is due once its second has
        passed, so it never runs before the time it asked for."""
        cutoff = int(now.timestamp()) - 1
        moved = 0
        for name in QUEUE_NAMES:
            registry_key = keys.RQ_SCHEDULED.format(name)
            while True:
                ids = self.connection.zrangebyscore(registry_key, 0, cutoff, start=0, num=MOVE_BATCH)
                if not ids:
                    break
                queue_key = keys.RQ_QUEUE.format(name)
                moved += self._move_due(
                    keys=[registry_key, queue_key, keys.WAKE], args=[utcformat(now), keys.RQ_JOB_PREFIX, *ids]
                )
                if len(ids) < MOVE_BATCH:
                    break
        return moved

    def run_once(self, now: dt.datetime | None = None) -> list[Fire]:
        """One turn of the loop: lead or stand by, heartbeat, fire, move delayed jobs."""
        now = now or self.clock()
        fires = []
        if self._lead():
            fires = self.fire_due(now)
            self.move_due_jobs(now)
        self._heartbeat(now)
        return fires

    def seconds_to_next_turn(self, now: dt.datetime) -> float:
        if not self.is_leader:
            return 1.0
        soonest = min(next_tick(entry, now) for entry in self.entries)
        return max(0.0, min((soonest - now).total_seconds(), settings.SCHEDULER_POLL_INTERVAL))

    def run(self, should_stop: Callable[[], bool]) -> None:
        logger.info("scheduler %s: started with %s entries", self.name, len(self.entries))
        backoff = 0.5
        relay = outbox.Relay()
        try:
            while not should_stop():
                try:
                    self.run_once()
                    backoff = 0.5
                except RedisError as error:
                    if backoff == 0.5:  # one line when Redis goes away, not one a turn
                        logger.error(
                            "scheduler %s: Redis at %s unavailable (%s); retrying every %.0f s or less",
                            self.name,
                            redis_address(self.connection),
                            error,
                            MAX_BACKOFF,
                        )
                    self.is_leader = False
                    _sleep_unless(should_stop, backoff)
                    backoff = min(backoff * 2, MAX_BACKOFF)
                    continue
                relay.run_once()
                _sleep_unless(should_stop, self.seconds_to_next_turn(self.clock()))
        finally:
            self.release()
            logger.info("scheduler %s: stopped", self.name)


def _sleep_unless(should_stop: Callable[[], bool], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not should_stop():
        left = deadline - time.monotonic()
        if left <= 0:
            return
        time.sleep(min(left, 0.1))
