"""The worker's in-process tally of job metrics (worker/counters.py): the same fields as
one-by-one counting, sent in one pipeline, kept across a Redis error, exact under
threads."""

import threading

import pytest
import redis

from tests.helpers import free_port
from worker.counters import Tally, count_processed
from worker.keys import METRICS_DURATION, METRICS_PROCESSED


def snapshot(redis_conn) -> dict:
    return {key.decode(): redis_conn.hgetall(key) for key in [*redis_conn.keys("bookstore:metrics:*")]}


OUTCOMES = [
    ("cart:cleanup", "success", 0.003),
    ("cart:cleanup", "success", 0.2),
    ("stats:daily", "failed", 42.0),
]


def test_a_flush_writes_what_counting_each_job_would_have(redis_conn):
    with redis_conn.pipeline() as pipe:
        for task, status, seconds in OUTCOMES:
            count_processed(pipe, task, status, seconds)
        pipe.execute()
    one_by_one = snapshot(redis_conn)
    redis_conn.flushdb()
    tally = Tally()
    for task, status, seconds in OUTCOMES:
        tally.add(task, status, seconds)
    assert tally.pending and not redis_conn.exists(METRICS_PROCESSED)  # nothing sent yet
    tally.flush(redis_conn)
    assert not tally.pending
    tallied = snapshot(redis_conn)
    sums = {key: float(fields.pop(b"sum")) for key, fields in tallied.items() if b"sum" in fields}
    expected_sums = {key: float(fields.pop(b"sum")) for key, fields in one_by_one.items() if b"sum" in fields}
    assert tallied == one_by_one
    assert sums == pytest.approx(expected_sums)


def test_counts_survive_a_failed_flush_and_go_out_once(redis_conn):
    tally = Tally()
    tally.add("cart:cleanup", "success", 0.01)
    away = redis.Redis(port=free_port(), socket_connect_timeout=0.5)
    with pytest.raises(redis.ConnectionError):
        tally.flush(away)
    assert tally.pending
    tally.add("cart:cleanup", "success", 0.01)
    tally.flush(redis_conn)
    tally.flush(redis_conn)  # nothing left: sends nothing
    assert redis_conn.hget(METRICS_PROCESSED, "cart:cleanup|success") == b"2"
    assert redis_conn.hget(METRICS_DURATION.format("cart:cleanup"), "0.01") == b"2"


def test_due_after_the_flush_interval_and_only_with_something_to_send(redis_conn):
    tally = Tally()
    tally.FLUSH_EVERY = 0.0
    assert not tally.due()
    tally.add("cart:cleanup", "success")
    assert tally.due()


def test_threads_adding_at_once_are_counted_exactly(redis_conn):
    tally = Tally()

    def work():
        for _ in range(2000):
            tally.add("cart:cleanup", "success", 0.001)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    tally.flush(redis_conn)
    assert redis_conn.hget(METRICS_PROCESSED, "cart:cleanup|success") == b"8000"
