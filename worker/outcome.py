"""The outcome of each attempt: one log line, and the shared counters of /metrics.

job order:update_status 3f2a…: success in 4.1 ms (queue default, attempt 1)
job inventory:sync 9c1e…: retry after 120.3 ms (queue default, attempt 1) args=[…] kwargs={} error=…
job stats:daily 77d0…: failed after 2.0 ms (queue low, attempt 1) args=[…] kwargs={} error=…
job test:sleep 1b2c…: abandoned by dead worker 5e6f… (attempt 1); no retries left, failed
"""

from __future__ import annotations

import logging
from contextlib import suppress

import redis
from rq.exceptions import DeserializationError
from rq.job import Job, JobStatus
from rq.timeouts import JobTimeoutException

from worker.counters import ABANDONED, count_processed
from worker.registry import Task

logger = logging.getLogger("worker.jobs")

# rq's own line for a failed job (with its traceback), which worker.jobs's line replaces.
RQ_JOB_ERROR_MESSAGE = "Worker %s: job %s: exception raised while executing (%s)\n%s"


class OneLinePerJob(logging.Filter):
    """A filter for the ``rq.worker`` logger: drops rq's failed-job line, since the
    outcome line below says the same (and carries the traceback of an unexpected error)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.msg != RQ_JOB_ERROR_MESSAGE


def task_name(job: Job, task: Task | None) -> str:
    if task is not None:
        return task.name
    try:
        return job.func_name or "<unreadable job>"
    except DeserializationError:
        return "<unreadable job>"


def attempt(job: Job, task: Task | None) -> int:
    """1 for the first run since the job was enqueued, 2 for its first retry, ..."""
    if task is None or job.retries_left is None:
        return 1
    return task.max_retries - job.retries_left + 1


def log_attempt(
    job: Job,
    queue_name: str,
    task: Task | None,
    attempt_number: int,
    duration: float,
    ok: bool,
    error: BaseException | None,
) -> None:
    """The one line for an attempt that ran: success, retry (a retry is scheduled) or failed."""
    name = task_name(job, task)
    if ok:
        outcome = "success"
    elif job.get_status(refresh=False) in (JobStatus.SCHEDULED, JobStatus.QUEUED):
        outcome = "retry"
    else:
        outcome = "failed"
    fields = {
        "task": name,
        "job_id": job.id,
        "queue": queue_name,
        "attempt": attempt_number,
        "duration_ms": round(duration * 1000, 2),
        "outcome": outcome,
    }
    message = "job %s %s: %s %s %.1f ms (queue %s, attempt %s)"
    values = [name, job.id, outcome, "in" if ok else "after", duration * 1000, queue_name, attempt_number]
    if ok:
        logger.info(message, *values, extra=fields)
        return
    if isinstance(error, JobTimeoutException):
        error_text = f"timed out after {job.timeout} s"
    else:
        error_text = f"{type(error).__name__}: {error}" if error is not None else "unknown error"
    try:
        arguments = {"args": list(job.args), "kwargs": dict(job.kwargs)}
    except DeserializationError:
        arguments = {"args": "<not JSON>", "kwargs": {}}
    fields.update(arguments=arguments, error=error_text)
    # The traceback of an error nobody expected, once, on the line that ends the job.
    unexpected = outcome == "failed" and error is not None and not (task and task.is_permanent(error))
    logger.log(
        logging.WARNING if outcome == "retry" else logging.ERROR,
        message + " args=%s kwargs=%s error=%s",
        *values,
        arguments["args"],
        arguments["kwargs"],
        error_text,
        extra=fields,
        exc_info=error if unexpected and not isinstance(error, JobTimeoutException) else None,
    )


def abandoned(job: Job, task: Task) -> None:
    """The line and the count for an attempt whose worker died (kill -9, lost host)."""
    attempt_number = attempt(job, task)
    retry = bool(job.retries_left and job.retries_left > 0)
    what = f"retry in {job.get_retry_interval()} s" if retry else "no retries left, failed"
    dead_worker = job.worker_name or "<unknown>"
    logger.log(
        logging.WARNING if retry else logging.ERROR,
        "job %s %s: abandoned by dead worker %s (queue %s, attempt %s); %s",
        task.name,
        job.id,
        dead_worker,
        job.origin,
        attempt_number,
        what,
        extra={
            "task": task.name,
            "job_id": job.id,
            "queue": job.origin,
            "attempt": attempt_number,
            "outcome": "abandoned",
            "dead_worker": dead_worker,
        },
    )
    with suppress(redis.RedisError), job.connection.pipeline(transaction=False) as pipe:
        count_processed(pipe, task.name, ABANDONED)
        pipe.execute()
