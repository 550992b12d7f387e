"""The worker class under real ``manage.py rqworker`` processes, real Redis, real signals."""

import signal
from collections import Counter

import pytest
from django.conf import settings
from rq import Queue
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer

from tests import jobs
from tests.helpers import job_status, registered_workers, run_marker_job, wait_until
from worker.queues import TaskCall, enqueue, enqueue_many, get_queue

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ALL_QUEUES = ("critical", "high", "default", "low")


def start_worker(processes, *queues, **env):
    """Starts one rqworker and waits until its worker process is registered with rq."""
    worker = processes("rqworker", *(queues or ALL_QUEUES), **env)
    wait_until(lambda: registered_workers() or not worker.alive(), timeout=15, what="the worker")
    assert worker.alive(), worker.output()
    return worker


def test_a_running_job_finishes_on_sigterm_and_the_worker_exits_0(redis_conn, processes):
    job_ids = [enqueue("test:sleep", 0.2, "test:slept") for _ in range(40)]
    worker = start_worker(processes)
    wait_until(lambda: redis_conn.get("test:slept"), timeout=20, what="the first jobs")
    worker.send(signal.SIGTERM)
    assert worker.wait(timeout=15) == 0, worker.output()

    statuses = Counter(job_status(job_id) for job_id in job_ids)
    assert set(statuses) <= {JobStatus.FINISHED, JobStatus.QUEUED}, statuses
    assert statuses[JobStatus.FINISHED] == int(redis_conn.get("test:slept"))
    assert 0 < statuses[JobStatus.FINISHED] < 40
    queue = get_queue("default")
    assert queue.started_job_registry.count == 0
    assert queue.failed_job_registry.count == 0
    assert queue.count == statuses[JobStatus.QUEUED]


def test_a_function_outside_the_registry_is_refused_and_never_called(redis_conn, processes, tmp_path):
    marker = tmp_path / "pwned"
    raw = Queue("default", connection=redis_conn, serializer=JSONSerializer)
    job = raw.enqueue("os.system", f"touch {marker}", job_id="intruder")
    # The same, pickled, as a client using rq's default serializer would write it.
    pickled = Queue("default", connection=redis_conn).enqueue(
        "os.system", f"touch {marker}", job_id="pickled"
    )
    worker = start_worker(processes)
    wait_until(lambda: get_queue("default").failed_job_registry.count == 2, timeout=20, what="both refused")
    worker.send(signal.SIGTERM)
    worker.wait(timeout=10)

    assert not marker.exists()
    failed = Job.fetch(job.id, connection=redis_conn, serializer=JSONSerializer)
    assert failed.get_status() == JobStatus.FAILED
    assert "task not registered: os.system" in failed.latest_result().exc_string
    assert pickled.id in get_queue("default").failed_job_registry.get_job_ids()
    assert "task not registered: os.system" in worker.output()


def test_a_permanent_error_fails_at_once_with_its_message(redis_conn, processes):
    job_id = enqueue("test:permanent", "test:attempts")
    start_worker(processes)
    # Without run_scheduler a retry (1 s backoff) would wait in the scheduled registry
    # for ever and the attempt count could not tell.
    processes("run_scheduler")
    wait_until(lambda: job_status(job_id) == JobStatus.FAILED, timeout=20, what="the failure")
    # A marker due after the first retry would have been: once it has run, so would have
    # a retry, on this one worker.
    run_marker_job(delay=2)
    assert redis_conn.llen("test:attempts") == 1
    job = Job.fetch(job_id, connection=redis_conn, serializer=JSONSerializer)
    assert len(job.results()) == 1  # one execution: rq records a result for each
    assert "status change completed -> pending is not allowed" in job.latest_result().exc_string
    assert job.get_status() == JobStatus.FAILED


def test_a_job_past_its_timeout_is_ended_and_failed(redis_conn, processes):
    job_id = enqueue("test:too_slow", "test:progress")
    worker = start_worker(processes)
    wait_until(lambda: job_status(job_id) == JobStatus.FAILED, timeout=20, what="the timeout")
    job = Job.fetch(job_id, connection=redis_conn, serializer=JSONSerializer)
    assert "JobTimeoutException" in job.latest_result().exc_string
    assert [v.decode() for v in redis_conn.lrange("test:progress", 0, -1)] == ["started"]
    line = next(line for line in worker.output().splitlines() if job_id in line and "failed" in line)
    assert "timed out after 1 s" in line and "args=['test:progress']" in line


