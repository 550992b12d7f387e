"""The worker class behind ``manage.py rqworker critical high default low``.

rq's default worker forks a process for every job, about 20 ms with Django loaded. This
one runs jobs in a long-lived child process instead (about 4 ms a job) and keeps what
forking gave:

* A supervising parent forks the child that works and forks a new one when it exits:
  after ``WORKER_MAX_JOBS`` jobs or above ``WORKER_MAX_RSS_MB`` (a leaking job), or when
  it crashed. A crash mid-job hands the job to rq's abandoned-job handling at once, so
  it is retried (or failed, with no retries left) instead of waiting for its heartbeat
  to lapse.
* SIGTERM (or Ctrl-C) lets the running job finish, then the worker exits 0. A second
  signal is a cold stop.

And on top of rq:

* Weighted queues: before each dequeue the queues are put in a random order weighted by
  ``WORKER_QUEUE_WEIGHTS`` (10:5:3:1), and the first non-empty one gives the job; with
  work in ``low`` only, ``low`` runs at full speed.
* Nothing lost between queue and registry: a job id moves atomically from its queue
  to rq's intermediate list (LMOVE), which rq's maintenance recovers.
* Registered functions only (``worker.jobs.RegisteredJob``), JSON only, permanent
  errors not retried, one log line per job outcome.
* Heartbeats during a job from a side thread, so a worker killed with ``kill -9`` has
  its job retried within about a minute, not rq's 7 to 10.
"""

from __future__ import annotations

import gc
import logging
import os
import random
import signal
import threading
import time
import uuid
from contextlib import suppress

import redis
from django.conf import settings
from django.db import close_old_connections, connections
from rq.exceptions import DeserializationError, NoSuchJobError
from rq.job import Job, JobStatus
from rq.queue import Queue
from rq.registry import clean_registries
from rq.serializers import JSONSerializer
from rq.timeouts import JobTimeoutException
from rq.utils import now
from rq.worker import SimpleWorker, WorkerStatus
from rq.worker_registration import clean_worker_registry

from worker.exceptions import PermanentTaskError
from worker.jobs import RegisteredJob
from worker.metrics import count_processed
from worker.registry import registry

logger = logging.getLogger("worker.jobs")

# Exit code of a child that stops to be replaced (jobs or memory limit reached).
EXIT_RECYCLE = 75
# Moves the first job id found, in the given queue order, onto that queue's
# intermediate list: one atomic step, so a job is always in a list or a registry.
_POP_WEIGHTED = """
for _, key in ipairs(KEYS) do
    local job_id = redis.call('LMOVE', key, key .. ':intermediate', 'LEFT', 'RIGHT')
    if job_id then return {key, job_id} end
end
return false
"""
# Back from the intermediate list to the head of its queue, unless it is there already.
_REQUEUE = """
if redis.call('LREM', KEYS[1], 0, ARGV[1]) == 0 then return 0 end
if redis.call('LPOS', KEYS[2], ARGV[1]) then return 0 end
redis.call('LPUSH', KEYS[2], ARGV[1])
return 1
"""
_NOT_RETRIED = (PermanentTaskError, DeserializationError)


def weighted_order(names: list[str], weights: dict[str, int], rng: random.Random) -> list[str]:
    """A random order in which each queue comes first with probability weight / total
    (Efraimidis-Spirakis sampling without replacement)."""
    return sorted(names, key=lambda name: rng.random() ** (1.0 / max(weights.get(name, 1), 1)), reverse=True)


