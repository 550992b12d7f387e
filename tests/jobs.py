"""Tasks for the worker tests only. They join the registry through
EXTRA_TASK_MODULES=tests.jobs (set by the tests for the worker processes they start)."""

import os
import signal
import time

from rq import get_current_job

from worker.exceptions import PermanentTaskError
from worker.queues import get_connection
from worker.registry import registry, task

RECORD_KEY = "test:record"


def _record(queue: str) -> dict:
    job = get_current_job()
    get_connection().rpush(RECORD_KEY, f"{queue}:{job.id}:{job.worker_name}:{os.getpid()}")
    return {"queue": queue}


@task("test:record_critical", queue="critical", max_retries=0, timeout=10, purpose="test")
def record_critical() -> dict:
    return _record("critical")


@task("test:record_high", queue="high", max_retries=0, timeout=10, purpose="test")
def record_high() -> dict:
    return _record("high")


@task("test:record_default", queue="default", max_retries=0, timeout=10, purpose="test")
def record_default() -> dict:
    return _record("default")


@task("test:record_low", queue="low", max_retries=0, timeout=10, purpose="test")
def record_low() -> dict:
    return _record("low")


@task("test:sleep", queue="default", max_retries=0, timeout=30, purpose="test")
def sleep_then_count(seconds: float, key: str) -> dict:
    time.sleep(seconds)
    return {"count": get_connection().incr(key)}


@task("test:fail_always", queue="default", max_retries=3, timeout=10, purpose="test")
def fail_always(key: str) -> None:
    get_connection().rpush(key, repr(time.time()))
    raise RuntimeError("this task always fails")


@task("test:permanent", queue="default", max_retries=3, timeout=10, purpose="test")
def fail_permanently(key: str) -> None:
    get_connection().rpush(key, repr(time.time()))
    raise PermanentTaskError("order 123: status change completed -> pending is not allowed")


@task("test:too_slow", queue="default", max_retries=0, timeout=1, purpose="test")
def too_slow(key: str) -> None:
    get_connection().rpush(key, "started")
    time.sleep(10)
    get_connection().rpush(key, "finished")


@task("test:crash_once", queue="default", max_retries=2, timeout=10, purpose="test")
def crash_once(key: str) -> dict:
    """Kills its own process on the first attempt, as a segfault would."""
    if get_connection().incr(key) == 1:
        os.kill(os.getpid(), signal.SIGKILL)
    return {"attempts": int(get_connection().get(key))}


_leaked: list[bytearray] = []


@task("test:leak", queue="default", max_retries=0, timeout=10, purpose="test")
def leak(megabytes: int) -> dict:
    _leaked.append(bytearray(os.urandom(1024)) * (megabytes * 1024))
    job = get_current_job()
    get_connection().rpush(RECORD_KEY, f"leak:{job.id}:{job.worker_name}:{os.getpid()}")
    return {"held_mb": len(_leaked) * megabytes}


@task("test:db_backend", queue="default", max_retries=0, timeout=30, purpose="test")
def db_backend(key: str, parties: int) -> dict:
    """Records the database session this job's thread uses (PostgreSQL's backend pid),
    then waits, as ``test:rendezvous``, until ``parties`` workers have taken one."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    get_connection().rpush(f"{key}:backends", f"{backend}:{os.getpid()}")
    return rendezvous(key, parties)


@task("test:capped", queue="low", max_retries=0, timeout=30, purpose="test", max_concurrency=1)
def capped(key: str, seconds: float) -> dict:
    """Counts the jobs of this task running at once (``key``) and records the count
    each one saw when it started (``key``:seen), then works for ``seconds``."""
    connection = get_connection()
    connection.rpush(f"{key}:seen", connection.incr(key))
    try:
        time.sleep(seconds)
    finally:
        connection.decr(key)
    return {"worker": get_current_job().worker_name}


@task("test:noop", queue="default", max_retries=0, timeout=10, purpose="test")
def noop() -> None:
    """Does nothing: the worker's own cost per job."""


TEST_TASKS = [t.name for t in registry if t.name.startswith("test:")]


@task("test:slow_work", queue="default", max_retries=2, timeout=60, purpose="test")
def slow_work(seconds: float, key: str) -> dict:
    """Records each start, then works for a while: a job to kill mid-run."""
    get_connection().rpush(key, repr(time.time()))
    time.sleep(seconds)
    return {"starts": get_connection().llen(key)}


@task("test:stamp", queue="default", max_retries=0, timeout=10, purpose="test")
def stamp(key: str) -> None:
    get_connection().rpush(key, repr(time.time()))


@task("test:confirm_slowly", queue="default", max_retries=2, timeout=60, purpose="test")
def confirm_slowly(order_id: str, seconds: float, key: str) -> dict:
    """Confirms an order inside a transaction that stays open for ``seconds`` on the
    first attempt: a job to kill mid-transaction."""
    from django.db import transaction

    from orders.services import order_update_status

    attempt = get_connection().incr(key)
    with transaction.atomic():
        change = order_update_status(order_id=order_id, new_status="confirmed", note=f"attempt {attempt}")
        if attempt == 1:
            time.sleep(seconds)
    return {"changed": change.changed}


@task("test:confirm_too_slowly", queue="default", max_retries=1, timeout=1, purpose="test")
def confirm_too_slowly(order_id: str) -> None:
    """Writes, then overruns its 1 s timeout inside the same transaction."""
    from django.db import transaction

    from orders.services import order_update_status

    with transaction.atomic():
        order_update_status(order_id=order_id, new_status="confirmed", note="too slow")
        time.sleep(5)


@task("test:rendezvous", queue="default", max_retries=0, timeout=30, purpose="test")
def rendezvous(key: str, parties: int) -> dict:
    """Records its worker in the set ``key``, then holds until ``parties`` different
    workers have each taken one of these jobs: jobs that only that many workers, all
    taking work at once, can finish. Gives up (and fails) after 20 s."""
    connection = get_connection()
    connection.sadd(key, get_current_job().worker_name)
    deadline = time.monotonic() + 20
    while connection.scard(key) < parties:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {connection.scard(key)} of {parties} workers took a job")
        time.sleep(0.02)
    return {"workers": parties}


@task("test:flaky", queue="default", max_retries=2, timeout=10, purpose="test")
def flaky(key: str, failures: str = "0") -> dict:
    """Fails its first ``failures`` attempts (counted in Redis under ``key``), then
    succeeds. Arguments are strings, so rqenqueue's command line can give them."""
    attempt = get_connection().incr(key)
    if attempt <= int(failures):
        raise RuntimeError(f"attempt {attempt} of {key} fails on purpose")
    return {"attempts": attempt}
