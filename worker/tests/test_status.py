"""Reads are reads: /metrics, /health/worker and the admin's jobs panel count the
registries without running rq's abandoned-job clean-up, which belongs to the workers."""

import datetime as dt

import pytest
from django.conf import settings
from rq.job import JobStatus
from rq.utils import now, utcformat

from orders import tasks as order_tasks
from tests.factories import UserFactory
from worker.queues import get_queue
from worker.status import jobs_status

pytestmark = pytest.mark.django_db


def test_twenty_scrapes_and_page_views_leave_an_abandoned_job_for_the_workers(redis_conn, client):
    job = get_queue("default").enqueue(order_tasks.update_order_status, "x", "confirmed")
    redis_conn.lrem(get_queue("default").key, 0, job.id)
    job.set_status(JobStatus.STARTED)
    started = get_queue("default").started_job_registry
    member = f"{job.id}:execution-1"
    redis_conn.zadd(started.key, {member: 1})  # its heartbeat lapsed long ago
    client.force_login(UserFactory(username="ops-reads", is_staff=True, is_superuser=True))
    token = {"HTTP_AUTHORIZATION": f"Bearer {settings.METRICS_TOKEN}"}
    for _ in range(20):
        assert client.get("/metrics", **token).status_code == 200
        assert client.get("/health/worker").status_code in (200, 503)
        assert client.get("/admin/").status_code == 200
    assert redis_conn.zscore(started.key, member) == 1
    assert job.get_status(refresh=True) == JobStatus.STARTED
    assert get_queue("default").failed_job_registry.get_job_ids(cleanup=False) == []
    assert jobs_status(redis_conn).queues[2].started == 1


def test_a_registration_left_by_a_killed_worker_is_not_a_live_worker(redis_conn):
    for name, age in (("alive", 1), ("killed", 600)):
        key = f"rq:worker:{name}"
        stamp = utcformat(now().replace(microsecond=0) - dt.timedelta(seconds=age))
        redis_conn.hset(key, mapping={"last_heartbeat": stamp, "pid": 1})
        redis_conn.sadd("rq:workers", key)
    assert jobs_status(redis_conn).workers == 1
