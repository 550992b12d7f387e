"""The task policy and the abandoned-job handling, driven in-process on the real Redis."""

import logging

import pytest
from django.db import OperationalError
from rq.job import JobStatus
from rq.utils import now

from orders import tasks as order_tasks
from worker import policy
from worker.keys import METRICS_PROCESSED
from worker.queues import get_queue
from worker.recovery import Recovery
from worker.registry import registry

pytestmark = pytest.mark.django_db


def abandon(redis_conn, job, worker_name="dead-worker-1"):
    """What a worker killed mid-job leaves: the job started, its heartbeat lapsed."""
    queue = get_queue(job.origin)
    redis_conn.lrem(queue.key, 0, job.id)
    job.worker_name = worker_name
    job.started_at = now()
    job.set_status(JobStatus.STARTED)
    job.save()
    redis_conn.zadd(queue.started_job_registry.key, {f"{job.id}:execution-1": 1})


def test_a_job_enqueued_without_policy_gets_the_task_s_retries_backoff_and_timeout(redis_conn):
    job = get_queue("default").enqueue(order_tasks.update_order_status, "x", "confirmed")
    assert (job.retries_left, job.timeout) == (None, 300)  # RQ_QUEUES' DEFAULT_TIMEOUT
    policy.apply(job, registry.get("order:update_status"))
    assert (job.retries_left, job.retry_intervals, job.timeout) == (3, [1, 2, 4], 30)


def test_a_generous_retry_is_cut_to_the_task_s_and_a_job_mid_retries_keeps_its_count(redis_conn):
    task = registry.get("order:update_status")
    job = get_queue("default").enqueue(order_tasks.update_order_status, "x", "confirmed")
    job.started_at, job.retries_left = now(), 10
    policy.apply(job, task)
    assert job.retries_left == 3
    job.retries_left = 1
    policy.apply(job, task)
    assert job.retries_left == 1


def test_a_requeued_job_gets_the_whole_allowance_again(redis_conn):
    job = get_queue("default").enqueue(order_tasks.update_order_status, "x", "confirmed")
    job.retries_left, job.started_at = 0, None  # spent, then requeued: rq clears started_at
    policy.apply(job, registry.get("order:update_status"))
    assert job.retries_left == 3


def test_a_permanent_error_is_not_retried_and_a_transient_one_is(redis_conn):
    task = registry.get("order:update_status")
    job = get_queue("default").enqueue(order_tasks.update_order_status, "x", "confirmed")
    job.started_at = now()
    permanent = next(iter(task.throws))("no such order")
    policy.on_failure(job, type(permanent), permanent, None)
    assert job.retries_left == 0
    job.retries_left = None
    policy.on_failure(job, RuntimeError, RuntimeError("network down"), None)
    assert job.retries_left == 3


def test_a_statement_error_with_the_database_up_is_charged_as_usual(redis_conn):
    job = get_queue("default").enqueue(order_tasks.update_order_status, "x", "confirmed")
    job.started_at, job.retries_left = now(), 2
    policy.on_failure(job, OperationalError, OperationalError("canceling statement due to timeout"), None)
    assert job.retries_left == 2  # rq's retry takes one off; the database answered, so it counts


def test_an_abandoned_job_made_by_django_rq_is_retried_per_its_task(redis_conn, caplog):
    job = get_queue("default").enqueue(order_tasks.update_order_status, "x", "confirmed")
    abandon(redis_conn, job)
    with caplog.at_level(logging.WARNING, logger="worker.jobs"):
        Recovery(redis_conn, [get_queue("default")], [policy.on_failure]).clean()
    job.refresh()
    assert job.get_status() == JobStatus.SCHEDULED
    assert job.retries_left == 2
    assert job.id in get_queue("default").scheduled_job_registry.get_job_ids()
    [line] = [r.getMessage() for r in caplog.records if job.id in r.getMessage() and r.name == "worker.jobs"]
    assert "abandoned by dead worker dead-worker-1" in line and "retry in 1 s" in line
    assert redis_conn.hget(METRICS_PROCESSED, "order:update_status|abandoned") == b"1"


def test_an_abandoned_job_with_no_retries_left_fails_with_one_line_and_a_count(redis_conn, caplog):
    job = get_queue("default").enqueue(order_tasks.check_pending_orders)  # 0 retries
    abandon(redis_conn, job, "dead-worker-2")
    with caplog.at_level(logging.WARNING, logger="worker.jobs"):
        Recovery(redis_conn, [get_queue("default")], [policy.on_failure]).clean()
    job.refresh()
    assert job.get_status() == JobStatus.FAILED
    assert job.id in get_queue("default").failed_job_registry.get_job_ids(cleanup=False)
    [record] = [r for r in caplog.records if job.id in r.getMessage() and r.name == "worker.jobs"]
    assert record.levelno == logging.ERROR
    message = record.getMessage()
    assert "order:check_pending" in message and "dead-worker-2" in message
    assert "abandoned" in message and "no retries left, failed" in message
    assert redis_conn.hget(METRICS_PROCESSED, "order:check_pending|abandoned") == b"1"
