"""Faults with real processes and real servers: each test states what must hold."""

import signal
import time

import pytest
from rq import Queue
from rq.job import Job
from rq.serializers import JSONSerializer

from orders.models import Order, OrderStatusHistory
from orders.tests.factories import OrderFactory
from tests.helpers import job_status, registered_workers, run_marker_job, wait_for_workers, wait_until
from worker.queues import TaskCall, enqueue, enqueue_many, get_queue

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
ALL_QUEUES = ("critical", "high", "default", "low")


def open_transactions_after_history_insert() -> int:
    """Other sessions of the test database waiting inside a transaction that has written
    (it has a transaction id) to the status history table (it holds the table's write
    lock, taken by INSERT, until it ends)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT count(DISTINCT activity.pid)
            FROM pg_stat_activity activity JOIN pg_locks lock ON lock.pid = activity.pid
            WHERE activity.datname = current_database() AND activity.pid <> pg_backend_pid()
              AND activity.state = 'idle in transaction' AND activity.backend_xid IS NOT NULL
              AND lock.relation = 'orders_orderstatushistory'::regclass
              AND lock.mode = 'RowExclusiveLock' AND lock.granted
            """
        )
        return cursor.fetchone()[0]


def shutdown_requested(job_id: str) -> bool:
    """True once the worker process running ``job_id`` has taken a warm stop request:
    rq writes the date of the request into its worker's hash."""
    return any(
        worker.get_current_job_id() == job_id and worker.shutdown_requested_date is not None
        for worker in registered_workers()
    )


def test_sigterm_then_sigkill_mid_transaction_rolls_back_and_the_retry_applies_it_once(redis_conn, processes):
    order = OrderFactory()
    job_id = enqueue("test:confirm_slowly", str(order.id), 10, "test:attempt")
    worker = processes("rqworker", *ALL_QUEUES)
    processes("run_scheduler")
    wait_until(lambda: redis_conn.get("test:attempt") == b"1", timeout=20, what="the first attempt")
    # The job has written the status and its history row, and holds the transaction open.
    wait_until(open_transactions_after_history_insert, timeout=20, what="the first attempt's writes")
    worker.send(signal.SIGTERM)  # as a process manager does...
    wait_until(lambda: shutdown_requested(job_id), timeout=20, what="the worker to take the SIGTERM")
    # A warm stop lets the job run on: it is still mid-transaction when SIGKILL comes.
    assert job_status(job_id) == "started"
    assert open_transactions_after_history_insert() == 1
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
    queue = get_queue("default")
    wait_until(lambda: queue.count < 90, timeout=20, what="the run to start", interval=0.01)
    scheduled = queue.scheduled_job_registry.key
    postgres_control.stop()
    # The database stays down until the run has met it: a status update put back for a
    # retry (the first one due, the earliest in the scheduled registry)...
    ((met_id, due),) = wait_until(
        lambda: redis_conn.zrange(scheduled, 0, 0, withscores=True),
        timeout=20,
        what="a job to meet the stopped database",
        interval=0.01,
    )
    # ...and until that retry has come due and run_scheduler has moved it on, the
    # database still down.
    wait_until(
        lambda: redis_conn.zscore(scheduled, met_id) != due,
        timeout=20,
        what="the first retry to come due during the outage",
        interval=0.05,
    )
    postgres_control.start()
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


def test_a_new_job_runs_within_5_s_of_redis_coming_back_to_idle_workers(redis_conn, processes, redis_control):
    processes("rqworker", *ALL_QUEUES)
    wait_for_workers(1, idle=True, timeout=15)  # polling the queues, with nothing to do
    redis_control.restart(down_for=3)
    back = time.time()
    job_id = enqueue("test:stamp", "test:ran_at")
    ran_at = float(wait_until(lambda: redis_conn.lindex("test:ran_at", 0), timeout=15, what="the job"))
    assert ran_at - back < 5  # the worker looks again every 2 s at most while Redis is away
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
    # A marker due after the first retry (1 s) would have been: once it has run on this
    # one worker, so would have a retry.
    run_marker_job(delay=2)
    assert job_status(job.id) == "failed"
    fetched = Job.fetch(job.id, connection=redis_conn, serializer=JSONSerializer)
    # One execution: rq records a result for every attempt, a retried one included. (A
    # job that used up its retries would be "failed" too, so the status cannot tell.)
    assert len(fetched.results()) == 1
    # Failed for good at once: a permanent error (the task's throws, or arguments that do
    # not fit), never a retried TypeError.
    assert message in fetched.latest_result().exc_string
    assert "TypeError" not in fetched.latest_result().exc_string.splitlines()[-1]
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
    # Past the result TTL, Redis expires every job hash and result; the finished
    # registries drop their ids on clean-up.
    wait_until(
        lambda: (
            not any(redis_conn.scan_iter("rq:job:*", count=1000))
            and not any(redis_conn.scan_iter("rq:results:*", count=1000))
        ),
        timeout=60,
        what="the jobs and results to expire",
        interval=0.5,
    )
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
