"""The finish-and-take step (worker/take.py), in-process against the real Redis: what
it leaves in Redis is what rq's own success and start leave, in one script call."""

import pytest
from redis.exceptions import ConnectionError
from rq.job import Job, JobStatus
from rq.queue import Queue
from rq.serializers import JSONSerializer

from worker import keys
from worker.dequeue import WeightedDequeue
from worker.jobs import RegisteredJob
from worker.queues import enqueue, get_connection, get_queue
from worker.registry import QUEUE_NAMES
from worker.take import JobTrips, Taken

WORKER_KEY = keys.RQ_WORKER.format("w-test")


@pytest.fixture
def trips(redis_conn):
    queues = [get_queue(name) for name in QUEUE_NAMES]
    return JobTrips(get_connection(), queues, RegisteredJob, JSONSerializer)


def take(trips, order=QUEUE_NAMES, idle=True):
    return trips.take(list(order), WORKER_KEY, "w-test", 30, idle=idle)


def run(taken: Taken, value=None) -> Job:
    """What the worker does between the take and the finish."""
    job = taken.job
    job.started_at = taken.started_at
    job.ended_at = taken.started_at
    job._result = value
    return job


def calls(redis_conn) -> dict[str, int]:
    return {k.removeprefix("cmdstat_"): v["calls"] for k, v in redis_conn.info("commandstats").items()}


def test_a_take_moves_the_job_from_its_queue_straight_into_the_started_registry(redis_conn, trips):
    job_id = enqueue("cart:cleanup")
    taken = take(trips)
    assert isinstance(taken, Taken) and taken.job.id == job_id and taken.queue.name == "low"
    queue = get_queue("low")
    assert queue.count == 0
    assert redis_conn.llen(queue.intermediate_queue.key) == 0  # no step in between
    assert queue.started_job_registry.get_job_and_execution_ids(cleanup=False) == [
        (job_id, taken.execution.id)
    ]
    stored = Job.fetch(job_id, connection=redis_conn, serializer=JSONSerializer)
    assert stored.get_status() == JobStatus.STARTED and stored.worker_name == "w-test"
    assert redis_conn.hget(WORKER_KEY, "current_job").decode() == job_id
    assert redis_conn.hget(WORKER_KEY, "state") == b"busy"
    assert taken.job.started_at is None  # as read: the policy looks at the last start


def test_finishing_and_taking_is_one_script_of_twelve_commands_leaving_rq_s_success(redis_conn, trips):
    first, second = enqueue("cart:cleanup"), enqueue("cart:cleanup")
    taken = take(trips)
    trips.finished(run(taken, {"deleted": 3}), taken.queue, taken.execution, 3600, "w-test")
    before = calls(redis_conn)
    following = take(trips, idle=False)
    after = calls(redis_conn)
    used = {name: after[name] - before.get(name, 0) for name in after if after[name] != before.get(name, 0)}
    assert sum(used.values()) - used.get("info", 0) == 12, used
    assert used["evalsha"] == 1  # one round trip
    assert following.job.id == second

    queue = get_queue("low")
    job = Job.fetch(first, connection=redis_conn, serializer=JSONSerializer)
    assert job.get_status() == JobStatus.FINISHED and job.ended_at is not None
    assert job.return_value() == {"deleted": 3}  # the dashboard's result
    assert first in queue.finished_job_registry.get_job_ids(cleanup=False)
    assert first not in [j for j, _ in queue.started_job_registry.get_job_and_execution_ids(cleanup=False)]
    assert 3500 < redis_conn.ttl(job.key) <= 3600
    assert 3500 < redis_conn.ttl(f"rq:results:{first}") <= 3600
    assert redis_conn.hget(WORKER_KEY, "current_job").decode() == second


def test_the_first_non_empty_queue_in_the_drawn_order_gives_the_job(redis_conn, trips):
    low, default = enqueue("cart:cleanup"), enqueue("order:check_pending")
    assert take(trips, ["critical", "low", "default"]).job.id == low
    assert take(trips, ["critical", "low", "default"]).job.id == default
    assert take(trips, ["critical", "low", "default"]) is None


