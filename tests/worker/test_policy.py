"""Each registered task's retries, backoff and timeout hold whoever made the job: our
helpers, django-rq's enqueue and @job, rqenqueue, the dashboard's requeue, rq requeue;
and for a job whose worker was killed. Real rqworker and run_scheduler processes."""

import subprocess
import sys
from pathlib import Path

import django_rq
import pytest
from django_rq.settings import get_queues_map
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer

from tests import jobs
from tests.factories import UserFactory
from tests.helpers import job_status, wait_until
from worker.keys import METRICS_PROCESSED

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ALL_QUEUES = ("critical", "high", "default", "low")


def attempts(redis_conn, key: str) -> int:
    return int(redis_conn.get(key) or 0)


def fetch(redis_conn, job_id: str) -> Job:
    return Job.fetch(job_id, connection=redis_conn, serializer=JSONSerializer)


def test_jobs_made_by_django_rq_job_decorator_and_rqenqueue_get_the_task_s_retries(
    redis_conn, processes, child_env
):
    queue = django_rq.get_queue("default")
    # Each fails twice, then succeeds: test:flaky allows 2 retries (after 1 s and 2 s).
    by_api = queue.enqueue(jobs.flaky, "test:api", "2")
    by_decorator = django_rq.job("default")(jobs.flaky).delay("test:decorator", "2")
    out = subprocess.run(
        [sys.executable, "manage.py", "rqenqueue", "-q", "default", "tests.jobs.flaky", "test:command", "2"],
        env=child_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    by_command = out.split()[1]  # "Job <id> created"
    for job in (by_api, by_decorator):
        assert job.retries_left is None  # enqueued with rq's defaults: no retries at all
    processes("rqworker", *ALL_QUEUES)
    processes("run_scheduler")
    for job_id, key in (
        (by_api.id, "test:api"),
        (by_decorator.id, "test:decorator"),
        (by_command, "test:command"),
    ):
        wait_until(lambda job_id=job_id: job_status(job_id) == JobStatus.FINISHED, timeout=40, what=key)
        assert attempts(redis_conn, key) == 3, key
        assert fetch(redis_conn, job_id).retries_left == 0


def test_a_job_put_on_another_queue_runs_from_its_task_s_queue(redis_conn, processes):
    job = django_rq.get_queue("low").enqueue(jobs.flaky, "test:routed")  # test:flaky's queue is default
    worker = processes("rqworker", *ALL_QUEUES)
    wait_until(lambda: job_status(job.id) == JobStatus.FINISHED, timeout=20, what="the routed job")
    assert fetch(redis_conn, job.id).origin == "default"
    assert f"job {job.id} was on queue low; moved to its task's queue default" in worker.output()
    assert attempts(redis_conn, "test:routed") == 1


def test_a_job_made_by_django_rq_gets_the_task_s_timeout_not_rq_s_default(redis_conn, processes):
    job = django_rq.get_queue("default").enqueue(jobs.too_slow, "test:progress")  # rq's 180 s default
    worker = processes("rqworker", *ALL_QUEUES)
    wait_until(lambda: job_status(job.id) == JobStatus.FAILED, timeout=20, what="the 1 s timeout")
    assert "JobTimeoutException" in fetch(redis_conn, job.id).latest_result().exc_string
    assert [v.decode() for v in redis_conn.lrange("test:progress", 0, -1)] == ["started"]
    assert "timed out after 1 s" in worker.output()


def _fail_for_good(redis_conn, processes, key: str) -> str:
    """A job that failed after its whole allowance (3 attempts), as staff would find it."""
    job = django_rq.get_queue("default").enqueue(jobs.flaky, key, "100")
    wait_until(lambda: job_status(job.id) == JobStatus.FAILED, timeout=40, what=f"{key} to fail")
    assert attempts(redis_conn, key) == 3
    return job.id


def test_a_failed_job_requeued_by_rq_requeue_or_the_dashboard_gets_the_whole_policy_again(
    redis_conn, processes, child_env, client
):
    processes("rqworker", *ALL_QUEUES)
    processes("run_scheduler")
    by_cli = _fail_for_good(redis_conn, processes, "test:cli")
    by_dashboard = _fail_for_good(redis_conn, processes, "test:dashboard")

    subprocess.run(
        [
            str(Path(sys.executable).parent / "rq"),
            "requeue",
            "--queue",
            "default",
            "-u",
            child_env["REDIS_URL"],
            by_cli,
        ],
        env=child_env,
        capture_output=True,
        timeout=60,
        check=True,
    )
    client.force_login(UserFactory(username="ops-requeue", is_staff=True))
    index = get_queues_map()["default"]
    response = client.post(f"/django-rq/queues/{index}/{by_dashboard}/requeue/")
    assert response.status_code == 302

    for job_id, key in ((by_cli, "test:cli"), (by_dashboard, "test:dashboard")):
        wait_until(lambda key=key: attempts(redis_conn, key) == 6, timeout=40, what=f"{key} retried again")
        wait_until(lambda job_id=job_id: job_status(job_id) == JobStatus.FAILED, timeout=20, what=key)
    assert attempts(redis_conn, "test:cli") == 6 and attempts(redis_conn, "test:dashboard") == 6


def test_a_job_abandoned_by_a_killed_worker_is_retried_per_its_task_then_failed_with_one_line(
    redis_conn, processes
):
    # test:slow_work allows 2 retries; enqueued through django-rq, which gives none.
    job = django_rq.get_queue("default").enqueue(jobs.slow_work, 30, "test:starts")
    doomed = processes("rqworker", *ALL_QUEUES)
    wait_until(lambda: redis_conn.llen("test:starts") == 1, timeout=20, what="the job to start")
    dead_worker = fetch(redis_conn, job.id).worker_name
    doomed.kill_group()
    survivor = processes("rqworker", *ALL_QUEUES)
    processes("run_scheduler")
    wait_until(lambda: redis_conn.llen("test:starts") == 2, timeout=30, what="the retry of the abandoned job")
    assert f"abandoned by dead worker {dead_worker}" in survivor.output()

    # Kill it on each retry: after the second retry is abandoned, no retries are left.
    for starts in (2, 3):
        wait_until(lambda starts=starts: job_status(job.id) == JobStatus.STARTED, timeout=20, what="a start")
        runner = fetch(redis_conn, job.id).worker_name
        survivor.kill_group()
        survivor = processes("rqworker", *ALL_QUEUES)
        if starts == 2:
            wait_until(lambda: redis_conn.llen("test:starts") == 3, timeout=30, what="the second retry")
    wait_until(lambda: job_status(job.id) == JobStatus.FAILED, timeout=30, what="the final abandonment")
    line = next(line for line in survivor.output().splitlines() if job.id in line and "abandoned" in line)
    assert "test:slow_work" in line and runner in line and "no retries left, failed" in line
    assert int(redis_conn.hget(METRICS_PROCESSED, "test:slow_work|abandoned")) == 3
    assert redis_conn.llen("test:starts") == 3


def test_a_django_rq_job_killed_with_its_worker_is_not_left_failed(redis_conn, processes):
    """The kill -9 of a worker's whole process tree mid-run: the status job enqueued
    through django-rq is retried per its task's policy and confirms the order once."""
    from orders.models import OrderStatusHistory
    from orders.tests.factories import OrderFactory

    order = OrderFactory()
    job = django_rq.get_queue("default").enqueue(jobs.confirm_slowly, str(order.id), 30, "test:confirm")
    first = processes("rqworker", *ALL_QUEUES)
    wait_until(lambda: redis_conn.get("test:confirm") == b"1", timeout=20, what="the first attempt")
    first.kill_group()
    processes("rqworker", *ALL_QUEUES)
    processes("run_scheduler")
    wait_until(lambda: job_status(job.id) == JobStatus.FINISHED, timeout=40, what="the retried job")
    order.refresh_from_db()
    assert order.status == "confirmed"
    assert OrderStatusHistory.objects.filter(order=order, new_status="confirmed").count() == 1
