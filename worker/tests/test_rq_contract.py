"""The contract between our worker and rq: what ``worker/runtime.py`` and its parts
assume of rq's code and of its keys in Redis. rq is pinned to one minor release in
pyproject.toml; upgrading it is a deliberate change, and this file says what to re-read.

Each failure names what changed. Before raising the pin, read rq's changelog for the
hooks below, adjust the overrides, then update the recorded signatures here.
"""

import inspect

import django_rq
import pytest
import rq
from rq.job import Job
from rq.queue import Queue
from rq.registry import FailedJobRegistry, FinishedJobRegistry, ScheduledJobRegistry, StartedJobRegistry
from rq.suspension import WORKERS_SUSPENDED
from rq.worker import SimpleWorker, Worker
from rq.worker_registration import REDIS_WORKER_KEYS

from worker import keys
from worker.jobs import RegisteredJob
from worker.runtime import BookstoreWorker

SUPPORTED_RQ = "2.12."
SUPPORTED_DJANGO_RQ = "4.2."

# The parameters of every rq method we override, as rq 2.12 defines them.
OVERRIDDEN = {
    (BookstoreWorker, SimpleWorker): {
        "work": [
            "self", "burst", "logging_level", "date_format", "log_format", "max_jobs", "max_idle_time",
            "with_scheduler", "dequeue_strategy",
        ],
        "_shutdown": ["self"],
        "dequeue_job_and_maintain_ttl": ["self", "timeout", "max_idle_time"],
        "reorder_queues": ["self", "reference_queue"],
        "clean_registries": ["self"],
        "get_heartbeat_ttl": ["self", "job"],
        "prepare_job_execution": ["self", "job", "remove_from_intermediate_queue"],
        "handle_execution_ended": ["self", "job", "queue", "heartbeat_ttl"],
        "handle_job_success": ["self", "job", "queue", "started_job_registry"],
        "perform_job": ["self", "job", "queue"],
        "heartbeat": ["self", "timeout", "pipeline"],
        "check_for_suspension": ["self", "burst"],
        "set_state": ["self", "state", "pipeline"],
        "bootstrap": ["self", "logging_level", "date_format", "log_format"],
        "register_birth": ["self"],
        "_install_signal_handlers": ["self"],
        "execute_job": ["self", "job", "queue"],
        "teardown": ["self"],
    },
    (RegisteredJob, Job): {
        "func": ["self"],
        "perform": ["self"],
    },
}  # fmt: skip


def _function(value):
    return value.fget if isinstance(value, property) else value


def _overrides(cls) -> set[str]:
    return {name for name, value in vars(cls).items() if getattr(_function(value), "__override__", False)}


def test_the_installed_rq_is_the_version_the_worker_was_written_for():
    assert rq.__version__.startswith(SUPPORTED_RQ), (
        f"rq {rq.__version__} is installed; the worker's hooks are written for rq {SUPPORTED_RQ}x. "
        "Re-read the overridden methods in rq's source before moving the pin (see this file's doc)."
    )
    assert django_rq.__version__.startswith(SUPPORTED_DJANGO_RQ), (
        f"django-rq {django_rq.__version__} is installed; tested with {SUPPORTED_DJANGO_RQ}x"
    )


@pytest.mark.parametrize(("ours", "base"), list(OVERRIDDEN))
def test_every_override_is_marked_and_recorded(ours, base):
    recorded = set(OVERRIDDEN[(ours, base)])
    assert _overrides(ours) == recorded, (
        f"{ours.__name__}: methods marked @override {sorted(_overrides(ours))} differ from those "
        f"recorded here {sorted(recorded)}"
    )


@pytest.mark.parametrize(
    ("ours", "base", "name"),
    [(ours, base, name) for (ours, base), methods in OVERRIDDEN.items() for name in methods],
)
def test_rq_still_has_each_overridden_method_with_the_same_parameters(ours, base, name):
    method = getattr(base, name, None)
    assert method is not None, f"rq's {base.__name__}.{name} is gone: {ours.__name__}.{name} is dead code"
    parameters = list(inspect.signature(_function(method)).parameters)
    assert parameters == OVERRIDDEN[(ours, base)][name], (
        f"rq's {base.__name__}.{name} now takes {parameters}, not {OVERRIDDEN[(ours, base)][name]}: "
        f"re-read it and adjust {ours.__name__}.{name}"
    )


