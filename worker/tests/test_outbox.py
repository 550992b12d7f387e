"""The transactional outbox, in-process, on the real PostgreSQL and Redis."""

import logging
import time

import pytest
from django.db import transaction

from tests.helpers import free_port
from worker import outbox
from worker.keys import METRICS_ENQUEUED
from worker.models import OutboxJob
from worker.queues import TaskCall, enqueue, enqueue_many, get_queue

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def redis_down(settings):
    """The queues' Redis unreachable (a port where nothing listens) until restored."""
    url = settings.REDIS_URL

    class Down:
        def restore(self):
            settings.REDIS_URL = url

    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    yield Down()
    settings.REDIS_URL = url


def queued_ids(name="low") -> list[str]:
    return get_queue(name).get_job_ids()


def test_jobs_of_a_committed_transaction_are_in_redis_when_commit_returns(redis_conn):
    with transaction.atomic():
        job_id = enqueue("cart:cleanup")
        assert OutboxJob.objects.filter(job_id=job_id).exists()  # same transaction
        assert queued_ids() == []
    assert queued_ids() == [job_id]
    assert not OutboxJob.objects.exists()


def test_a_rolled_back_transaction_or_savepoint_leaves_no_row_and_no_job(redis_conn):
    with pytest.raises(RuntimeError), transaction.atomic():
        enqueue("cart:cleanup")
        raise RuntimeError("rolled back")
    with transaction.atomic():
        kept = enqueue("cart:cleanup")
        with pytest.raises(RuntimeError), transaction.atomic():  # a savepoint
            enqueue("cart:cleanup")
            enqueue_many([TaskCall("cart:cleanup")] * 3)
            raise RuntimeError("savepoint rolled back")
    assert queued_ids() == [kept]
    assert not OutboxJob.objects.exists()


def test_10000_jobs_of_one_transaction_reach_redis_at_commit(redis_conn):
    with transaction.atomic():
        ids = enqueue_many([TaskCall("cart:cleanup")] * 5_000)
        ids += [enqueue("cart:cleanup") for _ in range(5_000)]
    assert sorted(queued_ids()) == sorted(ids)
    assert len(set(ids)) == 10_000
    assert not OutboxJob.objects.exists()
    assert int(redis_conn.hget(METRICS_ENQUEUED, "cart:cleanup|low")) == 10_000


def test_redis_down_at_commit_costs_the_caller_nothing_and_the_relay_sends_later(
    redis_conn, redis_down, caplog, monkeypatch
):
    monkeypatch.setattr(outbox, "_unsent", outbox._Unsent())  # no line logged lately
    with caplog.at_level(logging.WARNING, logger="worker.outbox"), transaction.atomic():
        job_id = enqueue("cart:cleanup")  # no exception after commit
    assert [r.levelno for r in caplog.records if r.name == "worker.outbox"] == [logging.WARNING]
    assert "relay will send them" in caplog.text
    assert OutboxJob.objects.filter(job_id=job_id).exists()
    redis_down.restore()
    assert outbox.relay() == 1
    assert queued_ids() == [job_id]
    assert not OutboxJob.objects.exists()


def test_a_row_sent_twice_makes_one_job(redis_conn, redis_down):
    with transaction.atomic():
        enqueue("cart:cleanup", job_id="cleanup-once")
    redis_down.restore()
    rows = list(OutboxJob.objects.all())
    assert outbox.send(rows) == 1
    assert outbox.send(rows) == 0  # a crash between "sent" and "deleted", then a re-send
    assert queued_ids() == ["cleanup-once"]
    assert int(redis_conn.hget(METRICS_ENQUEUED, "cart:cleanup|low")) == 1


def test_a_delayed_job_goes_to_the_scheduled_registry_with_its_time(redis_conn):
    with transaction.atomic():
        job_id = enqueue("cart:cleanup", delay=3600)
    queue = get_queue("low")
    assert queue.get_job_ids() == []
    assert queue.scheduled_job_registry.get_job_ids() == [job_id]
    assert queue.fetch_job(job_id).get_status() == "scheduled"


def test_the_same_job_id_twice_in_the_outbox_is_one_job(redis_conn, redis_down):
    with transaction.atomic():
        enqueue("cart:cleanup", job_id="cleanup-dup")
    with transaction.atomic():
        enqueue("cart:cleanup", job_id="cleanup-dup")  # still waiting: the same job
    assert OutboxJob.objects.count() == 1
    redis_down.restore()
    outbox.relay()
    assert queued_ids() == ["cleanup-dup"]


def test_outside_a_transaction_the_caller_gets_the_redis_error(redis_down):
    from redis.exceptions import ConnectionError

    with pytest.raises(ConnectionError):
        enqueue("cart:cleanup")
    assert not OutboxJob.objects.exists()


def test_health_metrics_and_panel_show_the_backlog(redis_conn, redis_down, client, settings):
    from django.utils import timezone

    with transaction.atomic():
        enqueue("cart:cleanup")
    OutboxJob.objects.update(created_at=timezone.now() - timezone.timedelta(seconds=90))
    redis_down.restore()
    body = client.get("/health/worker").json()
    assert body["outbox"]["pending"] == 1 and body["outbox"]["oldest_seconds"] >= 90
    assert any("outbox" in problem for problem in body["problems"])
    text = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {settings.METRICS_TOKEN}").content.decode()
    assert "bookstore_outbox_pending 1.0" in text
    oldest = float(
        next(line for line in text.splitlines() if line.startswith("bookstore_outbox_oldest")).split()[1]
    )
    assert 90 <= oldest < 120


def test_redis_down_outside_a_transaction_is_one_clear_line_naming_redis_without_password(settings, caplog):
    import time

    from django.core.management import CommandError, call_command

    from worker.queues import get_connection
    from worker.schedule import get_schedule
    from worker.scheduler import Scheduler

    port = free_port()
    settings.REDIS_URL = f"redis://:s3cret-password@127.0.0.1:{port}/0"
    with pytest.raises(CommandError) as error:
        call_command("backfill_daily_stats", "--from", "2026-11-01", "--to", "2026-11-03", "--enqueue")
    assert f"Redis at 127.0.0.1:{port}/0 is unavailable" in str(error.value)
    assert "s3cret" not in str(error.value) and not OutboxJob.objects.exists()

    stop_at = time.monotonic() + 4  # several tries, 0.5 to 2 s apart
    with caplog.at_level(logging.INFO, logger="worker.scheduler"):
        Scheduler(get_connection(), get_schedule()).run(lambda: time.monotonic() > stop_at)
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, errors
    assert f"Redis at 127.0.0.1:{port}/0 unavailable" in errors[0] and "s3cret" not in caplog.text


def test_the_fast_path_warning_is_logged_once_per_interval_with_a_count(caplog):
    unsent = outbox._Unsent()
    unsent.LOG_EVERY = 0.3
    with caplog.at_level(logging.WARNING, logger="worker.outbox"):
        for _ in range(5):
            unsent.report(ConnectionError("Redis away"))
        time.sleep(0.35)
        unsent.report(ConnectionError("Redis away"))
    lines = [r.getMessage() for r in caplog.records if r.name == "worker.outbox"]
    assert len(lines) == 2
    assert "Redis away" in lines[0] and "more since" not in lines[0]
    assert "(4 more since the last such line)" in lines[1]
