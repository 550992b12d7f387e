"""WORKER_CONCURRENCY: threads in one working process, each an rq worker of its own.
Real ``manage.py rqworker`` processes, real Redis and PostgreSQL, real signals."""

import os
import signal
import threading
import time
from collections import Counter

import pytest
from django.db import connection
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer
from rq.timeouts import JobTimeoutException

from tests.helpers import job_status, manage_env, registered_workers, run_manage, wait_until
from worker.crew import (
    OTHERS_IDLE_WAIT,
    Caps,
    IdleWatch,
    Slots,
    ThreadDeathPenalty,
    fire_due_penalties,
    member_names,
)
from worker.queues import enqueue, get_queue
from worker.registry import Task

ALL_QUEUES = ("critical", "high", "default", "low")


def start_worker(processes, *queues, threads: int, **env):
    worker = processes("rqworker", *(queues or ALL_QUEUES), WORKER_CONCURRENCY=str(threads), **env)
    wait_until(
        lambda: len(registered_workers()) == threads or not worker.alive(), timeout=20, what="the workers"
    )
    assert worker.alive(), worker.output()[-3000:]
    return worker


def worker_pid_of(worker) -> int:
    """The working (child) process of an rqworker: the pid its threads registered."""
    pids = {w.pid for w in registered_workers()}
    assert len(pids) == 1, pids
    return pids.pop()


# --- one process, many threads ----------------------------------------------------------


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_eight_threads_of_one_process_run_eight_jobs_at_once_each_with_its_own_database_session(
    redis_conn, processes
):
    if connection.vendor != "postgresql":
        pytest.skip("the session id is PostgreSQL's")
    job_ids = [enqueue("test:db_backend", "test:together", 8) for _ in range(8)]
    start_worker(processes, threads=8)
    wait_until(
        lambda: all(job_status(j) in (JobStatus.FINISHED, JobStatus.FAILED) for j in job_ids),
        timeout=40,
        what="the eight jobs",
    )
    assert [job_status(j) for j in job_ids] == [JobStatus.FINISHED] * 8  # all eight were running at once
    sessions = [v.decode().split(":") for v in redis_conn.lrange("test:together:backends", 0, -1)]
    assert len({backend for backend, _ in sessions}) == 8  # eight database sessions
    assert len({pid for _, pid in sessions}) == 1  # in one process
    names = sorted(w.name for w in registered_workers())
    stem = names[0].rsplit("-", 1)[0]
    assert names == sorted(f"{stem}-{n}" for n in range(1, 9))
    assert {m.decode() for m in redis_conn.smembers("test:together")} == set(names)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_sigterm_lets_every_running_thread_finish_its_job_and_unregisters_them_all(redis_conn, processes):
    job_ids = [enqueue("test:sleep", 1.5, "test:slept") for _ in range(24)]
    worker = start_worker(processes, threads=8)
    wait_until(
        lambda: get_queue("default").started_job_registry.count == 8, timeout=20, what="eight running jobs"
    )
    worker.send(signal.SIGTERM)
    assert worker.wait(timeout=20) == 0, worker.output()[-3000:]
    statuses = Counter(job_status(job_id) for job_id in job_ids)
    assert set(statuses) <= {JobStatus.FINISHED, JobStatus.QUEUED}, statuses  # none cut short
    assert statuses[JobStatus.FINISHED] == int(redis_conn.get("test:slept")) >= 8
    assert get_queue("default").started_job_registry.count == 0
    assert registered_workers() == []


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_kill_9_of_the_working_process_recovers_every_thread_s_job_and_each_runs_once_more(
    redis_conn, processes
):
    job_ids = [enqueue("test:slow_work", 3, f"test:starts:{n}") for n in range(8)]
    worker = start_worker(processes, threads=8)
    wait_until(
        lambda: get_queue("default").started_job_registry.count == 8, timeout=20, what="eight running jobs"
    )
    os.kill(worker_pid_of(worker), signal.SIGKILL)
    processes("run_scheduler")  # the retries wait their backoff in the scheduled registry
    wait_until(
        lambda: all(job_status(j) == JobStatus.FINISHED for j in job_ids), timeout=60, what="the retries"
    )
    # Each job started twice: once in the killed process, once after its recovery; none
    # was lost and none ran a third time.
    assert [redis_conn.llen(f"test:starts:{n}") for n in range(8)] == [2] * 8
    assert worker.output().count("died (signal 9)") == 1
    assert worker.alive()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_capped_task_never_runs_more_jobs_at_once_in_a_process_than_its_cap(redis_conn, processes):
    capped = [enqueue("test:capped", "test:capped", 0.3) for _ in range(6)]
    others = [enqueue("test:rendezvous", "test:others", 4) for _ in range(4)]
    start_worker(processes, threads=6)
    wait_until(
        lambda: all(job_status(j) == JobStatus.FINISHED for j in capped + others),
        timeout=60,
        what="every job",
    )
    # stats:daily-like jobs one at a time, while four other jobs ran side by side.
    assert [int(v) for v in redis_conn.lrange("test:capped:seen", 0, -1)] == [1] * 6
    assert get_queue("low").failed_job_registry.count == 0


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_thread_s_job_past_its_timeout_is_ended_by_the_timeout_exception(redis_conn, processes):
    job_id = enqueue("test:too_slow", "test:progress")
    stamps = [enqueue("test:stamp", "test:stamps") for _ in range(20)]
    worker = start_worker(processes, threads=4)
    wait_until(lambda: job_status(job_id) == JobStatus.FAILED, timeout=30, what="the timeout")
    job = Job.fetch(job_id, connection=redis_conn, serializer=JSONSerializer)
    assert "JobTimeoutException" in job.latest_result().exc_string
    assert [v.decode() for v in redis_conn.lrange("test:progress", 0, -1)] == ["started"]
    assert all(job_status(j) == JobStatus.FINISHED for j in stamps)  # the other threads went on
    line = next(line for line in worker.output().splitlines() if job_id in line and "failed" in line)
    assert "timed out after 1 s" in line


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_job_stuck_past_its_timeout_replaces_the_process_and_is_handled_as_abandoned(redis_conn, processes):
    # test:too_slow sleeps 10 s in C with a 1 s timeout: no exception reaches it before
    # the sleep returns. 1 s of grace later, its process gives way to a fresh one.
    job_id = enqueue("test:too_slow", "test:progress")
    worker = start_worker(processes, threads=4, WORKER_STUCK_JOB_GRACE="1")
    wait_until(lambda: "cannot be interrupted" in worker.output(), timeout=20, what="the stuck job")
    wait_until(lambda: job_status(job_id) == JobStatus.FAILED, timeout=20, what="the abandoned job's end")
    assert f"{job_id}: abandoned by dead worker" in worker.output()
    assert [v.decode() for v in redis_conn.lrange("test:progress", 0, -1)] == ["started"]
    after = enqueue("test:stamp", "test:after")
    wait_until(lambda: job_status(after) == JobStatus.FINISHED, timeout=20, what="a job in the fresh process")
    assert worker.alive()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_one_thread_is_one_worker_named_as_its_process_with_the_signal_timeout(redis_conn, processes):
    job_id = enqueue("test:too_slow", "test:progress")
    worker = start_worker(processes, threads=1)
    (registered,) = registered_workers()
    assert "-" not in registered.name  # the process's own name: today's single worker
    wait_until(lambda: job_status(job_id) == JobStatus.FAILED, timeout=20, what="the timeout")
    job = Job.fetch(job_id, connection=redis_conn, serializer=JSONSerializer)
    assert "JobTimeoutException" in job.latest_result().exc_string
    worker.send(signal.SIGTERM)
    assert worker.wait(timeout=10) == 0