def test_the_private_members_we_use_are_still_there():
    # handle_job_success writes the job's success in our one pipeline through this.
    assert list(inspect.signature(Job._handle_success).parameters) == [
        "self", "result_ttl", "pipeline", "worker_name", "execution_id", "execution_started_at",
        "execution_ended_at",
    ], "rq's Job._handle_success changed: re-read BookstoreWorker.handle_job_success"  # fmt: skip
    worker = SimpleWorker(["default"], connection=django_rq.get_connection("default"))
    # The work loop stops on this flag; our signal handling and recycling set it.
    assert worker._stop_requested is False, "rq's worker no longer has _stop_requested"
    # A crew's warm stop sets the date rq's heartbeat writes (set_shutdown_requested_date).
    assert "self._shutdown_requested_date" in inspect.getsource(Worker.set_shutdown_requested_date)
    # BookstoreWorker.bootstrap is rq's with its writes retried: the same steps.
    source = inspect.getsource(Worker.bootstrap)
    steps = [
        "setup_loghandlers",
        "self.register_birth()",
        "self.subscribe()",
        "self.set_state(WorkerStatus.STARTED)",
    ]
    assert all(step in source for step in steps), "rq's bootstrap changed: re-read BookstoreWorker.bootstrap"
    # RegisteredJob.perform is rq's without the PERSIST: the same steps otherwise.
    perform = inspect.getsource(Job.perform)
    assert "self.connection.persist(self.key)" in perform and "_job_stack.push(self)" in perform, (
        "rq's Job.perform changed: re-read RegisteredJob.perform"
    )
    # A crew's threads run jobs under rq's timer penalty, through this attribute.
    assert "self.death_penalty_class(timeout, JobTimeoutException" in inspect.getsource(Worker.perform_job)


def test_rq_s_failed_job_line_is_the_one_our_log_filter_drops():
    from worker.outcome import RQ_JOB_ERROR_MESSAGE

    assert repr(RQ_JOB_ERROR_MESSAGE)[1:-1] in inspect.getsource(SimpleWorker.handle_exception), (
        "rq's handle_exception logs another message now: update worker.outcome.RQ_JOB_ERROR_MESSAGE"
    )


def test_the_redis_key_formats_we_read_directly_are_rq_s():
    queue = Queue("default", connection=django_rq.get_connection("default"))
    assert keys.RQ_QUEUE.format("default") == queue.key
    assert keys.RQ_INTERMEDIATE.format("default") == queue.intermediate_queue_key
    assert keys.RQ_QUEUE.format("default") + ":intermediate" == queue.intermediate_queue_key, (
        "the Lua move in worker/dequeue.py builds the intermediate key as queue key + ':intermediate'"
    )
    assert keys.RQ_JOB.format("abc") == Job.key_for("abc")
    assert keys.RQ_WORKER.format("w1") == Worker.redis_worker_namespace_prefix + "w1"
    assert keys.RQ_WORKERS == REDIS_WORKER_KEYS
    assert keys.RQ_SUSPENDED == WORKERS_SUSPENDED
    assert Queue.redis_queues_keys == keys.RQ_QUEUES
    connection = queue.connection
    assert keys.RQ_STARTED.format("default") == StartedJobRegistry("default", connection=connection).key
    assert keys.RQ_SCHEDULED.format("default") == ScheduledJobRegistry("default", connection=connection).key
    assert keys.RQ_FAILED.format("default") == FailedJobRegistry("default", connection=connection).key
    assert keys.RQ_FINISHED.format("default") == FinishedJobRegistry("default", connection=connection).key


def test_the_functions_worker_rq_speedups_replaces_are_where_it_replaces_them():
    """worker/rq_speedups.py puts its functions in the rq modules that imported rq's by
    name; if rq moves them, the speed-up would silently not apply (or apply to nothing)."""
    import rq.serializers
    import rq.utils

    from worker import rq_speedups

    for module in rq_speedups.RESOLVE_SERIALIZER_USERS:
        assert module.resolve_serializer is rq_speedups.resolve_serializer, module.__name__
        assert "resolve_serializer(" in inspect.getsource(module), module.__name__
    assert rq_speedups._rq_resolve_serializer is inspect.unwrap(rq.serializers.resolve_serializer)
    assert rq.utils.utcparse is rq_speedups.utcparse
    assert "utcparse(" in inspect.getsource(rq.utils.str_to_date)
    assert "str_to_date(" in inspect.getsource(Job.restore)
    assert "Serializer" in inspect.getsource(rq_speedups._rq_resolve_serializer)
    assert rq_speedups._rq_utcparse.__module__ == "rq.utils"
