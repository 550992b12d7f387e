"""run_scheduler as operators run it: several instances, signals, kill -9."""

import datetime as dt
import itertools
import re
import signal
import time

import pytest

from tests.helpers import wait_for_workers, wait_until
from worker.queues import enqueue, get_queue
from worker.scheduler import HEARTBEAT_KEY, INSTANCE_KEY, LOCK_KEY

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

FIRE = re.compile(r"fired (\S+) tick (\S+) job (\S+)")


def fires(*processes) -> list[tuple[str, str, str]]:
    return [m.groups() for p in processes for m in FIRE.finditer(p.output())]


def instances(redis_conn) -> list[bytes]:
    """The scheduler instances up now: each refreshes its key on every turn of its loop,
    leading or standing by."""
    return redis_conn.keys(INSTANCE_KEY.format("*"))


def test_two_schedulers_enqueue_each_5_s_tick_once(redis_conn, processes):
    first = processes("run_scheduler", PENDING_ORDER_CHECK_INTERVAL="5", LOG_LEVEL="DEBUG")
    second = processes("run_scheduler", PENDING_ORDER_CHECK_INTERVAL="5", LOG_LEVEL="DEBUG")
    wait_until(lambda: len(instances(redis_conn)) == 2, timeout=20, what="both schedulers running")

    def pending():
        return [f for f in fires(first, second) if f[0] == "order-check-pending"]

    # Three fires span two 5 s intervals with both instances up.
    wait_until(lambda: len(pending()) >= 3, timeout=30, what="three fires of the 5 s entry")
    assert first.alive() and second.alive()
    for process in (first, second):
        process.send(signal.SIGTERM)
        assert process.wait(timeout=5) == 0
    job_ids = [job_id for _, _, job_id in pending()]
    assert len(set(job_ids)) == len(job_ids), "a tick was fired twice"
    # Exactly one process fired: the leader.
    assert sum(1 for p in (first, second) if "fired" in p.output()) == 1
    queued = [j for j in get_queue("default").get_job_ids() if j.startswith("sched-order-check-pending-")]
    assert sorted(queued) == sorted(job_ids)
    # Every tick on a 5 s boundary, each one 5 s after the one before: none skipped,
    # none extra.
    ticks = sorted(dt.datetime.fromisoformat(tick) for _, tick, _ in pending())
    assert all(tick.timestamp() % 5 == 0 for tick in ticks), ticks
    assert [(later - earlier).total_seconds() for earlier, later in itertools.pairwise(ticks)] == [5.0] * (
        len(ticks) - 1
    ), ticks


def test_when_the_leader_is_killed_the_standby_takes_over_within_30_s(redis_conn, processes):
    # The 5 s entry's fires are logged at DEBUG.
    first = processes("run_scheduler", PENDING_ORDER_CHECK_INTERVAL="5", LOG_LEVEL="DEBUG")
    wait_until(lambda: "leading" in first.output(), timeout=10, what="a leader")
    # The leader writes the heartbeat at the end of its turn, after the log line.
    leader = wait_until(lambda: redis_conn.hget(HEARTBEAT_KEY, "leader"), timeout=10, what="its heartbeat")
    second = processes("run_scheduler", PENDING_ORDER_CHECK_INTERVAL="5", LOG_LEVEL="DEBUG")
    # The standby's key shows it has run a turn: tried the lock, and stood by.
    wait_until(lambda: len(instances(redis_conn)) == 2, timeout=20, what="the standby's first turn")
    assert "leading" not in second.output()
    assert redis_conn.hget(HEARTBEAT_KEY, "leader") == leader
    first.kill_group()
    killed_at = time.monotonic()
    wait_until(lambda: "fired" in second.output(), timeout=35, what="the standby's first fire")
    assert time.monotonic() - killed_at < 30
    ticks = [tick for entry, tick, _ in fires(first, second) if entry == "order-check-pending"]
    assert len(set(ticks)) == len(ticks)


def test_a_job_enqueued_5_s_ahead_runs_5_to_7_s_later(redis_conn, processes):
    processes("rqworker", "critical", "high", "default", "low")
    processes("run_scheduler")
    wait_for_workers(1, idle=True)
    wait_until(lambda: redis_conn.hget(HEARTBEAT_KEY, "leader"), timeout=20, what="a leading scheduler")
    enqueued_at = time.time()
    enqueue("test:stamp", "test:ran_at", delay=5)
    ran_at = float(
        wait_until(lambda: redis_conn.lindex("test:ran_at", 0), timeout=15, what="the delayed job")
    )
    assert 5 <= ran_at - enqueued_at <= 7, ran_at - enqueued_at


def test_sigterm_releases_the_lock_and_exits_0_within_2_s(redis_conn, processes):
    scheduler = processes("run_scheduler")
    wait_until(lambda: "leading" in scheduler.output(), timeout=10, what="leadership")
    assert redis_conn.exists(LOCK_KEY)
    scheduler.send(signal.SIGTERM)
    started = time.monotonic()
    assert scheduler.wait(timeout=5) == 0
    assert time.monotonic() - started < 2
    assert not redis_conn.exists(LOCK_KEY)