def test_nothing_to_take_marks_the_worker_idle_and_sends_a_remembered_success(redis_conn, trips):
    job_id = enqueue("cart:cleanup")
    taken = take(trips)
    trips.finished(run(taken), taken.queue, taken.execution, 60, "w-test")
    assert take(trips, idle=True) is None
    assert (
        Job.fetch(job_id, connection=redis_conn, serializer=JSONSerializer).get_status() == JobStatus.FINISHED
    )
    assert redis_conn.hget(WORKER_KEY, "current_job") is None
    assert redis_conn.hget(WORKER_KEY, "state") == b"idle"
    assert not trips.pending


def test_flush_sends_a_remembered_success_without_taking(redis_conn, trips):
    first, second = enqueue("cart:cleanup"), enqueue("cart:cleanup")
    taken = take(trips)
    trips.finished(run(taken), taken.queue, taken.execution, 60, "w-test")
    trips.flush(WORKER_KEY, idle=True)
    assert (
        Job.fetch(first, connection=redis_conn, serializer=JSONSerializer).get_status() == JobStatus.FINISHED
    )
    assert get_queue("low").get_job_ids() == [second]


def test_a_job_deleted_while_queued_is_skipped_without_a_trace(redis_conn, trips):
    job_id = enqueue("cart:cleanup")
    redis_conn.delete(keys.RQ_JOB.format(job_id))
    assert take(trips) == (job_id, get_queue("low"))
    assert not redis_conn.exists(keys.RQ_JOB.format(job_id))  # no partial hash written
    assert get_queue("low").started_job_registry.get_job_ids(cleanup=False) == []


def test_requeue_undoes_a_start_at_the_head_or_the_end_of_a_queue(redis_conn, trips):
    first, second = enqueue("cart:cleanup"), enqueue("cart:cleanup")
    dequeue = WeightedDequeue(get_connection(), [get_queue("low")], {"low": 1})
    taken = take(trips)
    dequeue.requeue(taken, "low", at_front=False)  # held back by its task's cap: to the end
    queue = get_queue("low")
    assert queue.get_job_ids() == [second, first]
    assert queue.started_job_registry.get_job_ids(cleanup=False) == []
    assert queue.fetch_job(first).get_status() == JobStatus.QUEUED
    taken = take(trips)
    dequeue.requeue(taken, "default", at_front=True)  # on another queue than its task's
    assert get_queue("default").get_job_ids() == [second]
    assert Queue("default", connection=redis_conn).fetch_job(second).origin == "default"


def test_the_take_holds_one_connection_and_a_broken_one_is_replaced_from_the_pool(redis_conn, trips):
    """The step runs on a connection the worker holds; one that breaks goes back to the
    pool and the next take checks out another (the pool's check-out is what follows a
    Sentinel failover: tests/faults/test_sentinel.py). No job is lost on the way."""
    assert take(trips) is None  # empty queues: the connection is held from here on
    held = trips._client()
    assert trips._client() is held
    clients_before = redis_conn.client_list()
    assert take(trips) is None
    assert len(redis_conn.client_list()) == len(clients_before)  # no connection per take

    redis_conn.client_kill_filter(_id=held.client_id())
    job_id = enqueue("cart:cleanup")
    try:
        taken = take(trips)
    except ConnectionError:
        assert trips._held is None  # dropped: the next take checks one out
        taken = take(trips)
    assert isinstance(taken, Taken) and taken.job.id == job_id
    assert trips._client() is not held
    trips.close()
    assert trips._held is None


def test_a_redis_that_forgot_the_script_gets_it_again(redis_conn, trips):
    """A restarted or failed-over Redis has no scripts cached: the take loads it again."""
    assert take(trips) is None
    redis_conn.script_flush()
    job_id = enqueue("cart:cleanup")
    taken = take(trips)
    assert isinstance(taken, Taken) and taken.job.id == job_id
    assert redis_conn.script_exists(trips._script.sha) == [True]
