"""/metrics reports the jobs of every worker process, read from Redis by the web process."""

import re

import pytest

from tests.helpers import wait_until
from worker.queues import TaskCall, enqueue_many, get_queue

pytestmark = pytest.mark.django_db

TOKEN = "test-only-metrics-token"


def scrape(client) -> str:
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    return response.content.decode()


def value(text: str, name: str, **labels) -> float:
    """The sample of ``name`` with exactly these labels, in whatever order they print."""
    for line in text.splitlines():
        match = re.fullmatch(r"(\w+)(?:\{(.*)\})? (\S+)", line)
        if match and match.group(1) == name:
            found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(2) or ""))
            if found == labels:
                return float(match.group(3))
    return 0.0


@pytest.mark.parametrize("header", [None, "Bearer wrong", f"Basic {TOKEN}", f"bearer {TOKEN}x"])
def test_metrics_refuse_without_the_token(client, header, settings):
    settings.METRICS_TOKEN = TOKEN
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    response = client.get("/metrics", **extra)
    assert response.status_code == 401
    assert "bookstore_" not in response.content.decode()


def test_metrics_carry_requests_database_and_queue_depth(
    client, redis_conn, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        enqueue_many([TaskCall("cart:cleanup")] * 3)
    text = scrape(client)
    assert "django_http_requests_total_by_method_total" in text
    assert value(text, "bookstore_queue_jobs", queue="low", status="queued") == 3
    assert value(text, "bookstore_tasks_enqueued_total", task="cart:cleanup", queue="low") == 3
    assert value(text, "bookstore_workers") == 0
    assert value(text, "bookstore_scheduler_heartbeat_age_seconds") == float("inf")  # never seen


def test_metrics_give_the_scheduler_heartbeats_age(client, redis_conn):
    import time

    from worker.keys import SCHEDULER_HEARTBEAT

    redis_conn.hset(SCHEDULER_HEARTBEAT, mapping={"at": time.time() - 42, "leader": "test"})
    assert 41 <= value(scrape(client), "bookstore_scheduler_heartbeat_age_seconds") <= 45


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_metrics_count_the_jobs_of_every_worker_process(client, redis_conn, processes):
    import tests.jobs  # noqa: F401  (registers the test tasks here too)

    # The first two jobs each hold until two workers have taken one, so both worker
    # processes run jobs (and are registered) however fast the first one starts.
    calls = [TaskCall("test:rendezvous", ("test:workers", 2))] * 2
    calls += [TaskCall("test:record_default")] * 7 + [TaskCall("test:permanent", ("test:p",))] * 3
    enqueue_many(calls)
    processes("rqworker", "default")
    processes("rqworker", "default")
    queue = get_queue("default")
    wait_until(
        lambda: queue.finished_job_registry.count == 9 and queue.failed_job_registry.count == 3,
        timeout=30,
        what="all jobs run",
    )
    assert redis_conn.scard("test:workers") == 2

    # Each worker sends its counts about once a second (worker/counters.py, Tally).
    def counted():
        page = scrape(client)
        done = value(page, "bookstore_task_duration_seconds_count", task="test:record_default") == 7
        done &= value(page, "bookstore_tasks_processed_total", task="test:permanent", status="failed") == 3
        done &= value(page, "bookstore_tasks_processed_total", task="test:rendezvous", status="success") == 2
        return page if done else None

    text = wait_until(counted, timeout=5, what="the workers' counts")
    assert value(text, "bookstore_tasks_processed_total", task="test:rendezvous", status="success") == 2
    assert value(text, "bookstore_tasks_processed_total", task="test:record_default", status="success") == 7
    assert value(text, "bookstore_tasks_processed_total", task="test:permanent", status="failed") == 3
    assert value(text, "bookstore_task_duration_seconds_count", task="test:record_default") == 7
    assert value(text, "bookstore_task_duration_seconds_count", task="test:permanent") == 3
    assert value(text, "bookstore_task_duration_seconds_bucket", task="test:record_default", le="+Inf") == 7
    assert value(text, "bookstore_tasks_enqueued_total", task="test:permanent", queue="default") == 3
    assert value(text, "bookstore_workers") == 2
