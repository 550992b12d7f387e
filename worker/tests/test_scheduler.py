import datetime as dt
import re
from collections import Counter

import pytest
from django.utils import timezone
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer

from worker.queues import enqueue, get_queue
from worker.schedule import get_schedule
from worker.scheduler import LAST_FIRE_KEY, Scheduler, due_ticks

UTC = dt.UTC


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def scheduler(redis_conn, **kwargs) -> Scheduler:
    return Scheduler(redis_conn, get_schedule(), **kwargs)


def fired_tasks(fires) -> Counter:
    return Counter(fire.entry.task for fire in fires)


def test_daily_stats_at_01_00_local_is_18_00_utc_the_day_before_and_is_for_yesterday(redis_conn, settings):
    settings.STATS_REFRESH_DAYS = 14
    sched = scheduler(redis_conn)
    redis_conn.hset(LAST_FIRE_KEY, "stats-daily", at("2026-11-23T17:00:00+00:00").timestamp())
    fires = [f for f in sched.run_once(at("2026-11-23T18:00:00.200+00:00")) if f.entry.key == "stats-daily"]
    assert len(fires) == 1
    assert fires[0].tick == at("2026-11-24T01:00:00+07:00") == at("2026-11-23T18:00:00+00:00")
    assert fires[0].job_id == "sched-stats-daily-20261124T0100"
    job = Job.fetch(fires[0].job_id, connection=redis_conn, serializer=JSONSerializer)
    assert job.kwargs == {"date": "2026-11-23", "refresh_days": 14}
    assert job.func_name == "stats.tasks.generate_daily_stats" and job.origin == "low"


def test_after_two_missed_days_stats_run_per_day_and_frequent_entries_once(redis_conn):
    down_at = at("2026-11-20T12:00:00+07:00")
    for entry in get_schedule():
        redis_conn.hset(LAST_FIRE_KEY, entry.key, down_at.timestamp())
    fires = scheduler(redis_conn).run_once(at("2026-11-22T12:00:03+07:00"))
    assert fired_tasks(fires) == {
        "stats:daily": 2,
        "cart:cleanup": 1,
        "inventory:check_low_stock": 1,
        "order:check_pending": 1,
    }
    stats = sorted(f.job_id for f in fires if f.entry.task == "stats:daily")
    assert stats == ["sched-stats-daily-20261121T0100", "sched-stats-daily-20261122T0100"]
    assert {f.job_id for f in fires if f.entry.task == "cart:cleanup"} == {"sched-cart-cleanup-20261122T1200"}
    dates = sorted(
        Job.fetch(job_id, connection=redis_conn, serializer=JSONSerializer).kwargs["date"] for job_id in stats
    )
    assert dates == ["2026-11-20", "2026-11-21"]


def test_stats_catch_up_stops_at_stats_catch_up_days(redis_conn, settings):
    settings.STATS_CATCH_UP_DAYS = 3
    redis_conn.hset(LAST_FIRE_KEY, "stats-daily", at("2026-10-01T12:00:00+07:00").timestamp())
    fires = scheduler(redis_conn).run_once(at("2026-11-22T12:00:00+07:00"))
    assert sorted(f.job_id for f in fires if f.entry.key == "stats-daily") == [
        "sched-stats-daily-20261120T0100",
        "sched-stats-daily-20261121T0100",
        "sched-stats-daily-20261122T0100",
    ]