def test_a_concurrency_below_one_is_refused_naming_the_setting():
    result = run_manage("check", env=manage_env(WORKER_CONCURRENCY="0"))
    assert result.returncode != 0
    assert "WORKER_CONCURRENCY must be 1 or more" in result.stderr


# --- the shared parts ---------------------------------------------------------------------


def test_slots_hold_an_exact_limit_and_come_back_when_no_job_was_taken():
    slots = Slots(2)
    assert slots.take() and slots.take()
    assert not slots.take() and slots.exhausted
    slots.give_back()
    assert not slots.exhausted and slots.take()
    unlimited = Slots(None)
    assert all(unlimited.take() for _ in range(1000)) and not unlimited.exhausted


def test_caps_count_running_jobs_per_task():
    def noop():
        pass

    capped = Task("t:capped", noop, "low", 0, 10, "test", max_concurrency=2)
    free = Task("t:free", noop, "low", 0, 10, "test")
    caps = Caps()
    assert caps.acquire(capped) and caps.acquire(capped)
    assert not caps.acquire(capped)
    assert all(caps.acquire(free) for _ in range(50))  # no cap
    assert caps.acquire(None)  # a job of no registered task
    caps.release(capped)
    assert caps.acquire(capped)


def test_member_names():
    assert member_names("abc", 1) == ["abc"]
    assert member_names("abc", 3) == ["abc-1", "abc-2", "abc-3"]


def test_one_idle_thread_watches_the_queues_and_the_others_wait_on_tokens_longer():
    watch = IdleWatch()
    first, second = object(), object()
    assert watch.seconds(first, 0.2) == 0.2  # the watcher
    assert watch.seconds(second, 0.2) == OTHERS_IDLE_WAIT
    assert watch.seconds(first, 0.2) == 0.2  # still the watcher
    watch.leave(first)  # it took a job
    assert watch.seconds(second, 0.2) == 0.2


def _run_in_thread(body) -> dict:
    """Runs ``body`` in a thread of its own; returns what it raised or returned."""
    out: dict = {}

    def target():
        try:
            out["returned"] = body()
        except BaseException as error:
            out["raised"] = error

    thread = threading.Thread(target=target)
    thread.start()
    return out, thread


def test_a_due_penalty_raises_the_timeout_in_the_job_s_thread_with_its_timeout_in_the_message():
    armed = threading.Event()

    def job():
        with ThreadDeathPenalty(1, JobTimeoutException, job_id="j"):
            armed.set()
            for _ in range(400):  # Python bytecode: the exception lands between two
                time.sleep(0.01)
        return "finished"

    out, thread = _run_in_thread(job)
    assert armed.wait(5)
    fire_due_penalties(time.monotonic())  # not due yet: nothing happens
    time.sleep(0.3)
    assert thread.is_alive()
    fire_due_penalties(time.monotonic() + 1)
    thread.join(5)
    assert isinstance(out.get("raised"), JobTimeoutException), out
    assert "Task exceeded maximum timeout value (1 seconds)" in str(out["raised"])
    assert type(out["raised"]).__name__ == "JobTimeoutException"


def test_a_penalty_cannot_fire_once_its_block_has_ended_nor_without_a_timeout():
    def job():
        with ThreadDeathPenalty(1, JobTimeoutException, job_id="j"):
            pass
        with ThreadDeathPenalty(0, JobTimeoutException, job_id="k"):  # no timeout
            fire_due_penalties(time.monotonic() + 10**6)
            time.sleep(0.05)
        fire_due_penalties(time.monotonic() + 10)  # the first block's deadline long past
        time.sleep(0.05)
        return "finished"

    out, thread = _run_in_thread(job)
    thread.join(5)
    assert out == {"returned": "finished"}
