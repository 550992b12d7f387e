"""The worker stays up: only a requested stop, --burst or --max-jobs ends it. A Redis
that hangs, fills up or restarts, and a database that refuses connections, pause it;
it resumes once they are back. Real rqworker processes, real servers, real signals."""

import os
import signal
import time

import pytest
from django.db import connection
from rq.job import JobStatus

from orders.models import Order, OrderStatusHistory
from orders.tests.factories import OrderFactory
from tests.helpers import job_status, wait_until
from worker.queues import TaskCall, enqueue, enqueue_many, get_queue

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ALL_QUEUES = ("critical", "high", "default", "low")


def redis_pid() -> int:
    with open(os.path.join(os.environ["TEST_REDIS_DIR"], "redis.pid")) as pid_file:
        return int(pid_file.read())


def live_worker_pids(redis_conn) -> set[int]:
    return {int(redis_conn.hget(key, "pid")) for key in redis_conn.smembers("rq:workers")}


def test_redis_paused_for_60_s_leaves_the_same_worker_up_and_draining(redis_conn, processes):
    worker = processes("rqworker", *ALL_QUEUES)
    wait_until(lambda: live_worker_pids(redis_conn), timeout=15, what="the worker's registration")
    pid = redis_pid()
    os.kill(pid, signal.SIGSTOP)
    try:
        time.sleep(60)  # the fault itself: Redis hangs, every command times out
    finally:
        os.kill(pid, signal.SIGCONT)
    resumed = time.monotonic()
    assert worker.alive(), worker.output()[-3000:]
    job_id = enqueue("test:stamp", "test:after_pause")
    wait_until(lambda: job_status(job_id) == JobStatus.FINISHED, timeout=10, what="a job after the pause")
    assert time.monotonic() - resumed < 10
    assert worker.alive()


def test_a_full_redis_pauses_the_worker_instead_of_ending_it(redis_conn, processes):
    worker = processes("rqworker", *ALL_QUEUES)
    wait_until(lambda: live_worker_pids(redis_conn), timeout=15, what="the worker's registration")
    redis_conn.config_set("maxmemory-policy", "noeviction")
    redis_conn.config_set("maxmemory", "1")  # every write now fails: OOM command not allowed
    try:
        wait_until(lambda: "unavailable" in worker.output(), timeout=20, what="the worker to see Redis full")
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline:  # a while of refused writes: it must not give up
            assert worker.alive(), worker.output()[-3000:]
            time.sleep(0.5)
    finally:
        redis_conn.config_set("maxmemory", "0")
    job_id = enqueue("test:stamp", "test:after_oom")
    wait_until(lambda: job_status(job_id) == JobStatus.FINISHED, timeout=10, what="a job once Redis has room")
    assert worker.alive()


def test_a_redis_full_before_the_worker_starts_pauses_its_start_until_there_is_room(redis_conn, processes):
    redis_conn.config_set("maxmemory-policy", "noeviction")
    redis_conn.config_set("maxmemory", "1")
    try:
        worker = processes("rqworker", *ALL_QUEUES)
        wait_until(lambda: "unavailable" in worker.output(), timeout=20, what="the worker to see Redis full")
        time.sleep(3)  # a while of refused writes: the start waits, it does not fail over and over
        assert worker.alive(), worker.output()[-3000:]
        assert "stopped on an error" not in worker.output()
        assert "restarting in" not in worker.output()
    finally:
        redis_conn.config_set("maxmemory", "0")
    job_id = enqueue("test:stamp", "test:after_oom")
    wait_until(lambda: job_status(job_id) == JobStatus.FINISHED, timeout=10, what="a job once Redis has room")
    assert "reachable again" in worker.output()


def test_max_jobs_counts_across_recycled_processes(redis_conn, processes):
    enqueue_many([TaskCall("test:stamp", ("test:stamps",)) for _ in range(150)])
    worker = processes("rqworker", "default", "--max-jobs", "100", WORKER_MAX_JOBS="30")
    assert worker.wait(timeout=60) == 0, worker.output()[-3000:]
    assert redis_conn.llen("test:stamps") == 100
    assert get_queue("default").count == 50
    assert worker.output().count("recycled") == 3  # after 30, 60 and 90 jobs


def test_sigterm_while_the_child_is_being_restarted_ends_the_worker_at_once_losing_nothing(
    redis_conn, processes
):
    crash = enqueue("test:crash_once", "test:crash")  # kills its own process, as a segfault would
    waiting = [enqueue("test:stamp", "test:stamps") for _ in range(5)]
    worker = processes("rqworker", "default")
    wait_until(lambda: "restarting in" in worker.output(), timeout=20, what="the child's crash")
    stamped = redis_conn.llen("test:stamps")  # by the crashed process's other threads, if any
    worker.send(signal.SIGTERM)
    assert worker.wait(timeout=10) == 0, worker.output()[-3000:]
    output = worker.output()
    assert "cold shut down" not in output
    assert redis_conn.llen("test:stamps") == stamped  # no fresh child was started after the stop
    # Nothing lost: each job waits, finished, or was running in the crashed process
    # (threads share its fate) and was handled as abandoned, with its line.
    statuses = {job_id: job_status(job_id) for job_id in waiting}
    assert set(statuses.values()) <= {JobStatus.QUEUED, JobStatus.FINISHED, JobStatus.FAILED}, statuses
    assert list(statuses.values()).count(JobStatus.FINISHED) <= stamped
    for job_id, status in statuses.items():
        assert (f"{job_id}: abandoned by dead worker" in output) == (status == JobStatus.FAILED), output[
            -3000:
        ]
    assert job_status(crash) in (JobStatus.SCHEDULED, JobStatus.QUEUED)  # its retry, not lost
    assert int(redis_conn.get("test:crash")) == 1


@pytest.fixture
def limited_role(redis_conn):
    """A database role the workers log in as, allowed one connection at a time (as a
    server at max_connections would refuse the rest). Superusers ignore such limits, so
    the test's own connection (a superuser) is not affected."""

    def psql(sql: str) -> None:
        with connection.cursor() as cursor:
            cursor.execute(sql)

    psql("CREATE ROLE limited LOGIN CONNECTION LIMIT 1")
    psql("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO limited")
    psql("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO limited")
    db = connection.settings_dict
    yield psql, f"postgres://limited@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'limited'")
    psql("DROP OWNED BY limited")
    psql("DROP ROLE limited")


def test_a_database_refusing_connections_pauses_workers_and_every_job_finishes(
    redis_conn, processes, limited_role
):
    if connection.vendor != "postgresql":
        pytest.skip("connection limits are PostgreSQL's")
    psql, url = limited_role
    orders = [OrderFactory() for _ in range(60)]
    enqueue_many([TaskCall("order:update_status", (str(o.id), "confirmed", "limited")) for o in orders])
    workers = [processes("rqworker", *ALL_QUEUES, DATABASE_URL=url) for _ in range(3)]
    wait_until(
        lambda: any("the database unavailable" in w.output() for w in workers),
        timeout=30,
        what="a worker refused a connection",
    )
    psql("ALTER ROLE limited CONNECTION LIMIT -1")
    wait_until(
        lambda: Order.objects.filter(status="confirmed").count() == 60,
        timeout=60,
        what="every order confirmed",
    )
    queue = get_queue("default")
    assert queue.failed_job_registry.get_job_ids() == []
    assert OrderStatusHistory.objects.count() == 60
    assert all(w.alive() for w in workers)