def test_a_first_start_fires_the_latest_past_ticks_and_catches_up_the_statistics(redis_conn, settings):
    settings.STATS_CATCH_UP_DAYS = 7
    sched = scheduler(redis_conn)
    fires = sched.run_once(at("2026-11-22T12:20:03+07:00"))
    assert fired_tasks(fires) == {
        "order:check_pending": 1,
        "cart:cleanup": 1,  # the 12:20 tick
        "inventory:check_low_stock": 1,  # the 12:00 tick: at start, not at 13:00
        "stats:daily": 7,  # 2026-11-15 .. 2026-11-21
    }
    stats_days = sorted(
        Job.fetch(f.job_id, connection=redis_conn, serializer=JSONSerializer).kwargs["date"]
        for f in fires
        if f.entry.key == "stats-daily"
    )
    assert stats_days == [f"2026-11-{day}" for day in range(15, 22)]
    # Then each entry goes on from its own last tick: nothing again before the next one.
    assert fired_tasks(sched.run_once(at("2026-11-22T12:25:00+07:00"))) == {"order:check_pending": 1}
    fires = sched.run_once(at("2026-11-22T13:00:00.5+07:00"))
    assert {"inventory:check_low_stock", "cart:cleanup"} <= set(fired_tasks(fires))


def test_a_tick_is_enqueued_once_even_if_fired_again(redis_conn):
    sched = scheduler(redis_conn)
    first = sched.run_once(at("2026-11-22T12:00:00+07:00"))
    counts = {name: get_queue(name).count for name in ("default", "low")}
    redis_conn.delete(LAST_FIRE_KEY)  # as if the record were lost: the unique ids still hold
    again = sched.run_once(at("2026-11-22T12:00:04+07:00"))
    assert sorted(f.job_id for f in again) == sorted(f.job_id for f in first)
    assert not any(f.enqueued for f in again)
    assert {name: get_queue(name).count for name in ("default", "low")} == counts


def test_only_the_lock_holder_fires_and_a_standby_takes_over_on_release(redis_conn):
    leader, standby = scheduler(redis_conn, name="a"), scheduler(redis_conn, name="b")
    assert leader.run_once(at("2026-11-22T12:00:00+07:00"))
    assert standby.run_once(at("2026-11-22T12:00:05+07:00")) == []
    assert not standby.is_leader
    leader.release()
    assert standby.run_once(at("2026-11-22T12:00:05+07:00"))
    assert standby.is_leader


def test_job_ids_use_only_letters_digits_dash_and_underscore(redis_conn):
    now = at("2026-11-24T01:00:00+07:00")
    for entry in get_schedule():
        assert re.fullmatch(r"[A-Za-z0-9_-]+", entry.job_id(now)), entry.job_id(now)


def test_due_delayed_jobs_are_moved_not_before_their_time(redis_conn):
    job_id = enqueue("cart:cleanup", delay=5)
    sched = scheduler(redis_conn)
    now = timezone.now()
    assert sched.move_due_jobs(now + dt.timedelta(seconds=4)) == 0
    assert sched.move_due_jobs(now + dt.timedelta(seconds=6.1)) == 1
    job = Job.fetch(job_id, connection=redis_conn, serializer=JSONSerializer)
    assert job.get_status() == JobStatus.QUEUED
    assert get_queue("low").get_job_ids() == [job_id]
    assert sched.move_due_jobs(now + dt.timedelta(seconds=7)) == 0  # moved once


@pytest.mark.parametrize(
    ("last", "now", "expected"),
    [
        (None, "2026-11-22T12:00:07+07:00", ["2026-11-22T12:00:05+07:00"]),
        ("2026-11-22T12:00:05+07:00", "2026-11-22T12:00:09.9+07:00", []),
        ("2026-11-22T12:00:05+07:00", "2026-11-22T12:03:00+07:00", ["2026-11-22T12:03:00+07:00"]),
    ],
)
def test_interval_ticks_are_aligned_and_fire_once(last, now, expected):
    entry = next(e for e in get_schedule() if e.every)
    ticks = due_ticks(entry, at(last) if last else None, at(now))
    assert ticks == [at(t) for t in expected]


def test_no_catch_up_with_stats_catch_up_days_zero(redis_conn, settings):
    settings.STATS_CATCH_UP_DAYS = 0
    fires = scheduler(redis_conn).run_once(at("2026-11-22T12:20:03+07:00"))
    assert "stats:daily" not in fired_tasks(fires)
