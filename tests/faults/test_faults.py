"""Faults with real processes and real servers: each test states what must hold."""

import signal
import time

import pytest
from rq import Queue
from rq.job import Job
from rq.serializers import JSONSerializer

from orders.models import Order, OrderStatusHistory
from orders.tests.factories import OrderFactory
from tests.helpers import job_status, wait_until
from worker.queues import TaskCall, enqueue, enqueue_many, get_queue

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
ALL_QUEUES = ("critical", "high", "default", "low")


def test_sigterm_then_sigkill_mid_transaction_rolls_back_and_the_retry_applies_it_once(redis_conn, processes):
    order = OrderFactory()
    job_id = enqueue("test:confirm_slowly", str(order.id), 10, "test:attempt")
    worker = processes("rqworker", *ALL_QUEUES)
    processes("run_scheduler")
    wait_until(lambda: redis_conn.get("test:attempt") == b"1", timeout=20, what="the first attempt")
    time.sleep(0.5)
    worker.send(signal.SIGTERM)  # as a process manager does...
    time.sleep(2)
    worker.kill_group()  # ...then SIGKILL when its stop timeout is too short
    # The killed attempt's transaction rolled back: no confirmation, no history.
    assert Order.objects.get(pk=order.pk).status == "pending"
    assert OrderStatusHistory.objects.filter(order=order).count() == 0
    processes("rqworker", *ALL_QUEUES)
    wait_until(lambda: job_status(job_id) == "finished", timeout=120, what="the retry")
    assert Order.objects.get(pk=order.pk).status == "confirmed"
    assert list(OrderStatusHistory.objects.filter(order=order).values_list("note", flat=True)) == [
        "attempt 2"
    ]


def test_postgresql_stopped_during_a_run_every_effect_happens_once(redis_conn, processes, postgres_control):
    from django.db import connection

    orders = [OrderFactory() for _ in range(100)]
    connection.close()
    enqueue_many([TaskCall("order:update_status", (str(o.id), "confirmed", "run")) for o in orders])
    processes("rqworker", *ALL_QUEUES)
    processes("run_scheduler")
    wait_until(lambda: get_queue("default").count < 90, timeout=20, what="the run to start", interval=0.01)
    postgres_control.stop()
    time.sleep(2)
    postgres_control.start()
    queue = get_queue("default")
    wait_until(
        lambda: (
            queue.count == 0
            and queue.scheduled_job_registry.count == 0
            and queue.started_job_registry.count == 0
        ),
        timeout=60,
        what="the run to end",
    )
    # order:check_pending (no retries by design) may fail while the database is down;
    # no status update may.
    failed = [get_queue("default").fetch_job(j) for j in queue.failed_job_registry.get_job_ids()]
    assert [j.description for j in failed if j.description != "order:check_pending"] == []
    assert Order.objects.filter(status="confirmed").count() == 100
    assert OrderStatusHistory.objects.count() == 100


def test_a_new_job_runs_within_10_s_of_redis_coming_back_to_idle_workers(
    redis_conn, processes, redis_control
):
    processes("rqworker", *ALL_QUEUES)
    wait_until(lambda: get_queue("default").connection.smembers("rq:workers"), timeout=15, what="the worker")
    time.sleep(1)
    redis_control.restart(down_for=3)
    back = time.time()
    job_id = enqueue("test:stamp", "test:ran_at")
    ran_at = float(wait_until(lambda: redis_conn.lindex("test:ran_at", 0), timeout=15, what="the job"))
    assert ran_at - back < 10
    assert job_status(job_id) == "finished"


