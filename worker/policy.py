"""Each registered task's policy (retries, backoff, timeout), applied when its job runs,
however the job was made: our enqueue helpers, django-rq's ``enqueue`` and ``@job``,
``manage.py rqenqueue``, the dashboard's requeue or ``rq requeue``.

The worker applies it in two places, both rq hooks:

* ``apply_to_started`` (from the worker's ``prepare_job_execution``) sets the job's
  timeout, retries left and backoff, and writes them into the job's hash when they are
  not there already: our enqueue helpers write them at enqueue, so only a job made
  another way costs a round trip. A job whose worker then dies carries its policy in
  Redis, so rq's abandoned-job clean-up retries it per the task, whichever process runs
  that clean-up.
* ``on_failure``, an rq exception handler pushed on every worker, runs before rq decides
  between retry and failure: a permanent error (the task's ``throws``) gets no retry, a
  database that is away costs no retry, and an abandoned job gets the policy (for a job
  started by a worker of another release) and one log line.

Retries left are counted from the last time the job was enqueued or requeued: a job
that has not started since (rq's requeue clears ``started_at``) gets the task's whole
allowance, so a job that staff requeue from the failed list is tried as a new one.
"""

from __future__ import annotations

import json
import logging

from django.db import InterfaceError, OperationalError, connections
from rq.exceptions import AbandonedJobError, DeserializationError
from rq.job import Job

from worker import outcome
from worker.registry import Task, registry

logger = logging.getLogger("worker.jobs")

_DATABASE_ERRORS = (OperationalError, InterfaceError)


def task_of(job: Job) -> Task | None:
    """The registered task a job names, or None (unregistered, or not readable)."""
    try:
        return registry.by_path(job.func_name)
    except DeserializationError:
        return None


def apply(job: Job, task: Task) -> None:
    """Gives ``job`` its task's timeout, backoff and retries left (see the module's doc)."""
    job.timeout = task.timeout
    job.retry_intervals = task.backoff or None
    if job.started_at is None or job.retries_left is None:
        job.retries_left = task.max_retries
    else:
        job.retries_left = min(job.retries_left, task.max_retries)


def apply_to_started(job: Job, task: Task, connection) -> None:
    """Applies the task's policy to a job being started, writing it into the job's hash
    only when that differs from what the hash holds."""
    before = stored(job)
    apply(job, task)
    if stored(job) != before:
        with connection.pipeline(transaction=False) as pipe:
            persist(job, pipe)
            pipe.execute()


def stored(job: Job) -> tuple:
    """The policy as ``persist`` writes it (no retries left and none given are the same)."""
    return job.timeout, job.retries_left or 0, job.retry_intervals or None


def persist(job: Job, pipeline) -> None:
    """Writes the applied policy into the job's hash, with the caller's pipeline."""
    fields = {"timeout": job.timeout, "retries_left": job.retries_left}
    if job.retry_intervals:
        fields["retry_intervals"] = json.dumps(job.retry_intervals)
    pipeline.hset(job.key, mapping=fields)


def database_unavailable(error: BaseException) -> bool:
    """True when ``error`` came from a database that cannot be reached right now
    (refusing connections, restarting), as opposed to a statement that failed."""
    if not isinstance(error, _DATABASE_ERRORS):
        return False
    connection = connections["default"]
    try:
        connection.close()
        connection.ensure_connection()
    except _DATABASE_ERRORS:
        return True
    return False


def on_failure(job: Job, exc_type, exc_value, traceback) -> None:
    """rq exception handler: settles the retry before rq acts on ``job.retries_left``."""
    task = task_of(job)
    if task is None:
        return None  # fails at once: task not registered, or not JSON
    apply(job, task)
    if isinstance(exc_value, AbandonedJobError):
        outcome.abandoned(job, task)
    elif task.is_permanent(exc_value):
        job.retries_left = 0
    elif database_unavailable(exc_value):
        # Not the job's fault: run it again once the database is back (the worker pauses
        # until then), without charging one of its retries.
        job.retries_left += 1
        logger.warning("job %s %s: database unavailable; it will run again, uncharged", task.name, job.id)
    return None
