"""Enqueue registered tasks with their registry policy: queue, retries, timeout, JSON.

    enqueue("order:update_status", order_id, "confirmed", delay=3600)
    enqueue("stats:daily", date="2026-11-23", job_id="sched-stats-daily-20261124T0100")
    enqueue_many([TaskCall("inventory:sync", (warehouse_id, book_id)), ...])

Inside a transaction the jobs are written to the outbox table in that transaction
(``worker/outbox.py``): they reach Redis right after it commits (or, if Redis is away
then, through run_scheduler's relay), and never if it rolls back. Outside a transaction
they go straight to Redis, and a Redis error reaches the caller.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import django_rq
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_rq.queues import DjangoRQ
from redis import Redis
from rq import Queue
from rq.exceptions import DuplicateJobError
from rq.job import JobStatus

from worker import outbox, wake
from worker.connection import describe, get_connection
from worker.counters import count_enqueued
from worker.registry import QUEUE_NAMES, Task, arguments_misfit, registry

logger = logging.getLogger(__name__)


def redis_address(connection: Redis | None = None) -> str:
    """Where the queues' Redis is, for error messages (never a password)."""
    return describe(connection)


def get_queue(name: str) -> Queue:
    """A queue on the shared connection, JSON-serialized, enqueueing at once (the helpers
    below defer to commit themselves)."""
    if name not in QUEUE_NAMES:
        raise ValueError(f"unknown queue {name!r} (one of {', '.join(QUEUE_NAMES)})")
    return django_rq.get_queue(name, connection=get_connection(), commit_mode="auto")


@dataclass(frozen=True)
class TaskCall:
    """One job of a bulk enqueue."""

    name: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    job_id: str | None = None  # given: the enqueue is unique, as with enqueue(job_id=...)


def _checked(name: str, args: tuple, kwargs: dict) -> Task:
    """The registered task, after checking the arguments fit its signature and JSON."""
    task = registry.get(name)
    misfit = arguments_misfit(task.function, len(args), tuple(sorted(kwargs)))
    if misfit is not None:
        raise TypeError(f"task {name}: {misfit}")
    try:
        json.dumps([args, kwargs])
    except TypeError as error:
        raise TypeError(
            f"task {name}: arguments must be JSON (ids as strings, dates as YYYY-MM-DD): {error}"
        ) from None
    return task


def job_options(task: Task, job_id: str) -> dict:
    return {
        "job_id": job_id,
        "timeout": task.timeout,
        "retry": task.retry(),
        "result_ttl": settings.RQ_RESULT_TTL,
        "failure_ttl": settings.RQ_FAILURE_TTL,
        "description": task.name,
    }


def enqueue(
    name: str,
    *args,
    delay: timedelta | int | float | None = None,
    at: datetime | None = None,
    job_id: str | None = None,
    **kwargs,
) -> str:
    """Enqueues task ``name`` and returns its job id.

    ``delay`` (seconds or a timedelta) or ``at`` (an aware datetime) make it a delayed job,
    moved onto its queue when due by ``run_scheduler``. With a ``job_id`` the enqueue is
    unique: if a job with that id exists, nothing new is enqueued.
    """
    task = _checked(name, args, kwargs)
    if delay is not None and at is not None:
        raise ValueError(f"task {name}: give delay or at, not both")
    if isinstance(delay, int | float):
        delay = timedelta(seconds=delay)
    if at is not None and at.tzinfo is None:
        raise ValueError(f"task {name}: at must be an aware datetime")
    unique = job_id is not None
    job_id = job_id or uuid.uuid4().hex
    if transaction.get_connection().in_atomic_block:
        run_at = timezone.now() + delay if delay is not None else at
        outbox.write([(task.name, args, kwargs, job_id, run_at)])
    else:
        _enqueue_now(task, args, kwargs, job_id=job_id, unique=unique, delay=delay, at=at)
    return job_id


def enqueue_once(name: str, *, job_id: str, **kwargs) -> bool:
    """Enqueues task ``name`` now under ``job_id`` unless a job with that id exists; True
    when it enqueued. For the scheduler's fires, outside any transaction."""
    task = _checked(name, (), kwargs)
    return _enqueue_now(task, (), kwargs, job_id=job_id, unique=True, delay=None, at=None)


def _enqueue_now(
    task: Task,
    args: tuple,
    kwargs: dict,
    *,
    job_id: str,
    unique: bool,
    delay: timedelta | None,
    at: datetime | None,
) -> bool:
    """Sends the job to Redis; returns False if ``unique`` and the job already exists."""
    queue = get_queue(task.queue)
    when = timezone.now() + delay if delay is not None else at
    status = JobStatus.SCHEDULED if when is not None else JobStatus.QUEUED
    job = queue.create_job(task.path, args=args, kwargs=kwargs, status=status, **job_options(task, job_id))
    try:
        if when is not None:
            queue.schedule_job(job, when, unique=unique)
        else:
            queue.enqueue_job(job, unique=unique)
    except DuplicateJobError:
        # DEBUG: the caller (the scheduler's fire line, say) tells whether it enqueued.
        logger.debug("task %s: job %s already exists, not enqueued again", task.name, job_id)
        return False
    count_enqueued(queue.connection, task.name, task.queue)
    return True


def enqueue_many(calls: Iterable[TaskCall]) -> list[str]:
    """Enqueues many jobs in one Redis round trip; returns their ids in order.

    Each call is checked first, so a bad one enqueues nothing. Inside a transaction the
    whole batch goes to the outbox, and to Redis when it commits. Calls with a ``job_id``
    are enqueued only if no job with that id exists.
    """
    checked = [(call, _checked(call.name, tuple(call.args), dict(call.kwargs))) for call in calls]
    job_ids = [call.job_id or uuid.uuid4().hex for call, _ in checked]
    if transaction.get_connection().in_atomic_block:
        outbox.write(
            (task.name, tuple(call.args), dict(call.kwargs), job_id, None)
            for (call, task), job_id in zip(checked, job_ids, strict=True)
        )
    elif any(call.job_id for call, _ in checked):
        for (call, task), job_id in zip(checked, job_ids, strict=True):
            unique = call.job_id is not None
            _enqueue_now(
                task, tuple(call.args), dict(call.kwargs), job_id=job_id, unique=unique, delay=None, at=None
            )
    else:
        _enqueue_many_now(checked, job_ids)
    return job_ids


def _enqueue_many_now(checked: list[tuple[TaskCall, Task]], job_ids: list[str]) -> None:
    by_queue: dict[str, list] = defaultdict(list)
    for (call, task), job_id in zip(checked, job_ids, strict=True):
        options = job_options(task, job_id)
        by_queue[task.queue].append(
            Queue.prepare_data(task.path, args=tuple(call.args), kwargs=dict(call.kwargs), **options)
        )
    # One MULTI/EXEC: the whole batch lands, or none of it; with one wake-up push for it
    # (not one per job: the queues here are django-rq's plain ones).
    with get_connection().pipeline(transaction=True) as pipe:
        for queue_name, datas in by_queue.items():
            quiet = django_rq.get_queue(
                queue_name, connection=get_connection(), commit_mode="auto", queue_class=DjangoRQ
            )
            quiet.enqueue_many(datas, pipeline=pipe)
        wake.push(pipe, len(checked))
        for (name, queue_name), n in Counter((task.name, task.queue) for _, task in checked).items():
            count_enqueued(pipe, name, queue_name, n)
        pipe.execute()
