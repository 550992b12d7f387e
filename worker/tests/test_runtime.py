"""The worker's own mechanisms, driven in-process against the real Redis."""

import datetime as dt

import pytest

from worker.queues import enqueue, get_connection, get_queue
from worker.runtime import BookstoreWorker


@pytest.fixture
def worker(redis_conn, settings):
    settings.WORKER_HEARTBEAT_GRACE = 3
    return BookstoreWorker([get_queue("low")], connection=get_connection())


def take_without_starting(redis_conn, queue) -> str:
    """What a worker killed right after taking a job leaves behind."""
    job_id = redis_conn.lmove(queue.key, queue.intermediate_queue.key, "LEFT", "RIGHT").decode()
    return job_id


def age_first_seen(redis_conn, queue, job_id, seconds):
    key = queue.intermediate_queue.get_first_seen_key(job_id)
    redis_conn.set(key, (dt.datetime.now(dt.UTC) - dt.timedelta(seconds=seconds)).timestamp())


def test_a_job_taken_by_a_dead_worker_goes_back_to_the_head_of_its_queue(redis_conn, worker):
    queue = get_queue("low")
    lost, waiting = enqueue("cart:cleanup"), enqueue("cart:cleanup")
    assert take_without_starting(redis_conn, queue) == lost
    worker.clean_registries()  # first sight: too early to tell a dead worker from a slow one
    assert queue.get_job_ids() == [waiting]
    age_first_seen(redis_conn, queue, lost, 10)
    worker.clean_registries()
    assert queue.get_job_ids() == [lost, waiting]
    assert redis_conn.llen(queue.intermediate_queue.key) == 0
    assert queue.fetch_job(lost).retries_left == 1  # no retry charged: it never ran
    assert queue.failed_job_registry.count == 0


def test_a_job_that_already_ran_is_only_removed_from_the_intermediate_list(redis_conn, worker):
    queue = get_queue("low")
    job_id = enqueue("cart:cleanup")
    take_without_starting(redis_conn, queue)
    queue.fetch_job(job_id).set_status("finished")
    worker.clean_registries()
    age_first_seen(redis_conn, queue, job_id, 10)
    worker.clean_registries()
    assert queue.count == 0 and redis_conn.llen(queue.intermediate_queue.key) == 0
