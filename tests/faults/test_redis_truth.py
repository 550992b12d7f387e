"""A Redis that can lose jobs is refused, and health and metrics tell the truth about
Redis: real redis-server processes, real worker and scheduler processes."""

import signal
import subprocess
import time

import pytest
from django.conf import settings as django_settings

from tests.helpers import free_port, manage_env, run_manage, wait_until
from worker.queues import enqueue, get_queue

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ALL_QUEUES = ("critical", "high", "default", "low")


@pytest.fixture
def evicting(redis_conn):
    redis_conn.config_set("maxmemory-policy", "allkeys-lru")
    yield
    redis_conn.config_set("maxmemory-policy", "noeviction")


def test_worker_and_scheduler_refuse_an_evicting_redis_and_check_deploy_says_so(
    evicting, processes, child_env
):
    worker = processes("rqworker", *ALL_QUEUES)
    assert worker.wait(timeout=30) == 1
    assert "maxmemory-policy allkeys-lru" in worker.output() and "noeviction" in worker.output()
    scheduler = run_manage("run_scheduler", env=child_env)
    assert scheduler.returncode == 1
    assert "refusing to start" in scheduler.stderr and "maxmemory-policy allkeys-lru" in scheduler.stderr
    check = run_manage("check", "--deploy", env=child_env)
    assert "bookstore.E001" in check.stderr + check.stdout


@pytest.fixture
def replica(tmp_path):
    """A read-only replica of the test Redis, on a port of its own."""
    port = free_port()
    master = django_settings.REDIS_URL.rsplit(":", 1)[1].split("/")[0]
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(tmp_path),
         "--replicaof", "127.0.0.1", master],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    wait_until(
        lambda: subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True).returncode == 0,
        timeout=10,
        what="the replica",
    )
    yield f"redis://127.0.0.1:{port}/0"
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=10)


def test_health_is_503_on_a_read_only_replica_and_on_a_full_redis(client, settings, replica, redis_conn):
    assert client.get("/health").status_code == 200
    master = settings.REDIS_URL
    settings.REDIS_URL = replica  # answers PING, refuses writes
    response = client.get("/health")
    assert response.status_code == 503 and response.json()["redis"] == "down"
    assert "READONLY" not in response.content.decode()
    settings.REDIS_URL = master
    redis_conn.config_set("maxmemory", "1")  # full, noeviction: every write refused
    try:
        response = client.get("/health")
        assert response.status_code == 503 and response.json()["redis"] == "down"
    finally:
        redis_conn.config_set("maxmemory", "0")
    assert client.get("/health").status_code == 200


def test_a_killed_worker_stops_counting_as_live(client, settings, processes, redis_conn):
    settings.WORKER_HEARTBEAT_INTERVAL, settings.WORKER_HEARTBEAT_GRACE = 1, 3  # as the workers here
    worker = processes("rqworker", *ALL_QUEUES)
    wait_until(lambda: client.get("/health/worker").json()["workers"] == 1, timeout=20, what="a live worker")
    worker.kill_group()
    killed_at = time.monotonic()
    wait_until(lambda: client.get("/health/worker").json()["workers"] == 0, timeout=15, what="no live worker")
    assert time.monotonic() - killed_at < 10
    assert redis_conn.smembers("rq:workers")  # its registration is still there: not counted


def test_metrics_keep_the_job_series_and_say_redis_is_down(client, settings, redis_conn):
    get_queue("low").connection.flushdb()
    enqueue("cart:cleanup")
    auth = {"HTTP_AUTHORIZATION": f"Bearer {settings.METRICS_TOKEN}"}
    text = client.get("/metrics", **auth).content.decode()
    assert "bookstore_redis_up 1.0" in text
    assert 'bookstore_tasks_enqueued_total{queue="low",task="cart:cleanup"} 1.0' in text
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    text = client.get("/metrics", **auth).content.decode()
    assert "bookstore_redis_up 0.0" in text
    assert 'bookstore_tasks_enqueued_total{queue="low",task="cart:cleanup"} 1.0' in text
    assert 'bookstore_queue_oldest_seconds{queue="low"}' in text


def test_suspended_workers_show_in_metrics(client, settings, redis_conn):
    auth = {"HTTP_AUTHORIZATION": f"Bearer {settings.METRICS_TOKEN}"}
    env = manage_env()
    assert run_manage("rqsuspend", env=env).returncode == 0
    try:
        assert "bookstore_workers_suspended 1.0" in client.get("/metrics", **auth).content.decode()
    finally:
        run_manage("rqresume", env=env)
    assert "bookstore_workers_suspended 0.0" in client.get("/metrics", **auth).content.decode()