def test_queues_are_taken_in_proportion_to_their_weights(redis_conn, processes):
    per_queue = 1000
    enqueue_many([TaskCall(f"test:record_{queue}") for queue in ALL_QUEUES for _ in range(per_queue)])
    start_worker(processes)
    wait_until(lambda: redis_conn.llen(jobs.RECORD_KEY) == 4 * per_queue, timeout=120, what="all jobs")
    order = [entry.decode().split(":", 1)[0] for entry in redis_conn.lrange(jobs.RECORD_KEY, 0, -1)]
    # While every queue still has work (critical, the fastest, empties after about 1,900
    # jobs), the shares follow 10:5:3:1.
    first = Counter(order[:1200])
    expected = {"critical": 10 / 19, "high": 5 / 19, "default": 3 / 19, "low": 1 / 19}
    for queue, share in expected.items():
        assert abs(first[queue] / 1200 - share) < 0.25 * share + 0.01, (queue, first)
    # Low never starves, and runs alone once the others are empty.
    assert first["low"] > 0
    assert order[-50:] == ["low"] * 50


def test_a_worker_process_crashing_mid_job_is_replaced_and_the_job_retried(redis_conn, processes):
    job_id = enqueue("test:crash_once", "test:crash")
    worker = start_worker(processes, "default", "low")
    # The retry waits 1 s in the scheduled registry; run_scheduler moves it when due.
    processes("run_scheduler")
    wait_until(lambda: job_status(job_id) == JobStatus.FINISHED, timeout=30, what="the retried job")
    assert int(redis_conn.get("test:crash")) == 2
    assert worker.alive()
    assert "died (signal 9)" in worker.output()


def test_a_leaking_worker_process_is_recycled_above_its_memory_limit(redis_conn, processes):
    # Each of the process's threads may take a job before the first one ends: three jobs
    # per thread (three threads' worth at least) leak past the limit whatever
    # WORKER_CONCURRENCY is.
    count = 3 * max(settings.WORKER_CONCURRENCY, 3)
    enqueue_many([TaskCall("test:leak", (30,)) for _ in range(count)])
    worker = start_worker(processes, "default", WORKER_MAX_RSS_MB="150")
    wait_until(lambda: redis_conn.llen(jobs.RECORD_KEY) == count, timeout=60, what="the leaking jobs")
    pids = {entry.decode().rsplit(":", 1)[1] for entry in redis_conn.lrange(jobs.RECORD_KEY, 0, -1)}
    assert len(pids) >= 2, "the worker process was never replaced"
    assert "recycling" in worker.output()
    assert worker.alive()
    assert get_queue("default").failed_job_registry.count == 0


def test_the_pool_command_runs_jobs_with_the_same_worker_class(redis_conn, processes):
    # Two jobs that each hold until two workers have taken one: however the pool's
    # workers start, both must be taking jobs for these to finish.
    gate = [enqueue("test:rendezvous", "test:pool_workers", 2) for _ in range(2)]
    enqueue_many([TaskCall("test:record_default") for _ in range(200)] + [TaskCall("test:record_low")])
    raw = Queue("default", connection=redis_conn, serializer=JSONSerializer)
    intruder = raw.enqueue("os.system", "true", job_id="intruder-pool")
    pool = processes("rqworker-pool", *ALL_QUEUES, "--num-workers", "2")
    wait_until(lambda: redis_conn.llen(jobs.RECORD_KEY) == 201, timeout=60, what="the pool's jobs")
    assert [job_status(job_id) for job_id in gate] == [JobStatus.FINISHED] * 2
    assert redis_conn.scard("test:pool_workers") == 2
    wait_until(lambda: job_status(intruder.id) == JobStatus.FAILED, timeout=10, what="the refusal")
    pool.send(signal.SIGTERM)
    assert pool.wait(timeout=20) == 0, pool.output()


def test_a_busy_worker_spends_at_most_12_redis_commands_a_job(redis_conn, processes):
    """The lean path (worker/take.py): one script of 12 commands per job while busy,
    counted by Redis itself (INFO commandstats), whatever the worker sends besides."""
    count = 2000
    start_worker(processes, "default")
    wait_until(lambda: "idle" in {w.get_state() for w in registered_workers()}, timeout=15, what="idle")

    def calls() -> dict[str, int]:
        stats = redis_conn.info("commandstats")
        return {name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in stats.items()}

    before_enqueue = calls()
    enqueue_many([TaskCall("test:noop") for _ in range(count)])
    before_drain = calls()
    finished = get_queue("default").finished_job_registry
    wait_until(lambda: redis_conn.zcard(finished.key) == count, timeout=120, what="the drain")
    after = calls()
    enqueued = sum(before_drain.values()) - sum(before_enqueue.values())
    worker = {name: n - before_drain.get(name, 0) for name, n in after.items()}
    total = sum(worker.values()) - worker.get("info", 0) - worker.get("zcard", 0)  # this test's own
    used = ", ".join(f"{k} {v}" for v, k in sorted(((v, k) for k, v in worker.items() if v), reverse=True))
    assert total / count <= 12.5, f"{total / count:.2f} commands a job: {used} (enqueue: {enqueued})"
    # One script call (one round trip) per job, plus the looks of threads that found the
    # queue empty as it ran dry (each waits on the wake-up list between two).
    assert worker["evalsha"] <= 1.25 * count
