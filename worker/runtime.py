"""The worker class behind ``manage.py rqworker critical high default low``.

It is rq's ``SimpleWorker`` with its hooks filled in by parts that each do one thing:

* ``worker/supervisor.py``: the parent that forks the long-lived working process and
  starts a fresh one when it ends without a stop (recycling, crashes, errors).
* ``worker/dequeue.py``: weighted queue order and the atomic move of a job id.
* ``worker/policy.py``: the registered task's retries, backoff and timeout, whoever made
  the job, and which errors are permanent.
* ``worker/recovery.py``: abandoned jobs and job ids left in the intermediate lists.
* ``worker/heartbeats.py``: the running job's heartbeats, from a side thread.
* ``worker/outcome.py``: one log line per attempt, and the shared job counters.

What stays here is the glue, each rq hook marked ``@override``. The rq version these
hooks are written against is pinned exactly in pyproject.toml, and
``worker/tests/test_rq_contract.py`` fails with a clear message when rq's signatures, the
private members used here or its key formats change.

The worker stays up: a Redis that is away (down, timing out, read-only, out of memory)
or a database that refuses connections pauses it, and it resumes within a couple of
seconds of their return. Only a requested stop, ``--burst`` or ``--max-jobs`` ends it.
"""

from __future__ import annotations

import gc
import logging
import os
import resource
import signal
import threading
import time
from contextlib import suppress
from functools import partial

import redis
import rq
from django.conf import settings
from django.db import DatabaseError, close_old_connections, connections
from rq.defaults import DEFAULT_LOGGING_DATE_FORMAT, DEFAULT_LOGGING_FORMAT
from rq.exceptions import StopRequested
from rq.job import Job, JobStatus
from rq.logutils import setup_loghandlers
from rq.queue import Queue
from rq.serializers import JSONSerializer
from rq.utils import now
from rq.worker import SimpleWorker, WorkerStatus
from typing_extensions import override

from worker import outcome, policy, wake
from worker.connection import get_connection
from worker.counters import FAILED, SUCCESS, Tally
from worker.crew import Crew, ThreadDeathPenalty, member_names
from worker.dequeue import WeightedDequeue
from worker.heartbeats import JobHeartbeats
from worker.jobs import RegisteredJob
from worker.recovery import Recovery
from worker.redis_checks import eviction_problem
from worker.supervisor import EXIT_DONE, EXIT_ERROR, EXIT_RECYCLE, JobCounter, Supervisor
from worker.take import JobTrips, Taken
from worker.wake import WakingQueue

logger = logging.getLogger("worker.jobs")

# Redis errors that mean "Redis is away for now", not "this job is wrong".
REDIS_UNAVAILABLE = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    redis.exceptions.ReadOnlyError,
    redis.exceptions.OutOfMemoryError,
)
MAX_PAUSE = 2.0  # seconds between two looks at a Redis or database that is away
OUTAGE_LOG_EVERY = 30.0  # seconds between two log lines about the same outage


_statm: tuple[int, int] | None = None  # (pid, descriptor of its /proc/self/statm)
_PAGE_MB = os.sysconf("SC_PAGE_SIZE") / 2**20


def current_rss_mb() -> float:
    """This process's resident memory, read after every job: the file stays open (one
    per process, opened again in a forked child), so a read costs a few microseconds."""
    global _statm
    if _statm is None or _statm[0] != os.getpid():
        _statm = (os.getpid(), os.open("/proc/self/statm", os.O_RDONLY))
    return int(os.pread(_statm[1], 128, 0).split()[1]) * _PAGE_MB