def test_redis_restarted_under_busy_workers_loses_and_doubles_nothing(redis_conn, processes, redis_control):
    orders = [OrderFactory() for _ in range(300)]
    enqueue_many([TaskCall("order:update_status", (str(o.id), "confirmed", "busy")) for o in orders])
    processes("rqworker", *ALL_QUEUES)
    processes("rqworker", *ALL_QUEUES)
    processes("run_scheduler")
    wait_until(lambda: OrderStatusHistory.objects.count() >= 30, timeout=30, what="the run", interval=0.01)
    redis_control.restart(down_for=1)
    wait_until(
        lambda: Order.objects.filter(status="confirmed").count() == 300, timeout=90, what="all confirmed"
    )
    assert OrderStatusHistory.objects.count() == 300


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (["not-a-uuid", "confirmed"], {}, "not a valid order id"),
        (["00000000-0000-4000-8000-000000000000", "confirmed"], {}, "no such order"),
        ([12345, "confirmed"], {}, "not a valid order id"),
        (["00000000-0000-4000-8000-000000000000"], {}, "missing a required argument: 'new_status'"),
        (
            [],
            {"order_id": "x", "new_status": "confirmed", "colour": "red"},
            "unexpected keyword argument 'colour'",
        ),
    ],
)
def test_malformed_arguments_fail_at_once_without_retries_or_writes(
    redis_conn, processes, args, kwargs, message
):
    OrderFactory()
    raw = Queue("default", connection=redis_conn, serializer=JSONSerializer)
    from rq import Retry

    job = raw.enqueue("orders.tasks.update_order_status", *args, **kwargs, retry=Retry(max=3, interval=1))
    processes("rqworker", *ALL_QUEUES)
    processes("run_scheduler")
    wait_until(lambda: job_status(job.id) == "failed", timeout=20, what="the failure")
    time.sleep(1.5)  # a retry, were there one, would be due
    assert job_status(job.id) == "failed"
    fetched = Job.fetch(job.id, connection=redis_conn, serializer=JSONSerializer)
    assert (
        message in fetched.latest_result().exc_string
        and "PermanentTaskError" in fetched.latest_result().exc_string
    )
    assert OrderStatusHistory.objects.count() == 0


def test_a_burst_of_10000_mixed_jobs_completes_once_and_redis_memory_returns(redis_conn, processes, settings):
    settings.RQ_RESULT_TTL = 5
    baseline = redis_conn.info("memory")["used_memory"]
    calls = [TaskCall(f"test:record_{q}") for q in ALL_QUEUES for _ in range(2_000)]
    calls += [TaskCall("cart:cleanup")] * 1_000 + [TaskCall("order:check_pending")] * 1_000
    enqueue_many(calls)
    processes("rqworker", *ALL_QUEUES)
    processes("rqworker", *ALL_QUEUES)
    wait_until(lambda: redis_conn.llen("test:record") == 8_000, timeout=180, what="the burst", interval=0.5)
    queues = [get_queue(name) for name in ALL_QUEUES]
    wait_until(
        lambda: all(q.count == 0 and q.started_job_registry.count == 0 for q in queues),
        timeout=60,
        what="empty queues",
    )
    assert sum(q.failed_job_registry.count for q in queues) == 0
    records = redis_conn.lrange("test:record", 0, -1)
    assert len({r.split(b":")[1] for r in records}) == 8_000  # each job ran once
    redis_conn.delete("test:record")
    time.sleep(6)  # past the result TTL
    # Expired job hashes go at once; the finished registries drop their ids on clean-up.
    for queue in queues:
        queue.finished_job_registry.cleanup()
    assert redis_conn.info("memory")["used_memory"] < baseline + 2_000_000


def test_a_job_past_its_timeout_leaves_no_partial_write_and_follows_its_retry_policy(redis_conn, processes):
    order = OrderFactory()
    job_id = enqueue("test:confirm_too_slowly", str(order.id))
    worker = processes("rqworker", *ALL_QUEUES)
    processes("run_scheduler")
    wait_until(lambda: job_status(job_id) == "failed", timeout=30, what="the retry, then the failure")
    assert worker.output().count(f"{job_id}: retry") == 1  # one retry (max_retries=1), then failed
    assert Order.objects.get(pk=order.pk).status == "pending"
    assert not OrderStatusHistory.objects.filter(order=order).exists()