def current_rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class BookstoreWorker(SimpleWorker):
    job_class = RegisteredJob
    log_result_lifespan = False

    def __init__(self, queues, *args, **kwargs):
        # Whatever the command line says (django-rq's rqworker passes pickle by default),
        # jobs are JSON: nothing this process reads from Redis can run code when loaded.
        kwargs["serializer"] = JSONSerializer
        kwargs["job_class"] = RegisteredJob
        kwargs["worker_ttl"] = settings.WORKER_TTL
        kwargs["maintenance_interval"] = settings.WORKER_MAINTENANCE_INTERVAL
        kwargs["job_monitoring_interval"] = settings.WORKER_HEARTBEAT_INTERVAL
        names = [queue.name if isinstance(queue, Queue) else queue for queue in queues]
        super().__init__(names, *args, **kwargs)
        self._weights = settings.WORKER_QUEUE_WEIGHTS
        self._rng = random.Random()
        self._pop = self.connection.register_script(_POP_WEIGHTED)
        self._requeue = self.connection.register_script(_REQUEUE)
        self._queues_by_key = {queue.key: queue for queue in self.queues}
        self._beating = threading.Lock()
        self._beating_job: Job | None = None
        self._heartbeat_thread: threading.Thread | None = None
        self._recycle = False
        self._is_child = False
        self._parent_pid = os.getpid()
        self._jobs_done = 0
        self._connections_tended_at = 0.0
        self._current_task = None
        self._suspension_checked_at = 0.0

    # --- supervision -------------------------------------------------------------------

    def work(
        self, burst: bool = False, logging_level: str | None = None, max_jobs: int | None = None, **kwargs
    ):
        kwargs.pop("with_scheduler", None)  # run_scheduler moves delayed jobs, not workers
        # rq logs two lines a job at INFO; ours logs one. rq's own lines show at -v 2.
        logging_level = "DEBUG" if logging_level == "DEBUG" else settings.RQ_LOG_LEVEL
        if self._is_child:
            return super().work(burst=burst, logging_level=logging_level, max_jobs=max_jobs, **kwargs)
        return self._supervise(burst=burst, logging_level=logging_level, max_jobs=max_jobs, **kwargs)

    def _supervise(self, **work_kwargs) -> bool:
        stopping = {"signals": 0}
        child_pid = 0

        def forward(signum, frame):
            stopping["signals"] += 1
            if child_pid:
                # The first signal asks for a warm stop; a second one for a cold stop.
                with suppress(ProcessLookupError):
                    os.kill(child_pid, signal.SIGTERM if stopping["signals"] == 1 else signal.SIGKILL)

        signal.signal(signal.SIGTERM, forward)
        signal.signal(signal.SIGINT, forward)
        worked = False
        failures = 0
        while True:
            connections.close_all()  # never share a database socket with the child
            name = uuid.uuid4().hex
            started = time.monotonic()
            child_pid = os.fork()
            if child_pid == 0:
                os._exit(self._run_child(name, work_kwargs))
            _, status = os.waitpid(child_pid, 0)
            child_pid = 0
            if os.WIFEXITED(status) and os.WEXITSTATUS(status) == EXIT_RECYCLE:
                worked = True
                if stopping["signals"]:
                    return worked
                logger.info("worker %s recycled; starting a fresh process", name)
                continue
            if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
                return True
            how = (
                f"signal {os.WTERMSIG(status)}"
                if os.WIFSIGNALED(status)
                else f"exit {os.WEXITSTATUS(status)}"
            )
            logger.error("worker process %s died (%s); recovering its job", name, how)
            self._recover_dead_child(name)
            if stopping["signals"] or work_kwargs.get("burst"):
                return worked
            # A child dying at start-up (Redis unreachable, say) is not restarted in a tight loop.
            failures = failures + 1 if time.monotonic() - started < 5 else 0
            time.sleep(min(2**failures - 1, 30))

    def _run_child(self, name: str, work_kwargs: dict) -> int:
        """Runs in the forked child: works until stopped, or until due for recycling."""
        self._is_child = True
        self.name = name
        self.pid = os.getpid()
        # Django and the project are loaded and never freed: keep the garbage collector
        # from walking them again after every few hundred allocations of a job.
        gc.freeze()
        self._install_signal_handlers()
        asked = work_kwargs.get("max_jobs")
        recycle_after = settings.WORKER_MAX_JOBS or None
        limit = min(n for n in (asked, recycle_after) if n) if (asked or recycle_after) else None
        try:
            super().work(**{**work_kwargs, "max_jobs": limit})
        except BaseException:
            logger.exception("worker %s stopped on an error", name)
            return 1
        if self._recycle or (limit is not None and limit != asked and self._jobs_done >= limit):
            return EXIT_RECYCLE
        return 0

    def _recover_dead_child(self, name: str) -> None:
        """Hands the dead child's job to rq's abandoned-job handling (retry or fail)."""
        key = f"rq:worker:{name}"
        try:
            job_id = self.connection.hget(key, "current_job")
            dead = type(self).find_by_key(key, connection=self.connection)
            if dead is not None:
                dead.register_death()
            if not job_id:
                return
            job_id = job_id.decode()
            for queue in self.queues:
                started = queue.started_job_registry
                for member in started.connection.zrange(started.key, 0, -1):
                    if member.decode().split(":", 1)[0] == job_id:
                        started.connection.zadd(started.key, {member: 1})  # expired: abandoned now
                started.cleanup()
        except redis.RedisError:
            logger.exception("could not recover the job of dead worker %s; rq's maintenance will", name)

    # --- dequeue -------------------------------------------------------------------------

    def _pop_job(self) -> tuple[Job, Queue] | None:
        names = weighted_order([queue.name for queue in self.queues], self._weights, self._rng)
        keys = [Queue.redis_queue_namespace_prefix + name for name in names]
        while True:
            result = self._pop(keys=keys)
            if not result:
                return None
            queue = self._queues_by_key[result[0].decode()]
            job_id = result[1].decode()
            try:
                return self.job_class.fetch(
                    job_id, connection=self.connection, serializer=self.serializer
                ), queue
            except NoSuchJobError:
                queue.intermediate_queue.remove(job_id)

    def dequeue_job_and_maintain_ttl(self, timeout: int | None, max_idle_time: int | None = None):
        """Polls the queues in weighted order. Blocking commands cannot move a job
        atomically from several lists, so an idle worker polls, backing off to 200 ms."""
        self.set_state(WorkerStatus.IDLE)
        self.procline("Listening on " + ",".join(self.queue_names()))
        idle_since = time.monotonic()
        last_heartbeat = 0.0
        pause = 0.005
        connection_wait = 1.0
        while not self._stop_requested:
            try:
                if time.monotonic() - last_heartbeat > self.job_monitoring_interval:
                    self.heartbeat()
                    last_heartbeat = time.monotonic()
                    if self._orphaned():
                        break
                if self.should_run_maintenance_tasks:
                    self.run_maintenance_tasks()
                result = self._pop_job()
                connection_wait = 1.0
                if result is not None:
                    return result
            except redis.exceptions.ConnectionError as error:
                logger.error(
                    "worker %s: Redis unreachable (%s); retrying in %.0f s", self.name, error, connection_wait
                )
                time.sleep(connection_wait)
                connection_wait = min(connection_wait * 2, 30)
                continue
            if timeout is None:  # burst: the queues are empty, so stop
                return None
            if max_idle_time is not None and time.monotonic() - idle_since > max_idle_time:
                return None
            time.sleep(pause)
            pause = min(pause * 2, 0.2)
        return None

    def _orphaned(self) -> bool:
        """True when the supervising parent died (kill -9): finish, never run on alone."""
        if self._is_child and os.getppid() != self._parent_pid:
            logger.warning("worker %s: supervising process is gone; stopping", self.name)
            self._stop_requested = True
            return True
        return False

    def _shutdown(self):
        # While idle, rq raises StopRequested from inside the signal handler, which can
        # land between moving a job id and fetching it. Only flag it: the polling loop
        # and the work loop both check the flag.
        self._stop_requested = True
        self.set_shutdown_requested_date()

    def reorder_queues(self, reference_queue: Queue):
        pass  # the order is drawn afresh before every dequeue

    def clean_registries(self):
        """rq's maintenance with a short lock: a worker killed mid-cleaning must not stop
        the others from recovering abandoned jobs for rq's 15 minutes."""
        for queue in self.queues:
            if self.connection.set(queue.registry_cleaning_key, 1, nx=True, ex=60):
                try:
                    clean_registries(queue, self._exc_handlers)
                    clean_worker_registry(queue)
                    self._recover_intermediate(queue)
                finally:
                    queue.release_maintenance_lock()
        self.last_cleaned_at = now()

    def _recover_intermediate(self, queue: Queue) -> None:
        """Puts back at the head of its queue a job id left in the intermediate list by a
        worker killed between taking it and starting it: it never ran, so it is neither
        failed nor charged a retry. rq's own clean-up waits a minute and then fails or
        retries it; a live worker starts a job it took within milliseconds, so
        WORKER_HEARTBEAT_GRACE seconds is a safe wait."""
        intermediate = queue.intermediate_queue
        started = {
            member.split(":", 1)[0] for member in queue.started_job_registry.get_job_ids(cleanup=False)
        }
        for job_id in intermediate.get_job_ids():
            if job_id in started:
                continue  # started: the abandoned-job clean-up owns it
            if intermediate.set_first_seen(job_id):
                continue
            first_seen = intermediate.get_first_seen(job_id)
            if first_seen is None or (now() - first_seen).total_seconds() < settings.WORKER_HEARTBEAT_GRACE:
                continue
            job = queue.fetch_job(job_id)
            if job is None or job.get_status(refresh=False) != JobStatus.QUEUED:
                intermediate.remove(job_id)
                continue
            if self._requeue(keys=[intermediate.key, queue.key], args=[job_id]):
                logger.warning(
                    "job %s was taken by a worker that died before starting it; queued again", job_id
                )

    # --- execution -----------------------------------------------------------------------

    def get_heartbeat_ttl(self, job: Job) -> int:
        # The side thread renews it every job_monitoring_interval while the job runs.
        return self.job_monitoring_interval + settings.WORKER_HEARTBEAT_GRACE

    def prepare_job_execution(self, job: Job, remove_from_intermediate_queue: bool = False) -> None:
        # Every dequeue goes through the intermediate list, with one queue or four.
        super().prepare_job_execution(job, remove_from_intermediate_queue=True)
        self._start_heartbeats(job)

    def handle_execution_ended(self, job: Job, queue: Queue, heartbeat_ttl: int):
        self._stop_heartbeats()
        # rq writes the job's last_heartbeat here in a round trip of its own; the success
        # or failure handling right after saves the whole job hash, this field included.
        job.ended_at = job.last_heartbeat = now()

    def handle_job_success(self, job: Job, queue: Queue, started_job_registry):
        """rq's success handling in one pipeline, without its WATCH and dependents look-up
        (two round trips a job): jobs here have neither dependents nor repeats, which
        the enqueue helpers do not offer."""
        with self.connection.pipeline() as pipeline:
            self.increment_successful_job_count(pipeline=pipeline)
            self.increment_total_working_time(job.ended_at - job.started_at, pipeline)
            result_ttl = job.get_result_ttl(self.default_result_ttl)
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
            count_processed(
                pipeline, self._task_name(job), "success", (job.ended_at - job.started_at).total_seconds()
            )
            pipeline.execute()

    def _start_heartbeats(self, job: Job) -> None:
        """Hands ``job`` to the heartbeat thread (started once per process)."""
        with self._beating:
            self._beating_job = job
        if self._heartbeat_thread is None:
            self._heartbeat_thread = threading.Thread(
                target=self._beat_forever, name="job-heartbeat", daemon=True
            )
            self._heartbeat_thread.start()

    def _stop_heartbeats(self) -> None:
        # Taking the lock waits out a heartbeat in flight: none is sent after the job ends,
        # so a finished job can never be re-added to the started registry.
        with self._beating:
            self._beating_job = None

    def _beat_forever(self) -> None:
        while True:
            time.sleep(self.job_monitoring_interval)
            with self._beating:
                job = self._beating_job
                if job is None:
                    continue
                try:
                    self.maintain_heartbeats(job)
                except redis.RedisError as error:
                    logger.warning("worker %s: heartbeat for job %s failed: %s", self.name, job.id, error)

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

    def check_for_suspension(self, burst: bool):
        # `rqworker-suspend` is an operator's command: noticing it within a second is
        # enough, and spares a round trip per job.
        if time.monotonic() - self._suspension_checked_at >= 1:
            self._suspension_checked_at = time.monotonic()
            super().check_for_suspension(burst)

    def set_state(self, state: str, pipeline=None):
        if pipeline is None and state == self._state:
            return  # already so in Redis: spare the round trip
        super().set_state(state, pipeline)

    def handle_exception(self, job: Job, *exc_info):
        # rq logs the traceback itself; ours goes on the one outcome line.
        self._last_exception = exc_info[1]
        task = self._current_task
        if isinstance(exc_info[1], _NOT_RETRIED) or (task is not None and task.is_permanent(exc_info[1])):
            job.retries_left = 0
        for handler in self._exc_handlers:
            if handler(job, *exc_info) is False:
                break

    def perform_job(self, job: Job, queue: Queue) -> bool:
        self._last_exception = None
        task = self._current_task = registry.by_path(self._func_name(job))
        attempt = 1
        if task is not None and job.retries_left is not None:
            attempt = task.max_retries - job.retries_left + 1
        self._tend_database_connections()
        started = time.perf_counter()
        try:
            ok = super().perform_job(job, queue)
        finally:
            self._stop_heartbeats()
        duration = time.perf_counter() - started
        if not ok:
            with suppress(redis.RedisError), self.connection.pipeline(transaction=False) as pipe:
                count_processed(pipe, self._task_name(job), "failed", duration)
                pipe.execute()
        self._log_outcome(job, queue, task, attempt, duration, ok)
        self._jobs_done += 1
        rss = current_rss_mb() if settings.WORKER_MAX_RSS_MB else 0
        if rss > settings.WORKER_MAX_RSS_MB:
            logger.warning(
                "worker %s: RSS %.0f MB above WORKER_MAX_RSS_MB=%s; recycling after this job",
                self.name,
                rss,
                settings.WORKER_MAX_RSS_MB,
            )
            self._recycle = True
            self._stop_requested = True
        self._orphaned()
        return ok

    def _tend_database_connections(self) -> None:
        """What Django does around each request: drop broken or too old connections.
        At most once a second (each call costs a health-check query), and always right
        after a job whose query failed, so a database restart costs at most one attempt."""
        errors = any(conn.errors_occurred for conn in connections.all(initialized_only=True))
        if errors or time.monotonic() - self._connections_tended_at > 1:
            close_old_connections()
            self._connections_tended_at = time.monotonic()

    def _task_name(self, job: Job) -> str:
        """The running job's task name, resolved once per job in perform_job."""
        return self._current_task.name if self._current_task else "unregistered"

    @staticmethod
    def _func_name(job: Job) -> str | None:
        try:
            return job.func_name
        except DeserializationError:
            return None

    def _log_outcome(self, job: Job, queue: Queue, task, attempt: int, duration: float, ok: bool) -> None:
        status = job.get_status(refresh=False)
        if ok:
            outcome = "success"
        elif status in (JobStatus.SCHEDULED, JobStatus.QUEUED):
            outcome = "retry"
        else:
            outcome = "failed"
        task_name = task.name if task else (self._func_name(job) or "<unreadable job>")
        fields = {
            "task": task_name,
            "job_id": job.id,
            "queue": queue.name,
            "attempt": attempt,
            "duration_ms": round(duration * 1000, 2),
            "outcome": outcome,
        }
        if ok:
            logger.info(
                "job %s %s: %s in %.1f ms (queue %s, attempt %s)",
                task_name,
                job.id,
                outcome,
                duration * 1000,
                queue.name,
                attempt,
                extra=fields,
            )
            return
        error = self._last_exception
        if isinstance(error, JobTimeoutException):
            error_text = f"timed out after {job.timeout} s"
        else:
            error_text = f"{type(error).__name__}: {error}" if error is not None else "unknown error"
        try:
            arguments = {"args": list(job.args), "kwargs": dict(job.kwargs)}
        except DeserializationError:
            arguments = {"args": "<not JSON>", "kwargs": {}}
        fields.update(arguments=arguments, error=error_text)
        logger.log(
            logging.WARNING if outcome == "retry" else logging.ERROR,
            "job %s %s: %s after %.1f ms (queue %s, attempt %s) args=%s kwargs=%s error=%s",
            task_name,
            job.id,
            outcome,
            duration * 1000,
            queue.name,
            attempt,
            arguments["args"],
            arguments["kwargs"],
            error_text,
            extra=fields,
        )