def peak_rss_mb() -> float:
    """The most resident memory this process has had (never less than its RSS now), from
    a call that keeps the GIL: reading the /proc file hands the GIL to another of the
    threads and waits to get it back, which showed as 4 % of a no-op job's time."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Outage:
    """Logs an outage of ``what`` once when it starts, every 30 s while it lasts, and
    once when it ends; and paces the retries (0.25 s doubling to 2 s)."""

    def __init__(self, what: str, worker_name):
        self.what = what
        self._worker_name = worker_name
        self._since: float | None = None
        self._logged_at = 0.0
        self.pause = 0.0

    def failed(self, error: BaseException) -> float:
        at = time.monotonic()
        if self._since is None:
            self._since = at
        if at - self._logged_at >= OUTAGE_LOG_EVERY:
            self._logged_at = at
            logger.error(
                "worker %s: %s unavailable for %.0f s (%s: %s); pausing, looking again every %.0f s or less",
                self._worker_name(),
                self.what,
                at - self._since,
                type(error).__name__,
                error,
                MAX_PAUSE,
            )
        self.pause = min(max(self.pause * 2, 0.25), MAX_PAUSE)
        return self.pause

    def ok(self) -> None:
        if self._since is not None:
            logger.warning(
                "worker %s: %s reachable again after %.1f s; resuming",
                self._worker_name(),
                self.what,
                time.monotonic() - self._since,
            )
        self._since, self._logged_at, self.pause = None, 0.0, 0.0


class BookstoreWorker(SimpleWorker):
    job_class = RegisteredJob
    log_result_lifespan = False

    def __init__(self, queues, *args, **kwargs):
        # Whatever the command line says (django-rq's rqworker passes pickle by default),
        # jobs are JSON: nothing this process reads from Redis can run code when loaded.
        kwargs["serializer"] = JSONSerializer
        # And Redis is reached through the project's one connection factory, whatever
        # connection the command built (rqworker-pool rebuilds one in each child from
        # the parent's pool arguments): worker/connection.py.
        kwargs["connection"] = get_connection()
        kwargs["queue_class"] = WakingQueue  # rq's own re-queues (retries) wake workers too
        kwargs["job_class"] = RegisteredJob
        kwargs["worker_ttl"] = settings.WORKER_TTL
        kwargs["maintenance_interval"] = settings.WORKER_MAINTENANCE_INTERVAL
        kwargs["job_monitoring_interval"] = settings.WORKER_HEARTBEAT_INTERVAL
        names = [queue.name if isinstance(queue, Queue) else queue for queue in queues]
        super().__init__(names, *args, **kwargs)
        handlers = [policy.on_failure, self._remember_exception]
        for handler in handlers:
            self.push_exc_handler(handler)
        self._dequeue = WeightedDequeue(self.connection, self.queues, settings.WORKER_QUEUE_WEIGHTS)
        self._trips = JobTrips(self.connection, self.queues, RegisteredJob, self.serializer)
        self._taken_at = None  # when the take step marked the current job started
        self._successes = 0  # this worker's successes and their seconds, not yet sent
        self._working_seconds = 0.0
        self._recovery = Recovery(self.connection, self.queues, handlers)
        self._heartbeats = JobHeartbeats(self.job_monitoring_interval, self._beat, lambda: self.name)
        self._redis_outage = Outage("Redis", lambda: self.name)
        self._database_outage = Outage("the database", lambda: self.name)
        self._is_child = False
        self._parent_pid = os.getpid()
        self._recycle = False
        self._idle_exit = False
        self._jobs_done = 0
        self._job_counter: JobCounter | None = None
        self._connections_tended_at = 0.0
        self._suspension_checked_at = 0.0
        self._state_sent: str | None = None
        self._current_task = None
        self._attempt = 1
        self._last_exception: BaseException | None = None
        self._stop_unrecorded = False
        self._tally = Tally()  # job metrics, sent to Redis about once a second
        # With WORKER_CONCURRENCY > 1, this worker is one thread of a crew (worker/crew.py).
        self._crew: Crew | None = None
        self.job_deadline: float | None = None  # monotonic time the running job's timeout ends
        self.stuck = False
        self.ended_on_error = False
        self._limit_reached = False
        self._held_back: set[str] = set()  # job ids put back for their task's cap since the last take

    # --- supervision ---------------------------------------------------------------------

    @override
    def work(
        self, burst: bool = False, logging_level: str | None = None, max_jobs: int | None = None, **kwargs
    ):
        kwargs.pop("with_scheduler", None)  # run_scheduler moves delayed jobs, not workers
        # rq logs two lines a job at INFO; ours logs one. rq's own lines show at -v 2.
        logging_level = "DEBUG" if logging_level == "DEBUG" else settings.RQ_LOG_LEVEL
        kwargs.update(burst=burst, logging_level=logging_level)
        if self._is_child:
            return super().work(max_jobs=max_jobs, **kwargs)
        self._refuse_an_evicting_redis()
        supervisor = Supervisor(
            partial(self._run_child, work_kwargs=kwargs),
            self._recover_process,
            burst=burst,
            max_jobs=max_jobs,
        )
        return supervisor.run()

    def _recover_process(self, name: str) -> None:
        """Recovers the jobs of working process ``name``, which died: its one worker, or
        each of its threads'."""
        for member in member_names(name, settings.WORKER_CONCURRENCY):
            self._recovery.recover_dead_worker(type(self), member)

    def _refuse_an_evicting_redis(self) -> None:
        """Exits 1 before taking any job from a Redis that may evict queued jobs. A Redis
        that is away is waited for by the working process, not refused."""
        try:
            problem = eviction_problem(self.connection)
        except REDIS_UNAVAILABLE:
            return
        if problem:
            logger.error("worker: refusing to start: %s", problem)
            raise SystemExit(1)

    def _run_child(self, name: str, jobs_left: int | None, counter: JobCounter, work_kwargs: dict) -> int:
        """Runs in the forked child: works until stopped, due for recycling, or an error
        ends rq's loop; returns the exit code that tells the supervisor which."""
        self._is_child = True
        self.name = name
        self.pid = os.getpid()
        self._job_counter = counter
        # Django and the project are loaded and never freed: keep the garbage collector
        # from walking them again after every few hundred allocations of a job.
        gc.freeze()
        signal.signal(signal.SIGTERM, self.request_stop)
        signal.signal(signal.SIGINT, self.request_stop)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})  # blocked at fork
        if not self._wait_for_redis():
            return EXIT_DONE
        recycle_after = settings.WORKER_MAX_JOBS or None
        limits = [n for n in (jobs_left, recycle_after) if n]
        limit = min(limits) if limits else None
        if settings.WORKER_CONCURRENCY > 1:
            return self._run_crew(name, jobs_left, limit, work_kwargs)
        try:
            super().work(max_jobs=limit, **work_kwargs)
        except StopRequested:
            pass  # asked to stop while waiting for Redis at start-up
        except BaseException:
            logger.exception("worker %s stopped on an error", name)
            return EXIT_ERROR
        finally:
            self._flush_tally()
        if self._recycle:
            return EXIT_RECYCLE
        if self._stop_requested or self._idle_exit:
            return EXIT_DONE
        if limit is not None and self._jobs_done >= limit:
            return EXIT_DONE if jobs_left is not None and self._jobs_done >= jobs_left else EXIT_RECYCLE
        return EXIT_ERROR  # rq's loop ended on an error it logged (a Redis timeout, say)

    def _run_crew(self, name: str, jobs_left: int | None, limit: int | None, work_kwargs: dict) -> int:
        """WORKER_CONCURRENCY threads, each a worker of its own (worker/crew.py); returns
        the exit code for the supervisor, as ``_run_child`` does for one."""
        crew = Crew(limit, settings.WORKER_STUCK_JOB_GRACE)
        members = [self._member(member, crew) for member in member_names(name, settings.WORKER_CONCURRENCY)]
        try:
            crew.run(members, partial(BookstoreWorker._work_in_thread, work_kwargs=work_kwargs))
        except SystemExit:
            logger.warning("worker %s: cold stop; its running jobs are recovered as abandoned", name)
            return EXIT_ERROR
        if crew.stuck or any(member.ended_on_error for member in members):
            return EXIT_ERROR
        if any(member._recycle for member in members):
            return EXIT_RECYCLE
        if crew.slots.exhausted:
            done = sum(member._jobs_done for member in members)
            return EXIT_DONE if jobs_left is not None and done >= jobs_left else EXIT_RECYCLE
        return EXIT_DONE

    def _member(self, name: str, crew: Crew) -> BookstoreWorker:
        member = type(self)(self.queue_names(), name=name)
        member._is_child = True
        member._parent_pid = self._parent_pid
        member._job_counter = self._job_counter
        member._crew = crew
        # One log line per outage for the process, not one per thread.
        member._redis_outage = self._redis_outage
        member._database_outage = self._database_outage
        member.death_penalty_class = ThreadDeathPenalty
        return member

    def _work_in_thread(self, work_kwargs: dict) -> None:
        """A crew member's thread: rq's loop, with this worker's hooks, until stopped."""
        self.ended_on_error = False
        try:
            self.work(max_jobs=None, **work_kwargs)
        except StopRequested:
            pass
        except BaseException:
            logger.exception("worker %s stopped on an error", self.name)
            self.ended_on_error = True
        finally:
            self._crew.idle.leave(self)
            self._flush_tally()
            connections.close_all()  # this thread's own connections
        if not (self._stop_requested or self._idle_exit or self._limit_reached or self._recycle):
            self.ended_on_error = True  # rq's loop ended on an error it logged
        if self.ended_on_error:
            self._stop_requested = True  # the others stop too: the process is replaced

    def request_warm_stop(self) -> None:
        """Every running job finishes; no new one is taken. (rq's request_stop, without
        its signal handling, which the crew does.)"""
        if self._shutdown_requested_date is None:
            self._shutdown_requested_date = now()
        self._shutdown()

    @override
    def _install_signal_handlers(self):
        if threading.current_thread() is threading.main_thread():
            super()._install_signal_handlers()  # a crew's signals go to Crew.run's handlers

    def _wait_for_redis(self) -> bool:
        """Waits for Redis before registering; False if a stop came first."""
        while not self._stop_requested:
            try:
                self.connection.ping()
            except REDIS_UNAVAILABLE as error:
                self._pause(self._redis_outage.failed(error))
                continue
            self._redis_outage.ok()
            return True
        return False

    @override
    def register_birth(self):
        self._while_redis_is_away(super().register_birth)

    @override
    def bootstrap(
        self, logging_level="INFO", date_format=DEFAULT_LOGGING_DATE_FORMAT, log_format=DEFAULT_LOGGING_FORMAT
    ):
        """rq's start-up, its writes waiting out a Redis that is away: a Redis that fills
        up or goes read-only while a working process starts pauses it, as it would later,
        instead of failing the start again every second."""
        setup_loghandlers(logging_level, date_format, log_format, name="rq.worker")
        setup_loghandlers(logging_level, date_format, log_format, name="rq.job")
        self.register_birth()
        self.log.info("Worker %s: started with PID %d, version %s", self.name, os.getpid(), rq.VERSION)
        self._while_redis_is_away(self.subscribe)
        self._while_redis_is_away(partial(self.set_state, WorkerStatus.STARTED))

    def _while_redis_is_away(self, write) -> None:
        """Runs ``write``, pausing and trying again while Redis is away; gives up (rq's
        StopRequested ends the loop) when a stop comes first."""
        while True:
            try:
                write()
            except REDIS_UNAVAILABLE as error:
                if self._stop_requested:
                    raise StopRequested from error
                self._pause(self._redis_outage.failed(error))
                continue
            self._redis_outage.ok()
            return

    def _pause(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self._stop_requested and time.monotonic() < deadline:
            time.sleep(min(0.05, max(deadline - time.monotonic(), 0)))

    def _orphaned(self) -> bool:
        """True when the supervising parent died (kill -9): finish, never run on alone."""
        if self._is_child and os.getppid() != self._parent_pid:
            logger.warning("worker %s: supervising process is gone; stopping", self.name)
            self._stop_requested = True
            return True
        return False

    @override
    def _shutdown(self):
        # While idle, rq raises StopRequested from inside the signal handler, which can
        # land between moving a job id and fetching it. Only flag it: the polling loop
        # and the work loop both check the flag. The time of the request goes to Redis
        # from the loop or the heartbeat thread: no Redis call inside a signal handler.
        self._stop_requested = True
        self._stop_unrecorded = True

    def _record_stop_request(self) -> None:
        if self._stop_unrecorded:
            self._stop_unrecorded = False
            self.set_shutdown_requested_date()

    def _beat(self, job: Job) -> None:
        """One heartbeat of the running job, from the side thread."""
        self.maintain_heartbeats(job)
        self._record_stop_request()

    # --- dequeue -------------------------------------------------------------------------

    @override
    def dequeue_job_and_maintain_ttl(self, timeout: int | None, max_idle_time: int | None = None):
        """Takes the next job in weighted order (``worker/dequeue.py``); while every queue
        is empty, blocks on the wake-up list (``worker/wake.py``) for at most 0.2 s at a
        time; pauses while Redis or the database is away. The job that just
        ended is marked finished in the same step as the next is taken (worker/take.py)."""
        self.procline("Listening on " + ",".join(self.queue_names()))
        idle_since = time.monotonic()
        last_heartbeat = 0.0
        while not self._stop_requested:
            try:
                if time.monotonic() - last_heartbeat > self.job_monitoring_interval:
                    self.heartbeat()
                    last_heartbeat = time.monotonic()
                    if self._orphaned():
                        break
                if self.should_run_maintenance_tasks:
                    self._send_finish()  # nothing slow before a finished job is recorded
                    self.run_maintenance_tasks()
                if not self._database_ready():
                    self._send_finish()
                    continue
                if self._crew is not None and not self._crew.slots.take():
                    self._limit_reached = self._stop_requested = True  # the process's job limit
                    break
                result = self._pop()
                self._redis_outage.ok()
            except REDIS_UNAVAILABLE as error:
                self._pause(self._redis_outage.failed(error))
                continue
            if result is not None:
                if self._crew is not None:
                    self._crew.idle.leave(self)
                return result
            if self._tally.pending or self._successes:  # idle: nothing to batch with, send them now
                self._flush_tally()
            idle_too_long = max_idle_time is not None and time.monotonic() - idle_since > max_idle_time
            if timeout is None or idle_too_long:
                self._idle_exit = True  # burst with empty queues, or idle for too long
                return None
            seconds = wake.WAIT if self._crew is None else self._crew.idle.seconds(self, wake.WAIT)
            try:
                wake.wait(self.connection, seconds)  # a token (a job was queued), or the time
            except REDIS_UNAVAILABLE as error:
                self._pause(self._redis_outage.failed(error))
        return None

    def _send_finish(self) -> None:
        """Records the job that just ended now, rather than with the next take."""
        self._trips.flush(self.key, idle=self._state_sent != WorkerStatus.IDLE)
        self._state_sent = WorkerStatus.IDLE

    @override
    def teardown(self):
        try:
            self._send_finish()
        except REDIS_UNAVAILABLE as error:
            logger.error(
                "worker %s: could not record its last finished job (%s); its heartbeat lapses and it "
                "is handled as abandoned",
                self.name,
                error,
            )
        self._trips.close()
        super().teardown()

    def _take(self):
        """Records the job that just ended and takes the next, in one step
        (worker/take.py); moves a job found on another queue than its task's."""
        order = self._dequeue.order()
        while True:
            idle = self._state_sent != WorkerStatus.IDLE
            taken = self._trips.take(order, self.key, self.name, self.get_heartbeat_ttl(None), idle=idle)
            if taken is None:
                self._state_sent = WorkerStatus.IDLE
                return None
            self._state_sent = WorkerStatus.BUSY
            if not isinstance(taken, Taken):
                continue  # its job was deleted while queued: nothing to run
            task = policy.task_of(taken.job)
            if task is not None and task.queue != taken.queue.name:
                self._dequeue.requeue(taken, task.queue, at_front=True)
                continue
            self.execution = taken.execution
            self._taken_at = taken.started_at
            return taken.job, taken.queue

    def _pop(self):
        """The next job, or None; in a crew, a slot is held for it and its task's cap
        (``max_concurrency``) respected: a job whose task is at its cap in this process
        goes back to the end of its queue for another process or a later turn."""
        crew = self._crew
        if crew is None:
            return self._take()
        try:
            while (result := self._take()) is not None:
                job, queue = result
                if crew.caps.acquire(policy.task_of(job)):
                    self._held_back.clear()
                    break
                self._dequeue.requeue(
                    Taken(job, queue, self.execution, self._taken_at), queue.name, at_front=False
                )
                self.execution = None
                if job.id in self._held_back:  # around the queue and back: only capped jobs left
                    self._held_back.clear()
                    result = None
                    break
                self._held_back.add(job.id)
        except BaseException:
            crew.slots.give_back()
            raise
        if result is None:
            crew.slots.give_back()
        return result

    def _flush_tally(self) -> None:
        # On an error the counts are kept for the next flush; the loop logs the outage.
        with suppress(REDIS_UNAVAILABLE):
            self._tally.flush(self.connection)
            if self._successes:
                with self.connection.pipeline(transaction=False) as pipe:
                    pipe.hincrby(self.key, "successful_job_count", self._successes)
                    pipe.hincrbyfloat(self.key, "total_working_time", self._working_seconds)
                    pipe.execute()
                self._successes, self._working_seconds = 0, 0.0

    def _database_ready(self) -> bool:
        """True when the database takes connections. A worker that cannot connect
        (max_connections reached, PostgreSQL restarting) takes no job and pauses, so no
        job burns its retries on it."""
        self._tend_database_connections()
        try:
            connections["default"].ensure_connection()
        except DatabaseError as error:
            self._pause(self._database_outage.failed(error))
            return False
        self._database_outage.ok()
        return True

    def _tend_database_connections(self) -> None:
        """What Django does around each request: drop broken or too old connections.
        At most once a second (each call costs a health-check query), and always right
        after a job whose query failed, so a database restart costs at most one attempt."""
        errors = any(conn.errors_occurred for conn in connections.all(initialized_only=True))
        if errors or time.monotonic() - self._connections_tended_at > 1:
            close_old_connections()
            self._connections_tended_at = time.monotonic()

    @override
    def reorder_queues(self, reference_queue: Queue):
        pass  # the order is drawn afresh before every dequeue

    @override
    def clean_registries(self):
        self._recovery.clean()
        self.last_cleaned_at = now()

    # --- execution -----------------------------------------------------------------------

    @override
    def get_heartbeat_ttl(self, job: Job) -> int:
        # The side thread renews it every job_monitoring_interval while the job runs.
        return self.job_monitoring_interval + settings.WORKER_HEARTBEAT_GRACE

    @override
    def execute_job(self, job: Job, queue: Queue):
        # rq's SimpleWorker also writes an execution record and the worker's state around
        # the job: the take step did (worker/take.py), and the next one will.
        self.perform_job(job, queue)

    @override
    def prepare_job_execution(self, job: Job, remove_from_intermediate_queue: bool = False) -> None:
        # The take step marked the job started in Redis (worker/take.py). The task's
        # policy is applied here, and written only into a job made without it (by
        # django-rq's own enqueue, say): ours carry it from their enqueue.
        if self._current_task is not None:
            policy.apply_to_started(job, self._current_task, self.connection)
        job._status = JobStatus.STARTED
        job.started_at = job.last_heartbeat = self._taken_at or now()
        job.worker_name = self.name
        self.procline(f"Processing {job.func_name} from {job.origin} since {time.time()}")
        self._attempt = outcome.attempt(job, self._current_task)
        self._heartbeats.start(job)
        if self._crew is not None and job.timeout is not None and job.timeout > 0:
            self.job_deadline = time.monotonic() + job.timeout

    @override
    def handle_execution_ended(self, job: Job, queue: Queue, heartbeat_ttl: int):
        self._heartbeats.stop()
        # rq writes the job's last_heartbeat here in a round trip of its own; the success
        # or failure handling right after saves the whole job hash, this field included.
        job.ended_at = job.last_heartbeat = now()

    @override
    def handle_job_success(self, job: Job, queue: Queue, started_job_registry):
        """rq's success handling in one pipeline, without its WATCH and dependents look-up
        (two round trips a job): jobs here have neither dependents nor repeats, which
        the enqueue helpers do not offer."""
        result_ttl = job.get_result_ttl(self.default_result_ttl)
        task_name = outcome.task_name(job, self._current_task)
        seconds = (job.ended_at - job.started_at).total_seconds()
        self._tally.add(task_name, SUCCESS, seconds)
        if result_ttl > 0 and self.execution is not None:
            # Recorded with the next take, in one round trip (worker/take.py).
            self._trips.finished(job, queue, self.execution, result_ttl, self.name)
            self.execution = None
            self._successes += 1
            self._working_seconds += seconds
            return
        with self.connection.pipeline() as pipeline:  # a result kept for ever, or not at all: rq's way
            self.increment_successful_job_count(pipeline=pipeline)
            self.increment_total_working_time(job.ended_at - job.started_at, pipeline)
            if result_ttl != 0:
                job._handle_success(
                    result_ttl,
                    pipeline=pipeline,
                    worker_name=self.name,
                    execution_id=self.execution.id if self.execution else None,
                    execution_started_at=self.execution.created_at if self.execution else None,
                    execution_ended_at=job.ended_at,
                )
            job.cleanup(result_ttl, pipeline=pipeline, remove_from_queue=False)
            self.cleanup_execution(job, pipeline=pipeline)
            pipeline.execute()

    def _remember_exception(self, job: Job, exc_type, exc_value, traceback) -> None:
        """rq exception handler: keeps the error for the attempt's log line."""
        self._last_exception = exc_value

    @override
    def perform_job(self, job: Job, queue: Queue) -> bool:
        self._last_exception = None
        self._current_task = policy.task_of(job)
        self._attempt = 1
        started = time.perf_counter()
        try:
            ok = super().perform_job(job, queue)
        finally:
            self._heartbeats.stop()
            self.job_deadline = None
            if self._crew is not None:
                self._crew.caps.release(self._current_task)
        duration = time.perf_counter() - started
        if not ok:
            self._tally.add(outcome.task_name(job, self._current_task), FAILED, duration)
        outcome.log_attempt(
            job, queue.name, self._current_task, self._attempt, duration, ok, self._last_exception
        )
        self._jobs_done += 1
        if self._job_counter is not None:
            self._job_counter.add()
        if self._tally.due():
            self._flush_tally()
        self._check_memory()
        self._orphaned()
        return ok

    def _check_memory(self) -> None:
        if not settings.WORKER_MAX_RSS_MB:
            return
        if peak_rss_mb() <= settings.WORKER_MAX_RSS_MB:
            return  # then it is below now too
        rss = current_rss_mb()
        if rss > settings.WORKER_MAX_RSS_MB:
            logger.warning(
                "worker %s: RSS %.0f MB above WORKER_MAX_RSS_MB=%s; recycling after this job",
                self.name,
                rss,
                settings.WORKER_MAX_RSS_MB,
            )
            self._recycle = True
            self._stop_requested = True

    # --- fewer round trips ---------------------------------------------------------------

    @override
    def heartbeat(self, timeout: int | None = None, pipeline=None):
        """rq sends two commands after every job; a worker's registration lives
        worker_ttl + 60 s, so renewing it at most once a second is plenty."""
        if pipeline is not None or timeout is not None:
            return super().heartbeat(timeout, pipeline)
        if self.last_heartbeat is not None and (now() - self.last_heartbeat).total_seconds() < 1:
            return None
        with self.connection.pipeline(transaction=False) as pipe:
            super().heartbeat(None, pipe)
            pipe.execute()
        return None

    @override
    def check_for_suspension(self, burst: bool):
        # `rqsuspend` is an operator's command: noticing it within a second is
        # enough, and spares a round trip per job.
        if time.monotonic() - self._suspension_checked_at >= 1:
            self._suspension_checked_at = time.monotonic()
            super().check_for_suspension(burst)

    @override
    def set_state(self, state: str, pipeline=None):
        if pipeline is None and state == self._state_sent:
            return  # already so in Redis: spare the round trip
        super().set_state(state, pipeline)
        self._state_sent = state
