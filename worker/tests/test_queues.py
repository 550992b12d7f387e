import datetime as dt
import json
import zlib

import pytest
from django.db import transaction
from django.utils import timezone
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer

from worker.jobs import RegisteredJob
from worker.queues import TaskCall, enqueue, enqueue_many, enqueue_once, get_queue

ORDER_ID = "5f0c7a4e-8d7b-4f7e-9a51-3f1d2c9b8a70"


def fetch(redis_conn, job_id) -> Job:
    return Job.fetch(job_id, connection=redis_conn, serializer=JSONSerializer)


def test_enqueue_applies_the_registry_policy(redis_conn):
    job = fetch(redis_conn, enqueue("order:update_status", ORDER_ID, "confirmed", note="x"))
    assert job.origin == "default"
    assert job.func_name == "orders.tasks.update_order_status"
    assert job.args == [ORDER_ID, "confirmed"] and job.kwargs == {"note": "x"}
    assert job.timeout == 30 and job.retries_left == 3 and job.retry_intervals == [1, 2, 4]
    assert get_queue("default").count == 1
    # Stored as JSON: readable by anything, runnable by nothing.
    data = zlib.decompress(redis_conn.hget(f"rq:job:{job.id}", "data"))
    assert json.loads(data)[0] == "orders.tasks.update_order_status"


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((), {}, "task order:update_status: missing a required argument: 'order_id'"),
        ((ORDER_ID, "confirmed"), {"colour": "red"}, "unexpected keyword argument 'colour'"),
        ((ORDER_ID, dt.date(2026, 1, 1)), {}, "arguments must be JSON"),
    ],
)
def test_bad_arguments_are_refused_before_anything_is_enqueued(redis_conn, args, kwargs, message):
    with pytest.raises(TypeError, match=message):
        enqueue("order:update_status", *args, **kwargs)
    assert get_queue("default").count == 0


@pytest.mark.django_db
def test_inside_a_transaction_the_job_waits_for_the_commit(redis_conn, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
        enqueue("cart:cleanup")
        assert get_queue("low").count == 0
    assert len(callbacks) == 1
    assert get_queue("low").count == 1


@pytest.mark.django_db
def test_a_rolled_back_transaction_enqueues_nothing(redis_conn, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        enqueue("cart:cleanup")
        raise RuntimeError("rollback")
    assert get_queue("low").count == 0


def test_a_job_id_makes_the_enqueue_unique(redis_conn):
    assert enqueue_once("cart:cleanup", job_id="sched-cart-cleanup-20261124T0100") is True
    assert enqueue_once("cart:cleanup", job_id="sched-cart-cleanup-20261124T0100") is False
    enqueue("cart:cleanup", job_id="sched-cart-cleanup-20261124T0100")
    assert get_queue("low").count == 1


def test_delay_and_at_make_scheduled_jobs(redis_conn):
    delayed = fetch(redis_conn, enqueue("cart:cleanup", delay=3600, job_id="later"))
    at = timezone.now() + dt.timedelta(days=1)
    planned = fetch(redis_conn, enqueue("cart:cleanup", at=at))
    assert delayed.get_status() == planned.get_status() == JobStatus.SCHEDULED
    registry = get_queue("low").scheduled_job_registry
    assert set(registry.get_job_ids()) == {"later", planned.id}
    assert registry.get_scheduled_time(planned).timestamp() == int(at.timestamp())
    # Unique for delayed jobs too: COD auto-confirm is enqueued once per order.
    enqueue("cart:cleanup", delay=10, job_id="later")
    assert registry.count == 2
    with pytest.raises(ValueError, match="aware datetime"):
        enqueue("cart:cleanup", at=dt.datetime(2026, 1, 1))  # noqa: DTZ001


def test_enqueue_many_sends_jobs_across_queues_in_one_round_trip(redis_conn, monkeypatch):
    from redis.client import Pipeline

    executed = []
    original = Pipeline.execute
    monkeypatch.setattr(
        Pipeline, "execute", lambda self, *a, **k: executed.append(len(self)) or original(self, *a, **k)
    )
    calls = [TaskCall("cart:cleanup")] * 3 + [TaskCall("order:update_status", (ORDER_ID, "confirmed"))] * 2
    ids = enqueue_many(calls)
    assert len(set(ids)) == 5
    assert executed and len(executed) == 1
    assert get_queue("low").count == 3 and get_queue("default").count == 2


def test_enqueue_many_checks_every_call_first(redis_conn):
    with pytest.raises(TypeError, match="task order:update_status"):
        enqueue_many([TaskCall("cart:cleanup"), TaskCall("order:update_status", ("only-one-argument",))])
    assert get_queue("low").count == 0


def test_a_job_naming_an_unregistered_function_cannot_resolve_it(redis_conn):
    job = RegisteredJob.create("os.system", args=["true"], connection=redis_conn, serializer=JSONSerializer)
    with pytest.raises(Exception, match="task not registered: os.system"):
        _ = job.func


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ([], {}, "missing a required argument: 'order_id'"),
        (["a", "b", "c", "d"], {}, "too many positional arguments"),
        (["a", "b"], {"nope": 1}, "got an unexpected keyword argument 'nope'"),
        (["a", "b"], {"order_id": "a"}, "multiple values for argument 'order_id'"),
    ],
)
def test_a_job_whose_arguments_do_not_fit_its_task_fails_for_good_naming_the_misfit(
    redis_conn, args, kwargs, message
):
    """Written by hand into Redis, say: the check is by the arguments' count and names,
    kept per shape, and says what rq's own binding says."""
    from worker.exceptions import PermanentTaskError

    function = "orders.tasks.update_order_status"
    job = RegisteredJob.create(
        function, args=args, kwargs=kwargs, connection=redis_conn, serializer=JSONSerializer
    )
    job.save()
    for _ in range(2):  # the second time from the kept answer
        fresh = RegisteredJob.fetch(job.id, connection=redis_conn, serializer=JSONSerializer)
        with pytest.raises(PermanentTaskError, match=f"task order:update_status: .*{message}"):
            _ = fresh.func
    good = RegisteredJob.create(function, args=["a", "b"], connection=redis_conn, serializer=JSONSerializer)
    assert good.func.__name__ == "update_order_status"
