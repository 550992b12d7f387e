"""Retries, backoff and recovery after kill -9, with real worker and scheduler processes."""

import itertools
import os
import signal
import time

import pytest
from rq.job import JobStatus

from orders.models import Order, OrderStatusHistory
from orders.tests.factories import OrderFactory
from tests.helpers import job_status, run_marker_job, wait_until
from worker.queues import TaskCall, enqueue, enqueue_many, get_queue

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ALL_QUEUES = ("critical", "high", "default", "low")


def test_retries_back_off_1_2_4_seconds_then_fail(redis_conn, processes):
    job_id = enqueue("test:fail_always", "test:attempt_times")
    processes("rqworker", *ALL_QUEUES)
    processes("run_scheduler")
    wait_until(lambda: job_status(job_id) == JobStatus.FAILED, timeout=40, what="the last retry")
    times = [float(t) for t in redis_conn.lrange("test:attempt_times", 0, -1)]
    assert len(times) == 4  # the first attempt and 3 retries
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    # Each retry waits its backoff, moved by the scheduler within about a second after.
    for gap, backoff in zip(gaps, (1, 2, 4), strict=True):
        assert backoff <= gap < backoff + 2.0, gaps


def test_kill_9_of_worker_and_child_mid_run_confirms_each_order_exactly_once(redis_conn, processes):
    orders = [OrderFactory() for _ in range(150)]
    enqueue_many([TaskCall("order:update_status", (str(order.id), "confirmed", "bulk")) for order in orders])
    first = processes("rqworker", *ALL_QUEUES)
    processes("run_scheduler")
    wait_until(
        lambda: OrderStatusHistory.objects.count() >= 20,
        timeout=30,
        what="the first status updates",
        interval=0.01,
    )
    first.kill_group()  # kill -9 of the supervising process and the worker process
    done_at_kill = OrderStatusHistory.objects.count()
    second = processes("rqworker", *ALL_QUEUES)
    try:
        wait_until(
            lambda: Order.objects.filter(status="confirmed").count() == 150,
            timeout=60,
            what="every order confirmed",
        )
    except AssertionError:
        queue = get_queue("default")
        state = {
            "confirmed": Order.objects.filter(status="confirmed").count(),
            "queued": queue.count,
            "intermediate": redis_conn.lrange(queue.intermediate_queue_key, 0, -1),
            "started": queue.started_job_registry.get_job_ids(),
            "scheduled": queue.scheduled_job_registry.get_job_ids(),
            "failed": queue.failed_job_registry.get_job_ids(),
        }
        raise AssertionError(f"{state} {first.output()[-2000:]} {second.output()[-2000:]}") from None
    queue = get_queue("default")
    wait_until(
        lambda: queue.count == 0 and queue.started_job_registry.count == 0, timeout=30, what="idle queues"
    )
    assert done_at_kill < 150
    assert OrderStatusHistory.objects.count() == 150
    assert set(OrderStatusHistory.objects.values_list("new_status", flat=True)) == {"confirmed"}
    assert queue.failed_job_registry.count == 0


def test_with_production_timings_a_job_killed_mid_run_is_retried_within_2_minutes(redis_conn, processes):
    production = {
        "WORKER_HEARTBEAT_INTERVAL": "5",
        "WORKER_HEARTBEAT_GRACE": "25",
        "WORKER_MAINTENANCE_INTERVAL": "30",
    }
    job_id = enqueue("test:slow_work", 30, "test:starts")
    doomed = processes("rqworker", *ALL_QUEUES, **production)
    wait_until(lambda: redis_conn.llen("test:starts") == 1, timeout=20, what="the job to start")
    doomed.kill_group()
    killed_at = time.time()
    processes("rqworker", *ALL_QUEUES, **production)
    processes("run_scheduler")
    wait_until(lambda: redis_conn.llen("test:starts") == 2, timeout=150, what="the retry", interval=1)
    retried_after = float(redis_conn.lindex("test:starts", 1)) - killed_at
    assert retried_after < 120, f"retried {retried_after:.0f} s after kill -9"
    wait_until(
        lambda: job_status(job_id) == JobStatus.FINISHED, timeout=60, what="the retried job", interval=1
    )


def test_kill_9_of_the_supervisor_alone_leaves_the_job_to_finish_once(redis_conn, processes, child_env):
    job_id = enqueue("test:sleep", 4, "test:slept")
    worker = processes("rqworker", *ALL_QUEUES)
    wait_until(lambda: job_status(job_id) == JobStatus.STARTED, timeout=20, what="the job to start")
    os.kill(worker.pid, signal.SIGKILL)  # the parent only: its child keeps the job
    other = processes("rqworker", *ALL_QUEUES)
    processes("run_scheduler")  # moves the marker job below
    wait_until(lambda: job_status(job_id) == JobStatus.FINISHED, timeout=30, what="the job to finish")
    # The other worker would take a job wrongly thought abandoned (or left in the
    # intermediate list) within a heartbeat interval, its grace and a maintenance
    # interval; a marker due that much later runs after such a copy, on the one worker.
    window = sum(
        int(child_env[knob])
        for knob in ("WORKER_HEARTBEAT_INTERVAL", "WORKER_HEARTBEAT_GRACE", "WORKER_MAINTENANCE_INTERVAL")
    )
    run_marker_job(delay=window)
    assert redis_conn.get("test:slept") == b"1"
    assert job_status(job_id) == JobStatus.FINISHED
    assert get_queue("default").failed_job_registry.count == 0
    assert other.alive()
