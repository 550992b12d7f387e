"""/health and /health/worker: the truth for operators, nothing for strangers."""

import json
import time

import pytest
from django.db import connection

from worker.keys import SCHEDULER_HEARTBEAT as HEARTBEAT_KEY

pytestmark = pytest.mark.django_db

SECRETS = ("s3cr3t-pass", "10.255.255.1", "Error", "Traceback", "refused", "timed out")


def assert_reveals_nothing(response):
    body = response.content.decode()
    for secret in SECRETS:
        assert secret not in body, (secret, body)


def test_health_with_everything_up(client, redis_conn):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "healthy", "database": "up", "redis": "up"}


def test_health_with_redis_down_answers_503_quickly_and_reveals_nothing(client, settings):
    # A password in the URL and a closed loopback port: refused at once.
    settings.REDIS_URL = "redis://:s3cr3t-pass@127.0.0.1:9/0"
    started = time.monotonic()
    response = client.get("/health")
    assert time.monotonic() - started < 5
    assert response.status_code == 503
    assert response.json() == {"status": "unhealthy", "database": "up", "redis": "down"}
    assert_reveals_nothing(response)


@pytest.fixture
def hung_redis():
    """A port on loopback that accepts connections and never answers: a hung Redis."""
    import socket

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    yield server.getsockname()[1]
    server.close()


def test_a_hung_redis_makes_health_answer_503_within_the_probe_timeout(client, settings, hung_redis):
    settings.REDIS_URL = f"redis://:s3cr3t-pass@127.0.0.1:{hung_redis}/0"
    started = time.monotonic()
    response = client.get("/health")
    assert time.monotonic() - started < 5
    assert response.status_code == 503
    assert response.json()["redis"] == "down"
    assert_reveals_nothing(response)


def test_health_with_the_database_down(client, redis_conn, monkeypatch):
    def broken_cursor(*args, **kwargs):
        raise connection.Database.OperationalError("could not connect to server at 10.255.255.1 s3cr3t-pass")

    monkeypatch.setattr(connection, "cursor", broken_cursor)
    response = client.get("/health")
    assert response.status_code == 503
    assert response.json() == {"status": "unhealthy", "database": "down", "redis": "up"}
    assert_reveals_nothing(response)


def test_worker_health_without_worker_or_scheduler_is_503(client, redis_conn):
    response = client.get("/health/worker")
    assert response.status_code == 503
    body = response.json()
    assert body["workers"] == 0 and body["scheduler_heartbeat_age_seconds"] is None
    assert set(body["queues"]) == {"critical", "high", "default", "low"}


def test_worker_health_reports_queues_and_an_old_heartbeat(client, redis_conn):
    import datetime as dt

    from rq.utils import utcformat

    from worker import keys
    from worker.queues import enqueue_once

    enqueue_once("cart:cleanup", job_id="waiting")
    # The job has waited 90 s: its age is read from its enqueue time, not made up.
    waiting_since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=90)
    redis_conn.hset(keys.RQ_JOB.format("waiting"), "enqueued_at", utcformat(waiting_since))
    redis_conn.hset(HEARTBEAT_KEY, mapping={"at": time.time() - 600, "leader": "x"})
    body = client.get("/health/worker").json()
    assert body["queues"]["low"]["queued"] == 1
    assert 90 <= body["queues"]["low"]["oldest_queued_age_seconds"] < 100
    assert body["queues"]["default"]["oldest_queued_age_seconds"] is None
    assert "no scheduler heartbeat in the last 2 minutes" in body["problems"]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_worker_health_with_a_live_worker_and_scheduler_is_200(client, redis_conn, processes):
    from tests.helpers import wait_until

    processes("rqworker", "critical", "high", "default", "low")
    processes("run_scheduler")
    response = wait_until(
        lambda: (r := client.get("/health/worker")).status_code == 200 and r, timeout=20, what="healthy"
    )
    body = json.loads(response.content)
    assert body["status"] == "healthy" and body["workers"] == 1
    assert body["scheduler_heartbeat_age_seconds"] < 5


def test_health_redis_down_via_a_stopped_port_reveals_nothing_on_worker_health(client, settings):
    settings.REDIS_URL = "redis://:s3cr3t-pass@127.0.0.1:9/0"
    response = client.get("/health/worker")
    assert response.status_code == 503
    assert response.json() == {"status": "unhealthy", "redis": "down"}
