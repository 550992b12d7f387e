"""Wake-up tokens (worker/wake.py): every path that queues a job pushes one, so an idle
worker blocked on the list wakes at once; the list stays bounded."""

import datetime as dt

import django_rq
import pytest
from django.db import transaction
from django.utils import timezone

from worker import wake
from worker.keys import WAKE
from worker.queues import TaskCall, enqueue, enqueue_many, get_connection, get_queue
from worker.runtime import BookstoreWorker
from worker.schedule import get_schedule
from worker.scheduler import Scheduler


def tokens(redis_conn) -> int:
    return redis_conn.llen(WAKE)


def test_our_enqueue_helpers_push_one_token_per_job(redis_conn):
    enqueue("cart:cleanup")
    assert tokens(redis_conn) == 1
    enqueue_many([TaskCall("cart:cleanup")] * 3)
    assert tokens(redis_conn) == 4


def test_a_delayed_job_pushes_its_token_when_the_scheduler_queues_it(redis_conn):
    enqueue("cart:cleanup", delay=1)
    assert tokens(redis_conn) == 0  # scheduled, not queued: nothing to wake for yet
    Scheduler(get_connection(), get_schedule()).move_due_jobs(timezone.now() + dt.timedelta(seconds=3))
    assert get_queue("low").count == 1
    assert tokens(redis_conn) == 1


@pytest.mark.django_db
def test_the_outbox_pushes_a_token_for_each_job_it_queues(redis_conn, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        enqueue("cart:cleanup")
        enqueue("cart:cleanup", delay=60)  # scheduled: no token
    assert tokens(redis_conn) == 1


def test_djangos_rq_api_pushes_a_token_too(redis_conn):
    """django-rq's get_queue (the dashboard, rqenqueue, a shell) builds WakingQueue."""
    queue = django_rq.get_queue("low", commit_mode="auto")
    assert isinstance(queue, wake.WakingQueue)
    queue.enqueue("carts.tasks.cleanup_expired_carts")
    assert tokens(redis_conn) == 1


def test_a_job_put_back_by_recovery_pushes_a_token(redis_conn, settings):
    settings.WORKER_HEARTBEAT_GRACE = 0
    queue = get_queue("low")
    job_id = enqueue("cart:cleanup")
    redis_conn.delete(WAKE)
    redis_conn.lmove(queue.key, queue.intermediate_queue.key, "LEFT", "RIGHT")  # a worker died here
    worker = BookstoreWorker([queue], connection=get_connection())
    worker.clean_registries()  # first sight
    worker.clean_registries()
    assert queue.get_job_ids() == [job_id]
    assert tokens(redis_conn) == 1


def test_the_token_list_keeps_only_the_last_few(redis_conn):
    enqueue_many([TaskCall("cart:cleanup")] * (wake.KEEP + 50))
    for _ in range(5):
        enqueue("cart:cleanup")
    assert tokens(redis_conn) == wake.KEEP


def test_waiting_returns_at_a_token_or_after_the_timeout(redis_conn):
    assert wake.wait(redis_conn, timeout=0.05) is False
    enqueue("cart:cleanup")
    assert wake.wait(redis_conn, timeout=5) is True
    assert tokens(redis_conn) == 0


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_an_idle_worker_blocks_on_the_wake_list_instead_of_polling(redis_conn, processes):
    """The idle worker's Redis connection sits in BLPOP on bookstore:wake (CLIENT LIST),
    and a job enqueued then runs."""
    from tests.helpers import wait_until

    processes("rqworker", "low")

    def blocked_on_wake():
        clients = redis_conn.client_list()
        return any(client.get("cmd") == "blpop" for client in clients)

    wait_until(blocked_on_wake, timeout=20, what="a worker blocked in BLPOP")
    job_id = enqueue("cart:cleanup")
    wait_until(
        lambda: get_queue("low").finished_job_registry.get_job_ids() == [job_id], timeout=10, what="the job"
    )
